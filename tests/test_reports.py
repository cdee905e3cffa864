"""Reports: the run record's JSON Schema, the HTML and Markdown renderers, plots, `qpbench report`.

One real run of the bench suite on the tiny model (in a fresh interpreter,
once per test session) gives the record most tests render.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from dataclasses import MISSING, fields
from pathlib import Path

import pytest

from qpbench.cli import main as cli_main
from qpbench.errors import RecordError
from qpbench.render import plots
from qpbench.render.html import render_html
from qpbench.render.markdown import render_markdown
from qpbench.record import RunRecord, check_record, schema, validation_errors
from qpbench.results import RESULT_TYPES, HeadToHeadResult, WorkerFailure
from qpbench.schema.codec import dump

REPO = Path(__file__).resolve().parent.parent
TINY = ["--qp-model-factory=tinymodel:build", "--qp-checkpoint=tiny.pt", "--qp-dataset=tiny.npz",
        "--qp-input-size=16", "--qp-profile=quick", "--qp-variants=eager,optimized", "-p", "no:cacheprovider",
        # every measurement of both variants: the reports and the schema are checked on all of them
        "--qp-long-run=all",
        # timing targets no loaded machine misses: the reports are checked READY whatever the load
        "--qp-target=latency_p95_ms=100000", "--qp-target=throughput_ips=0.001", "--qp-target=server_p99_ms=100000"]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, tiny_files: dict[str, Path]) -> dict:
    """`pytest bench/` on the tiny model with a report dir and a CI job summary file set."""
    root = tmp_path_factory.mktemp("tiny_run")
    for src in (REPO / "bench").glob("test_*.py"):
        shutil.copy(src, root / src.name)
    for path in tiny_files.values():
        shutil.copy(path, root / path.name)
    summary = root / "step_summary.md"
    summary.write_text("earlier step\n")
    env = {**os.environ, "GITHUB_STEP_SUMMARY": str(summary), "PYTHONPATH": os.pathsep.join([str(root), str(REPO)])}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", *TINY, f"--rootdir={root}", "--qp-report-dir=reports", "-q", "-rs"],
        cwd=root, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {"root": root, "stdout": proc.stdout, "skips": proc.stdout.partition("short test summary info")[2],
            "summary": summary,
            "record": json.loads((root / "results" / "latest.json").read_text())}


@pytest.fixture
def record(tiny_run: dict) -> dict:
    return copy.deepcopy(tiny_run["record"])


# -- the schema ---------------------------------------------------------------------


def test_the_schema_is_a_valid_draft_2020_12_schema():
    import jsonschema

    assert schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema())


def result_kinds() -> dict[str, str]:
    """The result kinds the schema tells apart, each with its definition's name."""
    mapping = schema()["properties"]["results"]["items"]["discriminator"]["mapping"]
    return {kind: ref.rsplit("/", 1)[1] for kind, ref in mapping.items()}


@pytest.mark.parametrize("kind", sorted(RESULT_TYPES))
def test_every_result_type_has_a_schema_definition_matching_its_fields(kind):
    """The committed schema has every kind, with its fields: a stale one fails here (and in test_schema_types)."""
    assert kind in result_kinds(), "run `python -m qpbench.schema`"
    definition = schema()["$defs"][result_kinds()[kind]]
    cls = RESULT_TYPES[kind]
    expected = {"kind", *(f.name for f in fields(cls))} | ({"summary"} if hasattr(cls, "summary") else set())
    assert set(definition["properties"]) == expected
    # a field with a default (added later) may be absent from older records
    assert set(definition["required"]) == {"kind", *(f.name for f in fields(cls) if f.default is MISSING
                                                     and f.default_factory is MISSING)}
    assert definition["additionalProperties"] is False
    assert definition["properties"]["kind"] == {"const": kind}


def test_the_schema_knows_no_result_kind_the_code_does_not():
    assert sorted(result_kinds()) == sorted(RESULT_TYPES)


