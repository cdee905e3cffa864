"""The HTML report: a Jinja2 template with autoescaping, figures embedded as base64 PNG.

One self-contained file (no scripts, no network): status, targets, the
per-variant table, critical issues, recommendations, quantization verdicts and
figures, all read from the saved run record.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from qpbench.record import RunRecord
from qpbench.render import view

TEMPLATE = "report.html.j2"


@functools.cache
def environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("qpbench.render", "templates"),
        autoescape=True,  # every value from the record is text, never markup
        undefined=jinja2.StrictUndefined,  # a template typo fails loudly, not as an empty cell
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(record: RunRecord | Mapping[str, Any], source: str | None = None, plots: bool = True) -> str:
    """The report for ``record``; ``source`` names its file."""
    from qpbench.render.plots import all_plots

    record = RunRecord.of(record)
    rows = view.variant_rows(record.verdict)
    targets = view.target_rows(record.verdict)
    return environment().get_template(TEMPLATE).render(
        record=record,
        verdict=record.verdict,
        status=view.status(record),
        targets=targets,
        headers=[t.short for t in targets],
        rows=rows,
        any_reasons=any(row.reasons for row in rows),
        quantization=view.quantization_rows(record.verdict),
        plan=view.plan_rows(record.verdict),
        score_basis=view.score_basis_line(record.verdict),
        accuracy_samples=view.accuracy_samples_line(record.verdict),
        machine=view.machine_line(record),
        workload=view.workload_line(record),
        plots=all_plots(record) if plots else [],
        source=source,
    )
