"""Where the run's measurements run: one variant worker per variant (see docs/engine.md).

The test process asks ``Engine.variant(name)`` for a ``MeasuredVariant`` and sends it
requests (latency, paired, throughput, predict, loadgen). The first request starts
a ``variant_worker`` process that builds the variant; a request that kills the worker
raises ``WorkerFailed`` for that measurement only, and the next request starts a new
worker that rebuilds the variant from the first build's report (nothing is re-swept).
A build that kills its worker, raises or finds the technique unavailable is
remembered: every later request of that variant raises the same error at once.
"""

from __future__ import annotations

import tempfile
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qpbench.config import Profile
from qpbench.measure.defaults import MEASURE
from qpbench.errors import VariantError, VariantUnavailable
from qpbench.measure.bare_worker import BARE_REQUESTS
from qpbench.measure.isolation import NotApplicable, RequestFailed, ServingWorker, WorkerFailed
from qpbench.results import Result, VariantInfo
from qpbench.schema.codec import load
from qpbench.runtime.backends import TORCH_FREE
from qpbench.variants import VariantRegistry, VariantSpec
from qpbench.variants.artifacts import run_artifact_dir
from qpbench.workload import Workload

if TYPE_CHECKING:
    from qpbench.measure.worker_requests import Worker

WORKER_MODULE = "qpbench.measure.variant_worker"
BARE_MODULE = "qpbench.measure.bare_worker"
# What a torch-free variant (ONNX Runtime, OpenVINO) answers in a worker without torch
# (bare_worker.py): every timing whose figure the verdict reads, and the tool's check of it.
BARE_OPS = frozenset(BARE_REQUESTS)


@dataclass(frozen=True)
class EngineSettings:
    profile: Profile
    artifact_root: Path | None  # the run's artifacts go into a new directory under it (variants/artifacts.py)
    reference: str
    build_cache: Path | None = None  # where first builds are cached across runs (variants/build_cache.py); None: off
    rebuild: bool = False  # ignore cached builds (this run's replace them)


def spec_dict(spec: VariantSpec) -> dict[str, Any]:
    return {"name": spec.name, "description": spec.description, "builder": spec.builder_path,
            "quantized": spec.quantized}


