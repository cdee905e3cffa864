"""The requests a variant worker answers, from JSON to handlers and back.

The same ``Worker`` object serves a variant in a worker process (variant_worker.py)
and, for a builder no fresh process can import, in the test process (engine.py),
so both answer exactly alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qpbench.measure import handlers
from qpbench.measure.predictions import cached_predictions
from qpbench.schema.codec import dump as to_json
from qpbench.variants import Variant, VariantSpec
from qpbench.workload import Workload, WorkloadSpec, load_workload


def spec_from_dict(data: dict[str, Any]) -> VariantSpec:
    return VariantSpec(data["name"], data["description"], data["builder"], bool(data.get("quantized")))


def build_reply(variant: Variant) -> dict[str, Any]:
    return {"info": to_json(variant.info()), "rebuild_options": variant.rebuild_options()}


class Worker:
    """One variant's state and the requests on it."""

    def __init__(self) -> None:
        self.workload: Workload | None = None
        self.loaded: handlers.Loaded | None = None
        self.others: dict[str, Variant] = {}

    def adopt(self, workload: Workload, variant: Variant, cache: dict[str, Any] | None = None) -> dict[str, Any]:
        self.workload = workload
        self.loaded = handlers.Loaded(workload, variant, cache=cache)
        return build_reply(variant)

    def add_reference(self, spec: VariantSpec, options: dict[str, Any], calibration_batches: int) -> dict[str, Any]:
        """Rebuild the reference beside the variant (from its own build's options) for paired timing."""
        if self.loaded is None:
            raise RuntimeError("the reference is added to a built variant")
        self.loaded.reference = handlers.build(spec, self.loaded.workload, options, 1, calibration_batches, None)
        return {}

    def other(self, other: dict[str, Any]) -> Variant:
        """Another variant rebuilt beside this one from its own build's options (a head-to-head)."""
        assert self.loaded is not None
        name = other["spec"]["name"]
        if name not in self.others:
            self.others[name] = handlers.build(spec_from_dict(other["spec"]), self.loaded.workload, other["options"], 1,
                                               other["calibration_batches"], None)
        return self.others[name]

    def handle(self, request: dict[str, Any]) -> Any:
        op = request.get("op")
        if op == "build":
            workload = load_workload(WorkloadSpec.from_dict(request["workload"]))
            variant = handlers.build(spec_from_dict(request["spec"]), workload, request.get("options"),
                                     request["sweep_rounds"], request["calibration_batches"], request.get("artifact_dir"),
                                     request.get("cache"))
            return self.adopt(workload, variant, request.get("cache"))
        answer = REQUESTS.get(op)  # type: ignore[arg-type]
        if answer is None:
            raise ValueError(f"unknown request {op!r}")
        if self.loaded is None:
            raise RuntimeError(f"request {op!r} before the variant was built")
        return answer(self, self.loaded, request)


# The requests on a built variant: name -> (worker, its variant, the request) -> a JSON answer.
REQUESTS: dict[str, Callable[[Worker, handlers.Loaded, dict[str, Any]], Any]] = {
    "reference": lambda w, loaded, r: w.add_reference(spec_from_dict(r["spec"]), r["options"], r["calibration_batches"]),
    "latency": lambda w, loaded, r: to_json(handlers.latency(loaded, r["profile"], r["batch_size"],
                                                             r.get("tail_targets_s", ()))),
    "paired": lambda w, loaded, r: to_json(handlers.paired(loaded, r["profile"])),
    "save_inputs": lambda w, loaded, r: handlers.save_inputs(loaded, r["path"], r["n"]),
    "head_to_head": lambda w, loaded, r: to_json(handlers.head_to_head(loaded, r["profile"], w.other(r["other"]))),
    "probe": lambda w, loaded, r: to_json(handlers.probe(loaded, r["profile"])),
    "throughput": lambda w, loaded, r: to_json(handlers.throughput(loaded, r["profile"])),
    "predict": lambda w, loaded, r: cached_predictions(loaded, r.get("eval_images"), r.get("start"), r.get("stop")),
    "kernels": lambda w, loaded, r: to_json(handlers.kernels(loaded)),
    "tool_agreement": lambda w, loaded, r: to_json(handlers.tool_agreement(loaded, r["harness"])),
    "loadgen": lambda w, loaded, r: [to_json(x) for x in handlers.loadgen(loaded, r["profile"], r["log_dir"],
                                                                          r["bound_ms"], r.get("target_qps"))],
}
