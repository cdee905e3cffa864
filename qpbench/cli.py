"""``qpbench`` command line: make data, train the compact model, probe the machine, render reports."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def cmd_info(args: argparse.Namespace) -> int:
    from qpbench.compare.baseline import cpu_slug
    from qpbench.system import describe_cpu, fingerprint, torch_version_problem

    fp = fingerprint()
    if args.json:
        print(json.dumps(fp, indent=2))
        return 0
    cpu = fp["cpu"]
    isa = [name for name, present in cpu["isa"].items() if present]
    caches = ", ".join(f"L{c['level']} {c['type'].lower()} {c['size']}" for c in fp.get("caches", []))
    lines = [
        ("CPU", f"{describe_cpu(cpu)} ({cpu['arch']})"),
        ("{cpu}", f"{cpu_slug(cpu)} (this CPU in baseline names)"),
        ("cores", f"{fp['cores_physical']} physical, {fp['cores_logical']} logical, affinity {fp['cpu_affinity']}"),
        ("ISA", " ".join(isa) or "none of the listed extensions"),
        ("caches", caches or "unknown"),
        ("memory", f"{fp['memory_total_mb']} MB total, {fp['memory_available_mb']} MB available"),
        ("torch", f"{fp['torch']} ({fp['build']}), {fp['num_threads']} threads, {fp['num_interop_threads']} inter-op, "
                  f"CPU capability {fp['cpu_capability']}"),
        ("libraries", ", ".join(f"{k} {v}" for k, v in fp["libraries"].items() if v) or "unknown"),
        ("thread env", ", ".join(f"{k}={v}" for k, v in fp["thread_env"].items() if v is not None) or "none set"),
        ("CPU quota", quota_line(fp.get("cpu_quota"))),
        ("Python", f"{fp['python']} on {fp['platform']}"),
    ]
    lines += peak_lines(cpu["isa"], usable_cores(fp))
    lines += achieved_lines(args.record)
    lines.append(("build cache", build_cache_line()))
    problem = torch_version_problem(fp["torch"])
    if problem:
        lines.append(("WARNING", problem))
    width = max(len(k) for k, _ in lines)
    print("\n".join(f"{k.ljust(width)}  {v}" for k, v in lines))
    return 0


def quota_line(quota: dict[str, Any] | None) -> str:
    """One line on the container's CPU quota: where it comes from and the CPUs it leaves usable."""
    if not quota:
        return "unknown"
    if quota.get("source") is None:
        return f"none ({quota.get('usable_cpus')} usable CPUs)"
    return f"{quota['cpus']:g} CPUs ({quota['source']}): {quota.get('usable_cpus')} usable CPUs"


def usable_cores(fp: dict[str, Any]) -> int:
    """The cores a run may use: the affinity, capped by a CPU quota (a peak over throttled cores is not reachable)."""
    usable = (fp.get("cpu_quota") or {}).get("usable_cpus")
    return usable or len(fp["cpu_affinity"] or []) or fp["cores_logical"]


def build_cache_line() -> str:
    from qpbench.variants.build_cache import cache_summary

    cache = cache_summary()
    if cache["location"] is None:
        return "off"
    return f"{cache['location']}: {cache['entries']} entries, {cache['bytes'] / 2**20:.1f} MiB"


def peak_lines(isa: dict[str, bool], cores: int) -> list[tuple[str, str]]:
    """The machine's peak per precision: cores x frequency x operations per cycle of its widest unit."""
    from qpbench import peak

    hz = peak.cpu_hz()
    if hz is None:
        return [("peak", "unknown: no CPU frequency in /proc/cpuinfo")]
    out = []
    for precision in ("fp32", "bf16", "int8"):
        p = peak.peak_for(precision, isa, cores, hz)
        native = "" if precision != "bf16" or peak.native_bf16(isa) else " (no native bf16: emulated in fp32)"
        text = f"{p.ops_per_s / 1e9:.0f} GOP/s ({p.unit}: {cores} cores x {hz / 1e9:.2f} GHz x {p.ops_per_cycle} ops/cycle)"
        out.append((f"peak {precision}", text + native))
    return out


def achieved_lines(record_path: Path | None) -> list[tuple[str, str]]:
    """Per variant of a saved run: the model's operations per second at batch 1 against the peak."""
    from qpbench.errors import RecordError
    from qpbench.record import RunRecord
    from qpbench.render import view

    if record_path is None or not record_path.is_file():
        return []
    try:
        record = RunRecord.load(record_path)
    except RecordError as exc:
        return [("achieved", f"{record_path} not read: {exc}")]
    rows = [(f"  {row.variant}", f"{row.ops}; {row.kernels}") for row in view.variant_rows(record.verdict)
            if row.ops != "-" or row.kernels != "-"]
    return [("achieved", f"batch-1 operations per second of {record_path} against the peak")] + rows if rows else []