class MeasuredVariant:
    """One variant as the engine measures it: built (once) in a worker, then asked for measurements."""

    def __init__(self, engine: Engine, spec: VariantSpec) -> None:
        self.engine = engine
        self.spec = spec
        self.name = spec.name
        self.isolated = spec.builder_path is not None  # else measured in this process, by the same code
        self.built: dict[str, Any] | None = None
        self.failure: Exception | None = None
        self._worker: ServingWorker | Worker | None = None
        self._has_reference = False
        self._bare: ServingWorker | None = None  # the torch-free worker, for a runtime variant
        self._inputs: tempfile.TemporaryDirectory | None = None  # its preprocessed inputs

    # Building -----------------------------------------------------------------

    @property
    def rebuild_options(self) -> dict[str, Any]:
        """What rebuilds this variant as built (for one-shot workers and the reference)."""
        if self.built is None:
            self.ensure()
        assert self.built is not None
        return dict(self.built["rebuild_options"])

    @property
    def threads(self) -> int | None:
        return self.rebuild_options.get("threads")

    @property
    def torch_free(self) -> bool:
        """Served by ONNX Runtime or OpenVINO: its timings run in a process without torch."""
        return self.isolated and self.rebuild_options.get("runtime") in TORCH_FREE

    def ensure(self) -> None:
        """A live worker with the variant built; raises the build's error (every time) if it failed."""
        if self.failure is not None:
            raise self.failure
        if self._worker is not None and (not isinstance(self._worker, ServingWorker) or self._worker.alive):
            return
        self.engine.make_room(self)
        started = time.monotonic()
        try:
            reply = self._start()
        except Exception as exc:
            self.failure = self._build_failed(exc)
            self.close()
            raise self.failure from None
        finally:
            self.engine.build_s += time.monotonic() - started
        if self.built is None:
            self.built = reply
            self.engine.record(load(Result, reply["info"]))
            if ((reply["info"].get("meta") or {}).get("build_cache") or {}).get("hit"):
                self.engine.cached.add(self.name)

    def _start(self) -> dict[str, Any]:
        options = self.built["rebuild_options"] if self.built else None
        settings = self.engine.settings
        artifact_dir = None if options else _text(self.engine.artifact_dir())  # a rebuild loads what was built
        if not self.isolated:  # in this process: torch comes in here, not when the plugin loads
            from qpbench.measure import handlers
            from qpbench.measure.worker_requests import Worker

            self._worker = Worker()
            variant = handlers.build(self.spec, self.engine.workload(), options, settings.profile.sweep_rounds,
                                     settings.profile.calibration_batches, artifact_dir)
            return self._worker.adopt(self.engine.workload(), variant)
        self._worker = ServingWorker(WORKER_MODULE, self.name)
        self._has_reference = False
        return self._worker.request({
            "op": "build", "workload": self.engine.workload().spec.to_dict(), "spec": spec_dict(self.spec),
            "options": options, "sweep_rounds": settings.profile.sweep_rounds,
            "calibration_batches": settings.profile.calibration_batches,
            "artifact_dir": artifact_dir,
            "cache": {"root": str(settings.build_cache), "rebuild": settings.rebuild} if settings.build_cache else None,
        }, "build", settings.profile.worker_timeout_s)

    def _build_failed(self, exc: Exception) -> Exception:
        """The error every test of this variant raises, with the build's record made once."""
        if isinstance(exc, VariantUnavailable) or getattr(exc, "error_type", None) == "VariantUnavailable":
            reason = getattr(exc, "message", str(exc))
            self.engine.record(VariantInfo(self.name, self.spec.description, 0.0, None, skipped=reason))
            return VariantUnavailable(reason)
        if isinstance(exc, WorkerFailed):
            reason = f"build worker {exc.failure.reason}"
            self.engine.record(VariantInfo(self.name, self.spec.description, 0.0, None, error=reason))
            self.engine.record(exc.failure)
            return VariantError(f"variant {self.name!r} could not be built: {reason}")
        error = str(exc) if isinstance(exc, RequestFailed) else f"{type(exc).__name__}: {exc}"
        self.engine.record(VariantInfo(self.name, self.spec.description, 0.0, None, error=error))
        return VariantError(f"variant {self.name!r} could not be built: {error}")

    def _ensure_reference(self) -> None:
        if self._has_reference:
            return
        ref = self.engine.variant(self.engine.settings.reference)
        options = ref.rebuild_options  # the reference's own build, done (or failed) first
        batches = self.engine.settings.profile.calibration_batches
        started = time.monotonic()
        # In this process (a Worker, not a ServingWorker): the spec's builder may be a callable.
        if self._worker is not None and not isinstance(self._worker, ServingWorker):
            self._worker.add_reference(ref.spec, options, batches)
        else:
            self._call({"op": "reference", "spec": spec_dict(ref.spec), "options": options,
                        "calibration_batches": batches}, "build", self.engine.settings.profile.worker_timeout_s)
        self.engine.build_s += time.monotonic() - started
        self._has_reference = True

    # Measuring ----------------------------------------------------------------

    def request(self, op: str, measurement: str | None = None, **fields: Any) -> Any:
        """The answer to one measurement request; ``WorkerFailed`` if it killed the worker (which is
        then replaced on the next request), ``MeasurementError`` if the worker reported an error."""
        self.ensure()
        if op == "paired":
            self._ensure_reference()
        timeout_s = self.engine.settings.profile.worker_timeout_s
        request = {"op": op, "profile": dict(vars(self.engine.settings.profile)), **fields}
        if op == "head_to_head":
            request["other"] = self._other(fields["other"])
            if not (self.torch_free and request["other"].get("runtime")):
                return self._call(request, measurement or op, timeout_s)
        if op in BARE_OPS and self.torch_free:
            self._ensure_bare()
            return self._call(request, measurement or op, timeout_s, bare=True)
        return self._call(request, measurement or op, timeout_s)

    def _other(self, name: str) -> dict[str, Any]:
        """What rebuilds another variant beside this one: its spec and its build's options (torch),
        or its runtime and artifact (a torch-free worker loads it)."""
        other = self.engine.variant(name)
        options = other.rebuild_options  # its own build, done (or failed) first
        if self.torch_free and other.torch_free:
            return {"variant": name, "runtime": options["runtime"], "options": options}
        return {"spec": spec_dict(other.spec), "options": options,
                "calibration_batches": self.engine.settings.profile.calibration_batches}

    def _ensure_bare(self) -> None:
        """A live torch-free worker with the artifact loaded, on inputs the variant worker
        preprocessed (preprocessing uses torch; this process never imports it)."""
        if self._bare is not None and self._bare.alive:
            return
        if self._inputs is None:
            self._inputs = tempfile.TemporaryDirectory(prefix="qpbench-inputs-")
            profile = self.engine.settings.profile
            needed = max(MEASURE.loadgen_max_samples, profile.throughput_batch, *profile.batch_sizes)
            self._call({"op": "save_inputs", "path": str(Path(self._inputs.name) / "inputs.npz"), "n": needed},
                       "build", profile.worker_timeout_s)
        options = self.rebuild_options
        self._bare = ServingWorker(BARE_MODULE, self.name)
        self._call({"op": "load", "variant": self.name, "runtime": options["runtime"], "options": options,
                    "inputs": str(Path(self._inputs.name) / "inputs.npz")}, "build",
                   self.engine.settings.profile.worker_timeout_s, bare=True)

    def _call(self, request: dict[str, Any], measurement: str, timeout_s: float, bare: bool = False) -> Any:
        worker = self._bare if bare else self._worker
        if worker is not None and not isinstance(worker, ServingWorker):  # in this process: exceptions propagate
            return worker.handle(request)
        assert worker is not None
        try:
            if bare and request["op"] != "load":
                request = {**request, "inputs": str(Path(self._inputs.name) / "inputs.npz")} if self._inputs else request
            return worker.request(request, measurement, timeout_s)
        except WorkerFailed:
            if bare:
                self._bare = None
            else:
                self._worker = None  # dead: the next request starts another
            raise
        except RequestFailed as exc:
            if exc.error_type == "CheckFailed":
                raise AssertionError(exc.message) from None
            if exc.error_type == "NotApplicable":
                raise NotApplicable(exc.message) from None
            raise

    def results(self, op: str, measurement: str | None = None, **fields: Any) -> list[Result]:
        answer = self.request(op, measurement, **fields)
        return [load(Result, r) for r in (answer if isinstance(answer, list) else [answer])]

    def close(self) -> None:
        if isinstance(self._worker, ServingWorker):
            self._worker.close()
        if self._bare is not None:
            self._bare.close()
        if self._inputs is not None:
            self._inputs.cleanup()
        self._worker = self._bare = self._inputs = None
        self._has_reference = False


