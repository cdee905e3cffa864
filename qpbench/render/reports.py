"""Writing the reports of a run record: report.html and summary.md, atomically.

The bench run calls :func:`write_reports` after it writes the JSON; ``qpbench
report`` calls it on a saved record. Both render the same ``RunRecord``, so a
re-render shows exactly what the run wrote.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from qpbench.record import RunRecord
from qpbench.files import write_text

STEP_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"

# Report formats and their file names; ``qpbench report`` writes all of them unless told.
REPORT_FORMATS: dict[str, str] = {"html": "report.html", "md": "summary.md"}


def write_reports(record: RunRecord | Mapping[str, Any], out_dir: str | Path, formats: tuple[str, ...] = tuple(REPORT_FORMATS),
                  source: str | None = None) -> dict[str, Path]:
    """Render every format first, then write each file atomically; {format: path}.

    Rendering before writing means a renderer that fails leaves no new file behind.
    """
    from qpbench.render.html import render_html
    from qpbench.render.markdown import render_markdown

    record = RunRecord.of(record)
    out = Path(out_dir)
    paths = {fmt: out / REPORT_FORMATS[fmt] for fmt in formats}
    texts: dict[str, str] = {}
    if "html" in formats:
        texts["html"] = render_html(record, source)
    if "md" in formats:
        texts["md"] = render_markdown(record, str(paths["html"]) if "html" in paths else None)
    return {fmt: write_text(texts[fmt], paths[fmt]) for fmt in formats}


def append_step_summary(markdown: str, environ: dict[str, str] | os._Environ = os.environ) -> Path | None:
    """Append to the CI job summary file named by GITHUB_STEP_SUMMARY, when set."""
    target = environ.get(STEP_SUMMARY_ENV)
    if not target:
        return None
    path = Path(target)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(markdown.rstrip("\n") + "\n\n")
    return path
