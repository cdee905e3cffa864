"""Runs across several hosts (pytest-xdist ``--dist each`` over execnet gateways):
each host's records and fingerprint kept apart, one verdict per host, and one
combined readiness matrix (variant x host).

``pytest bench/ --dist each --tx ssh=user@hostA//id=hostA --tx ssh=user@hostB//id=hostB``
runs the whole suite on every host; the gateway id names the host.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from qpbench.verdict import scoring
from qpbench.config import ScoringConfig
from qpbench.record import HostRun
from qpbench.results import Result
from qpbench.verdict import Verdict
from qpbench.run.selection import selected_errors, selected_results
from qpbench.run.xdist import WorkerPayload


@dataclass
class HostRecords:
    host: str
    fingerprint: dict[str, Any] | None = None
    results: list[Result] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def add(self, payload: WorkerPayload) -> None:
        self.fingerprint = payload.fingerprint
        self.results += payload.records
        for variant, msgs in payload.errors.items():
            self.errors[variant].extend(msgs)


def score_hosts(hosts: dict[str, HostRecords], selected: tuple[str, ...], config: ScoringConfig,
                reference: str) -> dict[str, HostRun]:
    """One verdict per host, by host id."""
    scored: dict[str, HostRun] = {}
    for host in sorted(hosts):
        records = hosts[host]
        infos = [r for r in records.results if r.kind == "variant"]
        results = selected_results(infos, [r for r in records.results if r.kind != "variant"], selected)
        errors = selected_errors(records.errors, selected)
        scored[host] = HostRun(records.fingerprint, tuple(results), errors,
                               scoring.score(results, config, reference, errors))
    return scored


def host_key(config: Any, node: Any) -> str | None:
    """A worker's host under ``--dist each`` (its gateway id); None when workers share out one suite."""
    if getattr(config.option, "dist", "no") != "each":
        return None
    workerinput = getattr(node, "workerinput", None) or {}
    return str(workerinput.get("workerid") or getattr(getattr(node, "gateway", None), "id", "host"))


def readiness_matrix(verdicts: dict[str, Verdict]) -> dict[str, Any]:
    """{hosts, variants, cells: {variant: {host: {ready, score} | None}}, ready_everywhere: {variant: bool}}."""
    hosts = list(verdicts)
    variants = list(dict.fromkeys(v.variant for verdict in verdicts.values() for v in verdict.variants))
    cells: dict[str, dict[str, Any]] = {}
    for name in variants:
        cells[name] = {}
        for host, verdict in verdicts.items():
            vv = next((v for v in verdict.variants if v.variant == name), None)
            cells[name][host] = None if vv is None else {"ready": vv.ready, "score": vv.score}
    everywhere = {n: all(c is not None and c["ready"] for c in cells[n].values()) for n in variants}
    return {"hosts": hosts, "variants": variants, "cells": cells, "ready_everywhere": everywhere,
            "recommended": {h: v.recommended for h, v in verdicts.items()}}


def matrix_lines(matrix: dict[str, Any]) -> list[str]:
    hosts = matrix["hosts"]
    header = ["variant", *hosts, "all hosts"]
    rows = [header]
    for name in matrix["variants"]:
        row = [name]
        for host in hosts:
            cell = matrix["cells"][name][host]
            row.append("-" if cell is None else f"{'ready' if cell['ready'] else 'no'} {cell['score']:.0f}")
        row.append("ready" if matrix["ready_everywhere"][name] else "no")
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["readiness by host (ready/no and score):"]
    lines += ["  ".join(x.ljust(w) for x, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(2, "  ".join("-" * w for w in widths))
    lines.append("recommended per host: " + ", ".join(f"{h}: {r or 'none'}" for h, r in matrix["recommended"].items()))
    return lines
