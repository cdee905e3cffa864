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
from qpbench.render.terminal import table
from qpbench.results import VariantInfo
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
    saved = RunRecord.from_dict(json.loads(json.dumps(live.to_dict(), allow_nan=False)))  # as the file holds it
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
    data = record.to_dict()
    assert RunRecord.from_dict(data).to_dict() == data
