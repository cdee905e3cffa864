"""Markdown a record or a user cannot inject into: hostile variant names and baseline labels
stay text on one line in summary.md and the comparison Markdown (both go to GITHUB_STEP_SUMMARY)."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np

from qpbench.compare.runs import compare_runs
from qpbench.compare.markdown import comparison_markdown
from qpbench.render.markdown import render_markdown
from qpbench.render.md_escape import escape
from qpbench.results import AccuracyResult, LatencyResult
from tests.records import make_record

HOSTILE = "evil\\|x|y\n## <img src=x onerror=alert(1)> [link](http://e) `code` *b*\r\n| row |"
UNESCAPED_PIPE = re.compile(r"(?<!\\)(?:\\\\)*\|")


def record(name: str, ms: float = 2.0):
    rng = np.random.default_rng(0)
    return make_record([
        LatencyResult("eager", 1, tuple(rng.normal(ms, 0.01, 40) * 1e-3)),
        LatencyResult(name, 1, tuple(rng.normal(ms / 2, 0.01, 40) * 1e-3)),
        AccuracyResult(name, 800, 0.95, 0.95, 0.05, 0.07, 0.7, 0.9),
    ])


def assert_inert(md: str, cells_per_row: int | None = None) -> None:
    assert "<img" not in md and "<" not in md.replace("&lt;", "")
    assert "](http" not in md.replace("\\](http", "")  # no live link
    assert not any(line.startswith("## <") or line == "| row |" for line in md.splitlines())
    for table in re.findall(r"(?m)(?:^\|.*\n?)+", md):
        counts = {len(UNESCAPED_PIPE.findall(line)) for line in table.splitlines()}
        assert len(counts) == 1, table  # every row of a table keeps its cells: no pipe breaks out
        if cells_per_row is not None:
            assert counts == {cells_per_row + 1}


def test_escape_keeps_any_text_on_one_line_as_text():
    out = escape(HOSTILE)
    assert "\n" not in out and "\r" not in out
    assert out.startswith("evil\\\\\\|x\\|y ")  # the backslash escaped first, so the pipe stays escaped
    assert "&lt;img src=x onerror=alert(1)&gt;" in out and "\\[link\\](http://e)" in out
    assert escape("plain-name 1.5 ms") == "plain-name 1.5 ms"


def test_summary_with_a_hostile_variant_name_and_baseline_label_stays_text():
    base, cur = record(HOSTILE, 2.0), record(HOSTILE, 2.6)
    comparison = replace(compare_runs(base, cur), baseline_label=HOSTILE, current_label=HOSTILE)
    md = render_markdown(replace(cur, comparison=comparison), report_path="results/<b>x|y</b>\n.html")
    assert_inert(md)
    assert "Full report: results/&lt;b&gt;x\\|y&lt;/b&gt; .html" in md


def test_comparison_markdown_with_a_hostile_variant_name_and_baseline_label_stays_text():
    base, cur = record(HOSTILE, 2.0), record(HOSTILE, 2.6)
    comparison = replace(compare_runs(base, cur), baseline_label=HOSTILE, current_label=HOSTILE)
    md = comparison_markdown(comparison, [f"FAIL gate {HOSTILE}", f"  - {HOSTILE}"])
    assert_inert(md, cells_per_row=8)
    assert md.splitlines()[0].startswith("## qpbench: evil\\\\\\|x\\|y ")


def test_a_clean_name_renders_unchanged():
    base, cur = record("fast", 2.0), record("fast", 2.6)
    md = comparison_markdown(compare_runs(base, cur))
    assert any(line.startswith("| fast | ") for line in md.splitlines())
    assert_inert(md, cells_per_row=8)