# Kinds a clean tiny run may lack, planted where a test needs one: a crashed worker; a head-to-head,
# timed only when the two variants' batch-1 medians lie within the race's range (their speeds differ
# by about that much, so a loaded machine may leave it out).
PLANTED = {
    "worker_failure": lambda: dump(WorkerFailure("eager", "stress", "signal", "was killed by SIGABRT", -6)),
    "head_to_head": lambda: dump(HeadToHeadResult("optimized", "eager", (1e-4, 1.1e-4), (1.2e-4, 1.2e-4))),
}


def test_a_real_run_record_validates_and_covers_every_result_kind(tiny_run):
    record = tiny_run["record"]
    assert validation_errors(record) == []
    kinds = {r["kind"] for r in record["results"]}
    if "head_to_head" not in kinds:  # no race: it says why
        assert "no race to time: fewer than two ready variants" in tiny_run["skips"]
    # every kind was checked against its schema; a clean run has no crashed worker (checked below)
    assert kinds | {"head_to_head"} == set(RESULT_TYPES) - {"worker_failure"}


def test_a_record_with_a_crashed_worker_validates(record):
    record["results"].append(PLANTED["worker_failure"]())
    assert validation_errors(record) == []
    record["results"][-1]["failure"] = "exploded"
    assert validation_errors(record)


def _first(record: dict, kind: str) -> dict:
    return next(r for r in record["results"] if r["kind"] == kind)


@pytest.mark.parametrize("kind", sorted(RESULT_TYPES))
def test_a_result_missing_a_field_is_rejected_with_its_path(record, kind):
    if kind in PLANTED and not any(r["kind"] == kind for r in record["results"]):
        record["results"].append(PLANTED[kind]())
    result = _first(record, kind)
    field = next(f.name for f in fields(RESULT_TYPES[kind]) if f.name != "variant")
    del result[field]
    problems = validation_errors(record)
    index = record["results"].index(result)
    assert problems == [f"record.results[{index}].{field}: Field required"]


@pytest.mark.parametrize("plant, expected", [
    (lambda r: _first(r, "latency").__setitem__("samples_s", ["fast"]),
     "].samples_s[0]: Input should be a valid number (got 'fast')"),
    (lambda r: _first(r, "latency").__setitem__("batch_size", 0), "batch_size must be >= 1, got 0"),
    (lambda r: _first(r, "memory").__setitem__("extra", 1), "].extra: unknown key (not a field of this type) (got 1)"),
    (lambda r: _first(r, "accuracy").__setitem__("kind", "acuracy"),
     "Input tag 'acuracy' found using 'kind' does not match any of the expected tags"),
    (lambda r: r["verdict"].pop("critical_issues"), "record.verdict.critical_issues: Field required"),
    (lambda r: r["verdict"]["variants"][0].__setitem__("ready", "yes"),
     "record.verdict.variants[0].ready: Input should be a valid boolean (got 'yes')"),
    (lambda r: r.__setitem__("created", "yesterday"), "record.created: String should match pattern"),
    (lambda r: r.pop("fingerprint"), "record.fingerprint: Field required"),
    (lambda r: r.__setitem__("surprise", {}), "record.surprise: unknown key"),
])
def test_a_planted_bad_record_is_rejected(record, plant, expected):
    plant(record)
    with pytest.raises(RecordError, match="not a qpbench run record") as info:
        check_record(record, "latest.json")
    assert expected in str(info.value)
    assert str(info.value).startswith("latest.json: ")


def test_a_record_of_another_schema_version_is_refused(record):
    record["schema_version"] = 99
    with pytest.raises(RecordError, match="schema_version 99 is not the 1 this qpbench reads"):
        check_record(record, "old.json")


# -- the run writes the reports -----------------------------------------------------------


def test_the_run_writes_html_and_markdown_and_prints_their_paths(tiny_run):
    reports = tiny_run["root"] / "reports"
    assert sorted(p.name for p in reports.iterdir()) == ["report.html", "summary.md"]
    lines = tiny_run["stdout"].splitlines()
    at = lines.index(next(line for line in lines if line.startswith("results: ")))
    assert lines[at + 1:at + 3] == ["report: reports/report.html", "report: reports/summary.md"]  # as given
    assert (tiny_run["root"] / "results" / "latest.json").exists()  # the JSON stays where it was
    assert not list(reports.glob(".*tmp"))  # written atomically: no temporary left behind
    html = (reports / "report.html").read_text()
    assert "qpbench deployment readiness" in html and html.count("<img src=\"data:image/png;base64,") == 5


