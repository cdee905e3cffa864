"""Entry point of the serving worker for an ONNX Runtime or OpenVINO artifact, without torch.

The batch-1 figure of such a variant, its throughput, its LoadGen scenarios, its agreement with
the runtime's own tool and its head-to-head timing against another torch-free variant are made
here: a process that imports numpy and the runtime only (``qpbench.runtime.backends``, as a
deployment does). In the variant's build worker, torch's OpenMP threads spin after any parallel
region and take the vCPUs from the runtime's threads: on a 2-vCPU EPYC an OpenVINO int8 call
timed right after a torch op read 14.75 ms against 11.27 ms without it. Requests and replies
are the variant worker's (variant_worker.py); inputs come preprocessed from the parent
(preprocessing uses torch). Every answer checks that torch was never imported.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from qpbench.measure import startup, timed
from qpbench.measure.parent_watch import die_with_parent
from qpbench.measure.runtime_worker import check_no_torch, load_backend
from qpbench.schema.codec import dump as to_json


class BareVariant:
    """A runtime's backend with the variant's call signature: numpy in, (N,) numpy out."""

    def __init__(self, name: str, runtime: str, backend: Any) -> None:
        self.name = name
        self.runtime_name = runtime
        self.backend = backend

    def __call__(self, image: np.ndarray, params: np.ndarray) -> np.ndarray:
        return self.backend.run(image, params)

    @contextlib.contextmanager
    def runtime(self) -> Iterator[None]:
        yield  # the runtime's own thread pool, sized when the artifact was loaded


class BareServed:
    """A ``timed.Served`` over preprocessed arrays: batches are the first rows, as a torch
    worker's ``example_batch`` takes the first samples."""

    def __init__(self, variant: BareVariant, images: np.ndarray, params: np.ndarray) -> None:
        self.variant = variant
        self.images = np.ascontiguousarray(images, dtype=np.float32)
        self.params = np.ascontiguousarray(params, dtype=np.float32)
        self._batches: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    @property
    def n_samples(self) -> int:
        return len(self.images)

    def batch(self, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        if batch_size not in self._batches:
            rows = np.arange(batch_size) % self.n_samples
            self._batches[batch_size] = self.images[rows], self.params[rows]
        return self._batches[batch_size]

    def sample(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        return self.images[index:index + 1], self.params[index:index + 1]

    def cat(self, samples: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
        return np.concatenate([s[0] for s in samples]), np.concatenate([s[1] for s in samples])


def load_served(request: dict[str, Any]) -> BareServed:
    backend, _ = load_backend(request)
    with np.load(request["inputs"]) as data:
        images, params = data["image"], data["params"]
    return BareServed(BareVariant(request["variant"], request["runtime"], backend), images, params)


class BareWorker:
    """One torch-free variant (and, for a head-to-head, another) and the requests on it."""

    def __init__(self) -> None:
        self.served: BareServed | None = None
        self.others: dict[str, BareServed] = {}

    def handle(self, request: dict[str, Any]) -> Any:
        op = request.get("op")
        if op == "load":
            self.served = load_served(request)
            return {"served_by": f"{request['runtime']} without torch"}
        served = self.served
        if served is None:
            raise RuntimeError(f"request {op!r} before the artifact was loaded")
        try:
            return self._answer(op, served, request)
        finally:
            check_no_torch(served.variant.runtime_name)

    def _answer(self, op: str | None, served: BareServed, request: dict[str, Any]) -> Any:
        answer = BARE_REQUESTS.get(op)  # type: ignore[arg-type]
        if answer is None:
            raise ValueError(f"unknown request {op!r} for a torch-free worker")
        return answer(self, served, request)

    @staticmethod
    def tool_agreement(served: BareServed, harness: dict[str, float]) -> Any:
        from qpbench.measure.agreement import Harness, tool_agreement

        variant = served.variant
        image, params = served.batch(1)
        backend = variant.backend
        session = getattr(backend, "session", None)
        feeds = {"image": image, "params": params}
        bare = (lambda: session.run(None, feeds)) if session is not None else (lambda: backend.run(image, params))
        return tool_agreement(variant.name, variant.runtime_name, backend, getattr(backend, "path", None), bare,
                              tuple(image.shape), int(params.shape[1]), Harness.from_dict(harness))

    def head_to_head(self, served: BareServed, request: dict[str, Any]) -> Any:
        from qpbench.measure.head_to_head import head_to_head

        other = request["other"]
        if other["variant"] not in self.others:
            self.others[other["variant"]] = load_served({**other, "inputs": request["inputs"]})
        rival = self.others[other["variant"]].variant
        image, params = served.batch(1)
        return head_to_head(served.variant.name, lambda: served.variant(image, params), served.variant.runtime,
                            rival.name, lambda: rival(image, params), rival.runtime, request["profile"],
                            (served.variant.runtime_name, rival.runtime_name))


# The requests on a loaded artifact: name -> (worker, the artifact served, the request) -> a JSON answer.
BARE_REQUESTS: dict[str, Callable[[BareWorker, BareServed, dict[str, Any]], Any]] = {
    "latency": lambda w, served, r: to_json(timed.latency(served, r["profile"], r["batch_size"],
                                                            r.get("tail_targets_s", ()))),
    "throughput": lambda w, served, r: to_json(timed.throughput(served, r["profile"])),
    "loadgen": lambda w, served, r: [to_json(x) for x in timed.loadgen(served, r["profile"], r["log_dir"], r["bound_ms"],
                                                                       r.get("target_qps"))],
    "tool_agreement": lambda w, served, r: to_json(w.tool_agreement(served, r["harness"])),
    "head_to_head": lambda w, served, r: to_json(w.head_to_head(served, r)),
}


def main() -> int:
    from qpbench.measure.variant_worker import private_stdout, serve

    startup.mark("python")
    die_with_parent()
    answers = private_stdout()
    serve(sys.stdin, answers, BareWorker())
    return 0


if __name__ == "__main__":
    sys.exit(main())