class Engine:
    """The run's variant workers; at most ``live`` at once (the least recently used is stopped)."""

    def __init__(self, registry: VariantRegistry, workload: Callable[[], Workload], settings: EngineSettings,
                 record: Callable[[Result], None], live: int = MEASURE.live_variant_workers) -> None:
        self.registry = registry
        self.workload = workload
        self.settings = settings
        self.record = record
        self.live = live
        self._variants: OrderedDict[str, MeasuredVariant] = OrderedDict()
        self._artifact_dir: Path | None = None
        self.build_s = 0.0  # seconds spent building variants (and references) in workers, all told
        self.cached: set[str] = set()  # the variants whose first build came from the build cache

    def artifact_dir(self) -> Path | None:
        """This run's own artifact directory, made at the first build."""
        if self._artifact_dir is None and self.settings.artifact_root is not None:
            self._artifact_dir = run_artifact_dir(self.settings.artifact_root)
        return self._artifact_dir

    def variant(self, name: str) -> MeasuredVariant:
        if name not in self._variants:
            self._variants[name] = MeasuredVariant(self, self.registry.get(name))
        self._variants.move_to_end(name)
        return self._variants[name]

    def make_room(self, starting: MeasuredVariant) -> None:
        """Stop the least recently used workers so that ``starting`` makes at most ``live``."""
        running = [v for v in self._variants.values() if v is not starting and v._worker is not None]
        for v in running[: max(0, len(running) - self.live + 1)]:
            v.close()

    def from_cache(self, name: str) -> bool:
        return name in self.cached

    def close(self) -> None:
        for v in self._variants.values():
            v.close()


def live_workers(variants: int, available_mb: float) -> int:
    """How many variant workers may stay alive: every variant's and the reference's, so none is
    restarted between the screen and the measurements after it, as far as half the available
    memory holds them (``MEASURE.variant_worker_mb`` each); never fewer than
    ``MEASURE.live_variant_workers``."""
    fit = int(0.5 * available_mb // MEASURE.variant_worker_mb)
    return max(MEASURE.live_variant_workers, min(variants + 1, fit))


def _text(path: Path | None) -> str | None:
    return None if path is None else str(path)