def test_the_run_appends_the_markdown_to_the_ci_job_summary(tiny_run):
    text = tiny_run["summary"].read_text()
    assert text.startswith("earlier step\n")  # appended, not overwritten
    md = (tiny_run["root"] / "reports" / "summary.md").read_text()
    assert md.strip() in text
    assert "| variant | p95 b1 ms/img |" in text


def test_report_dir_from_the_ini_key_is_relative_to_the_ini_file(pytester, tiny_files, monkeypatch):
    for path in tiny_files.values():
        shutil.copy(path, pytester.path / path.name)
    shutil.copy(REPO / "bench" / "test_accuracy.py", pytester.path)
    pytester.syspathinsert()
    pytester.makeini("[pytest]\nqp_report_dir = out/reports\nqp_checkpoint = tiny.pt\nqp_dataset = tiny.npz\n")
    monkeypatch.chdir(pytester.mkdir("sub"))  # run from elsewhere: the ini's folder anchors the path
    args = [a for a in TINY if not a.startswith(("--qp-checkpoint", "--qp-dataset", "--qp-variants"))]
    result = pytester.runpytest(*args, "--qp-variants=eager", f"--rootdir={pytester.path}", str(pytester.path))
    assert result.ret == 0, result.stdout.str()
    assert sorted(p.name for p in (pytester.path / "out" / "reports").iterdir()) == ["report.html", "summary.md"]
    assert not (pytester.path / "sub" / "out").exists()


# -- rendering ----------------------------------------------------------------------------


def test_html_shows_status_table_issues_and_recommendations(record):
    html = render_html(record, "results/latest.json")
    assert 'id="status" class="status ready">READY: recommended variant' in html
    for variant in ("eager", "optimized"):
        assert f'<td class="name">{variant}' in html
    assert 'id="critical-issues"' in html and 'id="recommendations"' in html
    assert "results/latest.json" in html


def test_html_and_markdown_escape_text_from_the_record(record):
    evil = "<script>alert('x')</script>"
    for v in record["verdict"]["variants"]:
        if v["variant"] == "optimized":
            v["variant"] = evil
            v["ready"] = False
            v["reasons"] = [f"crash {evil}"]
    record["verdict"]["critical_issues"] = [f"{evil}: test_latency: RuntimeError: {evil}"]
    record["selected_variants"] = ["eager", evil]
    html = render_html(record)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    md = render_markdown(record)
    assert "<script>" not in md and "&lt;script&gt;" in md


def test_markdown_summary_is_a_table_with_the_verdict(record):
    md = render_markdown(record, "results/report.html")
    lines = md.splitlines()
    assert lines[0].startswith("## qpbench: tinymodel:build - READY: recommended variant ")
    header = next(line for line in lines if line.startswith("| variant"))
    rows = [line for line in lines if line.startswith("| ") and not line.startswith("| ---")]
    assert all(row.count(" | ") == header.count(" | ") for row in rows)  # every row has every cell
    assert any(line.startswith("| eager |") for line in lines) or any(line.startswith("| **eager** |") for line in lines)
    assert "Full report: results/report.html" in md


def test_a_not_ready_run_says_so_and_lists_its_critical_issues(record):
    record["verdict"]["recommended"] = None
    record["verdict"]["recommended_score"] = None
    record["verdict"]["critical_issues"] = ["no variant is ready for deployment: every variant fails a hard gate"]
    record["gate"] = {"failed": True, "message": "FAIL qpbench gate: no variant is ready"}
    html = render_html(record)
    assert 'class="status not-ready">NOT READY' in html
    assert '<p class="gate fail">FAIL qpbench gate: no variant is ready</p>' in html
    assert "<li>no variant is ready for deployment" in html
    assert "**FAIL qpbench gate: no variant is ready**" in render_markdown(record)


# -- plots with missing data --------------------------------------------------------------------


def test_all_five_plots_are_drawn_from_a_full_record(record):
    drawn = plots.all_plots(record)
    assert [p.key for p in drawn] == ["latency", "latency_distribution", "memory", "accuracy", "latency_vs_accuracy"]
    for p in drawn:
        assert p.png_base64 and len(p.png_base64) > 1000, p.key


