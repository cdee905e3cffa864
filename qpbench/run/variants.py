"""The run's variants: the registry (the built-in builders and the user's
``pytest_qpbench_register_variants``), the cache of variants built in this process, the engine of
worker processes where they are measured (docs/engine.md), and the workload they are built from.
Each is made when first needed, from the run's settings as they are then (the plan scales the
profile before the first measurement)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from qpbench.errors import WorkloadError
from qpbench.measure.engine import Engine, EngineSettings, live_workers
from qpbench.results import Result, VariantInfo
from qpbench.variants import REFERENCE, Variant, VariantCache, VariantRegistry
from qpbench.variants.build_cache import build_cache_dir
from qpbench.workload import Workload, load_workload, resolve_spec


class RunVariants:
    def __init__(self, settings: Callable[[], Any], register: Callable[[VariantRegistry], None],
                 record: Callable[[Result], None]) -> None:
        self._settings = settings
        self._register = register
        self._record = record
        self.loaded: Workload | None = None  # the workload, once loaded or adopted
        self._registry: VariantRegistry | None = None
        self._cache: VariantCache | None = None
        self._engine: Engine | None = None

    @property
    def registry(self) -> VariantRegistry:
        if self._registry is None:
            self._registry = VariantRegistry()
            self._register(self._registry)
        return self._registry

    @property
    def cache(self) -> VariantCache:
        if self._cache is None:
            s = self._settings()
            self._cache = VariantCache(self.registry, self.workload, s.profile.sweep_rounds,
                                       artifact_dir=Path(s.results_dir) / "artifacts",
                                       calibration_batches=s.profile.calibration_batches)
        return self._cache

    @property
    def engine(self) -> Engine:
        """Where the measurements run: a worker process per variant."""
        if self._engine is None:
            s = self._settings()
            live = live_workers(len(self.selected()), psutil.virtual_memory().available / 2**20)
            self._engine = Engine(self.registry, self.workload, EngineSettings(
                s.profile, Path(s.results_dir) / "artifacts", REFERENCE,
                build_cache=build_cache_dir(s.build_cache), rebuild=s.rebuild), self._record, live)
        return self._engine

    def get(self, name: str) -> Variant:
        """The variant built in this process (the ``qp_variant`` fixture's)."""
        return self.cache.get(name)

    def close(self) -> None:
        """Stop the worker processes."""
        if self._engine is not None:
            self._engine.close()

    def build_s(self) -> float:
        """Seconds spent building variants so far (the engine times its builds)."""
        return self._engine.build_s if self._engine is not None else 0.0

    def from_cache(self, name: str) -> bool:
        return self._engine is not None and self._engine.from_cache(name)

    def infos(self) -> list[VariantInfo]:
        """What the cache knows of the variants built in this process."""
        return self._cache.infos() if self._cache else []

    def workload(self) -> Workload:
        if self.loaded is None:
            self.loaded = load_workload(resolve_spec(self._settings().workload))
        return self.loaded

    def use_workload(self, workload: Workload) -> None:
        """Adopt the workload a (possibly overridden) ``qp_workload`` fixture returned."""
        if not isinstance(workload, Workload):
            raise WorkloadError(f"the qp_workload fixture returned {type(workload).__name__}, not a qpbench Workload")
        self.loaded = workload

    def selected(self) -> tuple[str, ...]:
        """The selected names, with 'all' expanded to every registered variant."""
        names: list[str] = []
        for name in self._settings().variants:
            names += self.registry.names() if name == "all" else [name]
        return tuple(dict.fromkeys(names))
