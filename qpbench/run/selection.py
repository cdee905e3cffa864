"""Which results and errors count for the verdict: those of the selected variants."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from qpbench.results import Result


def selected_results(infos: list[Result], records: list[Result], selected: Collection[str]) -> list[Result]:
    """Each variant's build info once (the first seen), then the measurements, of the selected variants only."""
    seen: set[str] = set()
    unique_infos = [i for i in infos if not (i.variant in seen or seen.add(i.variant))]
    return [r for r in [*unique_infos, *records] if r.variant in selected]


def selected_errors(errors: Mapping[str, list[str]], selected: Collection[str]) -> dict[str, list[str]]:
    return {variant: list(msgs) for variant, msgs in errors.items() if variant in selected}
