"""One view model: the terminal summary, the HTML report and the Markdown summary show the
same cells, digit for digit, for a verdict scored in the run and the same verdict read back
from its JSON."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

from qpbench.record import RunRecord
from qpbench.render.html import render_html
from qpbench.render.markdown import MARK, render_markdown
from qpbench.render import view
from qpbench.render.terminal import summary_lines, table
from qpbench.results import VariantInfo
from qpbench.schema.codec import dump
from tests.records import make_record
from tests.test_scoring import results_for


def realish_record() -> RunRecord:
    """Three variants: one meets every target, one is fast, one misses hard gates with an undefined Pearson."""
    results = [
        *results_for("eager", p95_ms=20.0, rss=480.5),
        *results_for("fast", p95_ms=7.345, ips=151.25, rss=333.33, pearson=0.9512, loss=0.00049),
        *results_for("broken", p95_ms=123.456, ips=12.5, rss=1024.75, pearson=float("nan"), loss=-0.0001),
        VariantInfo("eager", "fp32", 0.1, 4_200_000),
        VariantInfo("fast", "smaller", 0.2, 1_234_567),
        VariantInfo("broken", "broken", 0.3, None),
    ]
    return make_record(results)


def terminal_cells(record: RunRecord) -> dict[str, list[str]]:
    rows = table(record.verdict)[3:]  # header, rule, target row
    out = {}
    for line in rows:
        cols = re.split(r"\s{2,}", line)
        name, cells = cols[0], cols[1:-1]  # the last column is ready yes/no
        out[name] = [c.split(" ")[0] for c in cells]
    return out


def html_cells(html: str) -> dict[str, list[str]]:
    class Rows(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.rows: list[list[str]] = []
            self.cell: list[str] | None = None
            self.in_row = False

        def handle_starttag(self, tag, attrs):
            if tag == "tr":
                self.in_row = "variant" in (dict(attrs).get("class") or "").split()
                if self.in_row:
                    self.rows.append([])
            elif tag == "td" and self.in_row:
                self.cell = []

        def handle_endtag(self, tag):
            if tag == "td" and self.in_row and self.cell is not None:
                self.rows[-1].append("".join(self.cell).strip())
                self.cell = None

        def handle_data(self, data):
            if self.cell is not None:
                self.cell.append(data)

    parser = Rows()
    parser.feed(html)
    return {row[0].rstrip(" \u2605"): row[1:13] for row in parser.rows}  # criteria, speed-up, MB, score


def markdown_cells(md: str) -> dict[str, list[str]]:
    out = {}
    for line in md.splitlines():
        if not line.startswith("| ") or line.startswith(("| variant", "| ---", "| *target*")):
            continue
        cols = line.strip("| ").split(" | ")
        cells = cols[1:-1]
        for mark in MARK.values():
            if mark:
                cells = [c.removesuffix(mark) for c in cells]
        out[cols[0].strip("*")] = cells
    return out


def test_terminal_html_and_markdown_show_the_same_variant_cells():
    live = realish_record()
    saved = RunRecord.of(json.loads(json.dumps(dump(live), allow_nan=False)))  # as the file holds it
    term = terminal_cells(live)  # the terminal prints the verdict scored in the run
    html = html_cells(render_html(saved, plots=False))
    md = markdown_cells(render_markdown(saved))
    assert set(term) == {"eager", "fast", "broken"}
    assert term == html == md
    assert term == terminal_cells(saved)
    fast = term["fast"]
    assert fast[:5] == ["7.3", "151.2", "333.3", "0.951", "0.000"] and fast[-3:] == ["2.72x", "1.2", "100"]
    assert term["broken"][3] == "-"  # an undefined Pearson reads "-" everywhere


def test_a_record_round_trips_through_its_json():
    record = realish_record()
    data = dump(record)
    assert dump(RunRecord.of(data)) == data


def plan_record(optimized_ms: float, dynamic_size: int, fx_size: int) -> RunRecord:
    results = [
        *results_for("eager", p95_ms=60.0, ips=15.0, rss=900.0),
        *results_for("optimized", p95_ms=optimized_ms, ips=17.0, rss=900.0),
        *results_for("dynamic-int8", p95_ms=60.0, ips=15.0, rss=880.0),
        *results_for("fx-int8", p95_ms=12.0, ips=80.0, rss=450.0),
        VariantInfo("eager", "fp32", 0.1, 98_900_000),
        VariantInfo("optimized", "tuned", 0.1, 98_600_000),
        VariantInfo("dynamic-int8", "dyn", 0.1, dynamic_size, meta={"quantized": True}),
        VariantInfo("fx-int8", "static", 0.1, fx_size, meta={"quantized": True}),
    ]
    return make_record(results)


def test_the_plans_criteria_are_named_with_the_variants_that_meet_them_in_every_report():
    record = plan_record(optimized_ms=52.0, dynamic_size=95_500_000, fx_size=25_200_000)
    rows = {r.criterion.split(" ")[0]: r for r in view.plan_rows(record.verdict)}
    assert rows["batch-1"].state == "met" and rows["batch-1"].detail.startswith("by fx-int8")
    assert rows["peak"].state == "met" and "fx-int8" in rows["peak"].detail
    size = next(r for r in view.plan_rows(record.verdict) if r.criterion.startswith("model > 2x"))
    assert size.state == "met" and "fx-int8 3.9x" in size.detail
    assert "dynamic-int8 1.04x: dynamic int8 quantizes Linear layers only" in size.detail
    tuning = next(r for r in view.plan_rows(record.verdict) if r.criterion.startswith("CPU tuning"))
    assert tuning.state == "missed" and "optimized 1.15x" in tuning.detail
    terminal = "\n".join(summary_lines(record.verdict, None))
    assert "the plan's success criteria:" in terminal and "MISSED       CPU tuning alone > 20% faster" in terminal
    assert "### The plan's success criteria" in render_markdown(record)
    assert 'id="plan"' in render_html(record, plots=False) and "CPU tuning alone" in render_html(record, plots=False)


def test_a_plan_criterion_nobody_meets_is_missed_with_the_best_figure():
    record = plan_record(optimized_ms=40.0, dynamic_size=95_500_000, fx_size=60_000_000)
    rows = view.plan_rows(record.verdict)
    size = next(r for r in rows if r.criterion.startswith("model > 2x"))
    assert size.state == "missed" and "dynamic-int8 1.04x" in size.detail
    tuning = next(r for r in rows if r.criterion.startswith("CPU tuning"))
    assert tuning.state == "met" and tuning.detail == "optimized 1.50x eager at batch 1"