def cmd_report(args: argparse.Namespace) -> int:
    """Re-render a saved run record, or the partial verdict of a stopped run's journal (.jsonl);
    a bad file is refused with the file and problem named (exit 2)."""
    from qpbench.config import parse_names
    from qpbench.render.reports import REPORT_FORMATS
    from qpbench.errors import QPBenchError
    from qpbench.run.journal import partial_record
    from qpbench.record import RunRecord
    from qpbench.render.reports import write_reports

    try:
        formats = parse_names(args.format, "report format", tuple(REPORT_FORMATS)) or tuple(REPORT_FORMATS)
        is_journal = args.run_json.suffix == ".jsonl"
        record = partial_record(args.run_json) if is_journal else RunRecord.load(args.run_json)
    except QPBenchError as exc:
        print(f"qpbench report: error: {exc}", file=sys.stderr)
        return 2
    out = args.out if args.out is not None else args.run_json.parent
    try:
        written = write_reports(record, out, formats, source=str(args.run_json))
    except OSError as exc:
        print(f"qpbench report: error: cannot write the reports to {out}: {exc}", file=sys.stderr)
        return 2
    for fmt, path in written.items():
        print(f"{fmt}: {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from qpbench import train
    from qpbench.render.reports import REPORT_FORMATS
    from qpbench.options.argparse_help import show_default
    from qpbench.data import make_cli

    parser = argparse.ArgumentParser(prog="qpbench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("make-data", help="make labelled data: logos -> vtracer -> resvg -> SSIM (cached)")
    make_cli.add_arguments(p)
    p.set_defaults(func=make_cli.run)
    p = sub.add_parser("train-compact", help="train the compact workload's model on CPU")
    train.add_arguments(p)
    p.set_defaults(func=train.run)
    from qpbench.deploy import cli as package_cli

    p = sub.add_parser("package", help="build a deployment package of a run's variant (or verify one)",
                       description=package_cli.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    package_cli.add_arguments(p)
    p.set_defaults(func=package_cli.run)
    p = sub.add_parser("info", help="print the machine fingerprint (CPU, ISA, cores, memory, torch build)")
    p.add_argument("--json", action="store_true", help="the whole fingerprint as JSON, as a run record holds it")
    record_help = ("a run record whose variants' achieved operations per second to show against the peak, "
                   "when it exists (default: results/latest.json)")
    p.add_argument("--record", type=Path, metavar="RUN_JSON", default=Path("results/latest.json"), help=record_help)
    p.set_defaults(func=cmd_info)
    p = sub.add_parser("report", help="render report.html and summary.md from a saved run record (e.g. results/latest.json) "
                                      "or from a stopped run's journal (results/journal/*.jsonl)")
    p.add_argument("run_json", type=Path, metavar="RUN_JSON", help="a run record written by `pytest bench/`, or the "
                   "journal a stopped run left (its partial verdict, marked partial)")
    p.add_argument("--out", type=Path, metavar="DIR", help="folder for the reports (default: the record's folder)")
    p.add_argument("--format", metavar="FMT,...", type=str.lower, default=tuple(REPORT_FORMATS),
                   help=f"which reports: {', '.join(REPORT_FORMATS)} (default: {show_default(tuple(REPORT_FORMATS))})")
    p.set_defaults(func=cmd_report)
    from qpbench.compare import cli as compare_cli

    p = sub.add_parser("compare", help="compare two saved runs or baselines: per variant and metric, change, CI, verdict")
    compare_cli.add_compare_arguments(p)
    p.set_defaults(func=compare_cli.run_compare)
    p = sub.add_parser("baselines", help="list the saved baselines")
    compare_cli.add_list_arguments(p)
    p.set_defaults(func=compare_cli.run_list)
    p = sub.add_parser("baseline", help="make baselines: promote a run's record to its CPU's baseline, or add one to it")
    actions = p.add_subparsers(dest="action", required=True)
    p = actions.add_parser("promote", help="save a finished run's record (a CI run's) as a baseline, {cpu} being the "
                           "record's CPU; written atomically, an existing one kept unless --force",
                           description="Save a finished run's record (results/latest.json, or one a CI job "
                           "kept) as a baseline under RESULTS_DIR/baselines/, {cpu} in its name being the record's "
                           "own CPU. It is validated first; an existing baseline is kept unless --force. Exit 2 on "
                           "bad input, naming the problem.")
    compare_cli.add_promote_arguments(p)
    p.set_defaults(func=compare_cli.run_promote)
    p = actions.add_parser("add", help="add a finished run's record to a saved baseline as one more run, as "
                           "--qp-add-to-baseline adds the run it ends",
                           description="Add a finished run's record (results/latest.json, or one a CI job kept) "
                           "to a saved baseline as one more independent run: later runs are judged against the "
                           "spread of all of them. A record of another workload or CPU is refused, naming the "
                           "difference. Exit 2 on bad input, naming the problem.")
    compare_cli.add_add_arguments(p)
    p.set_defaults(func=compare_cli.run_add)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