def test_plots_cope_with_a_variant_without_memory_and_a_failed_variant(record):
    record["results"] = [r for r in record["results"] if not (r["kind"] == "memory" and r["variant"] == "optimized")]
    record["selected_variants"].append("broken")  # selected, failed to build: no result at all
    record["errors"]["broken"] = ["build failed: RuntimeError: boom"]
    drawn = {p.key: p for p in plots.all_plots(record)}
    assert all(p.png_base64 for p in drawn.values())
    assert drawn["memory"].note == "not measured: optimized, broken"
    assert drawn["latency_vs_accuracy"].note.endswith(": broken")
    html = render_html(record)
    assert "not measured: optimized, broken." in html


def test_a_record_without_measurements_renders_without_figures(record):
    record["results"] = [r for r in record["results"] if r["kind"] == "variant"]
    drawn = plots.all_plots(record)
    assert all(p.png_base64 is None and p.note for p in drawn)
    html = render_html(record)
    assert "<img" not in html and "no latency was measured in this run" in html


def test_plots_ignore_null_accuracy_values(record):
    for r in record["results"]:
        if r["kind"] == "accuracy" and r["variant"] == "optimized":
            r["pearson"] = None  # constant predictions: the correlation is undefined
    drawn = {p.key: p for p in plots.all_plots(record)}
    assert drawn["accuracy"].png_base64 and drawn["latency_vs_accuracy"].png_base64
    assert "optimized" in drawn["latency_vs_accuracy"].note


# -- `qpbench report` ---------------------------------------------------------------------------


