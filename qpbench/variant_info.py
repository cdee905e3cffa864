"""How a variant was built: the one result record the builders make.

Apart from ``qpbench.results`` on purpose: the build cache keys a build by the code it reaches
(``variants/code_digest.py``), and the builders reach this module, not the other result records,
so a change to how a stress run or a latency is recorded leaves every build cached.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar

from typing_extensions import TypedDict  # typing's lacks what pydantic reads on Python < 3.12

from qpbench.schema.shape import Matching, Written


# The fp32 variant every other is compared with (speed ratios, fidelity, the quantization rule).
REFERENCE = "eager"


class ArtifactFile(TypedDict, closed=True):
    """A file a build wrote: what ``qpbench package`` checks before packaging it."""

    sha256: Annotated[str, Matching("^[0-9a-f]{64}$")]
    bytes: int


@dataclass(frozen=True)
class VariantInfo(Written):
    """How a variant was built (or why it could not be)."""

    kind: ClassVar[str] = "variant"
    variant: str
    description: str
    build_time_s: float
    artifact_bytes: int | None  # size of the serialized artifact on disk
    meta: dict[str, Any] = field(default_factory=dict)
    error: str | None = None  # the builder crashed: a critical issue
    skipped: str | None = None  # the technique does not apply here: recorded, not an issue
    # Every file the build wrote (and the artifact meta names): absolute path -> {"sha256", "bytes"}.
    artifact_files: dict[str, ArtifactFile] = field(default_factory=dict)