def test_cli_report_re_renders_what_the_run_wrote(tiny_run, tmp_path, capsys):
    latest = tiny_run["root"] / "results" / "latest.json"
    assert cli_main(["report", str(latest), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"html: {tmp_path / 'report.html'}" in out and f"md: {tmp_path / 'summary.md'}" in out
    ran = (tiny_run["root"] / "reports" / "summary.md").read_text().splitlines()
    again = (tmp_path / "summary.md").read_text().splitlines()
    assert [x for x in again if not x.startswith("Full report")] == [x for x in ran if not x.startswith("Full report")]


def test_cli_report_one_format(tiny_run, tmp_path):
    latest = tiny_run["root"] / "results" / "latest.json"
    assert cli_main(["report", str(latest), "--out", str(tmp_path), "--format", "md"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.md"]


@pytest.mark.parametrize("content, message", [
    ("", "the file is empty"),
    ('{"schema_version": 1, "results": [', "not valid JSON (corrupt or truncated?)"),
    ("[1, 2]", "not a qpbench run record: record: Input should be an object (got [1, 2])"),
])
def test_cli_report_refuses_a_corrupt_file(tmp_path, capsys, content, message):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    out = tmp_path / "out"
    assert cli_main(["report", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"qpbench report: error: {bad}: ") and message in err
    assert not out.exists()  # nothing half-written


def test_cli_report_refuses_a_truncated_real_record_and_a_wrong_schema(tiny_run, tmp_path, capsys):
    text = (tiny_run["root"] / "results" / "latest.json").read_text()
    cut = tmp_path / "cut.json"
    cut.write_text(text[: len(text) // 2])
    assert cli_main(["report", str(cut), "--out", str(tmp_path / "a")]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    wrong = json.loads(text)
    del wrong["verdict"]["variants"][0]["criteria"]
    bad = tmp_path / "wrong.json"
    bad.write_text(json.dumps(wrong))
    assert cli_main(["report", str(bad), "--out", str(tmp_path / "b")]) == 2
    assert "record.verdict.variants[0].criteria: Field required" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_cli_report_missing_file_and_unknown_format(tmp_path, capsys):
    assert cli_main(["report", str(tmp_path / "nope.json")]) == 2
    assert "nope.json: no such file" in capsys.readouterr().err
    good = tmp_path / "x.json"
    good.write_text("{}")
    assert cli_main(["report", str(good), "--format", "pdf"]) == 2
    assert "unknown report format" in capsys.readouterr().err


def test_load_record_round_trips_a_real_record(tiny_run):
    assert dump(RunRecord.load(tiny_run["root"] / "results" / "latest.json")) == tiny_run["record"]


def test_cli_info_prints_the_probe(capsys):
    assert cli_main(["info"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("CPU ") and "torch " in out and "cores " in out
    assert cli_main(["info", "--json"]) == 0
    fp = json.loads(capsys.readouterr().out)
    assert {"cpu", "cores_logical", "torch", "thread_env"} <= set(fp)
    assert validation_errors({"fingerprint": fp}) and not [p for p in validation_errors({"fingerprint": fp})
                                                             if p.startswith("record.fingerprint")]


def test_python_dash_m_qpbench_runs_the_cli(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "qpbench", "report", str(tmp_path / "missing.json")],
                          capture_output=True, text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 2 and "missing.json: no such file" in proc.stderr


# -- the HTML in a real browser -----------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: CI must install Debian's chromium package for the report test")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); CI runs this test")
    return subprocess.run([str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
                          capture_output=True, text=True, timeout=120)


def test_the_html_report_shows_in_headless_chromium(tiny_run, tmp_path):
    from html.parser import HTMLParser

    from PIL import Image

    page = (tiny_run["root"] / "reports" / "report.html").as_uri()
    dom = chromium(tmp_path, "--dump-dom", page)
    assert dom.returncode == 0, dom.stderr

    class Collect(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.imgs: list[str] = []
            self.rows = 0
            self.status = ""
            self._in_status = False

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "img":
                self.imgs.append(a.get("src") or "")
            if tag == "tr" and "variant" in (a.get("class") or "").split():
                self.rows += 1
            self._in_status = a.get("id") == "status"

        def handle_data(self, data):
            if self._in_status:
                self.status += data

    seen = Collect()
    seen.feed(dom.stdout)
    assert seen.status.startswith("READY: recommended variant ")
    assert seen.rows == 2  # eager and optimized
    assert len(seen.imgs) == 5 and all(src.startswith("data:image/png;base64,") and len(src) > 2000 for src in seen.imgs)

    shot = tmp_path / "report.png"
    run = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,2000", page)
    assert run.returncode == 0 and shot.exists(), run.stderr
    image = Image.open(shot).convert("RGB")
    assert image.size == (1200, 2000)
    assert len(image.getcolors(maxcolors=1 << 20)) > 200  # text, tables and figures, not a blank page
    # The bar colour of the figures appears nowhere in the page's CSS: seeing it means a figure was drawn.
    bar = sum(count for count, (r, g, b) in image.getcolors(maxcolors=1 << 20)
              if abs(r - 76) < 14 and abs(g - 114) < 14 and abs(b - 176) < 14)
    assert bar > 2000


# -- the run's side of it ---------------------------------------------------------------------


def _session(tmp_path: Path):
    from qpbench.config import ScoringConfig, Settings, get_profile
    from qpbench.workload import WorkloadChoice
    from qpbench.session import QPSession

    settings = Settings(workload=WorkloadChoice(), variants=("eager",), profile=get_profile("quick"),
                        scoring=ScoringConfig(), fail_under=None, results_dir=str(tmp_path / "results"),
                        eval_images=None, report_dir=str(tmp_path / "reports"))
    return QPSession(config=None, settings=settings)


def test_a_report_that_cannot_be_drawn_is_told_and_leaves_no_file(tmp_path, monkeypatch, record):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    session = _session(tmp_path)
    del record["verdict"]["targets"]  # the template and plots need them: the record is refused first
    session.write_reports(record)
    assert session.report_error.startswith("reports not written: RecordError")
    assert "record.verdict.targets: Field required" in session.report_error
    assert session.report_paths == {} and not (tmp_path / "reports").exists()


def test_the_step_summary_is_written_only_when_ci_asks(tmp_path, monkeypatch, record):
    session = _session(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    session.write_reports(record)
    assert session.report_error is None
    assert sorted(session.report_paths) == ["html", "md"]
    summary = tmp_path / "job_summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    session.write_reports(record)
    assert summary.read_text() == (tmp_path / "reports" / "summary.md").read_text().rstrip("\n") + "\n\n"
