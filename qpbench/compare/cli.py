"""``qpbench compare A B``, ``qpbench baselines``, ``qpbench baseline promote RECORD`` and ``qpbench
baseline add RECORD``: compare two
saved runs, list baselines, make a run's record its CPU's baseline."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from qpbench.compare.baseline import CPU_FIELD, BaselineError, list_baselines, load_run, promote
from qpbench.compare.regression import add_record
from qpbench.compare.runs import compare_runs, regression_gate
from qpbench.compare.thresholds import make_thresholds
from qpbench.config import DEFAULT_GATE_ON, DEFAULT_THRESHOLDS, FAMILY_HELP, RUN, parse_names, parse_pairs
from qpbench.options.argparse_help import show_default
from qpbench.errors import ConfigError, RecordError
from qpbench.record import RunRecord
from qpbench.schema.codec import dump


def add_compare_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("baseline", help="the older run: a baseline name, 'latest' (newest baseline) or a run JSON path")
    p.add_argument("current", help="the newer run: a baseline name, 'latest' or a run JSON path "
                                   "(e.g. results/latest.json)")
    add_list_arguments(p)
    p.add_argument("--threshold", action="append", default=[], metavar="NAME=VALUE",
                   help="regression threshold (repeatable); defaults: "
                   + ", ".join(f"{k}={show_default(v)} ({FAMILY_HELP[k]})" for k, v in DEFAULT_THRESHOLDS.items()))
    p.add_argument("--any-machine", action="store_true",
                   help="compare absolute figures even when the machines' fingerprints differ")
    p.add_argument("--markdown", metavar="PATH", help="also write the comparison as Markdown to PATH")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON instead of a table")
    p.add_argument("--gate-on", metavar="FAMILY,...", default=DEFAULT_GATE_ON,
                   help="metric families a regression of which fails --fail-on-regression: "
                        f"{', '.join(DEFAULT_THRESHOLDS)}, or all (default: {show_default(DEFAULT_GATE_ON)})")
    p.add_argument("--fail-on-regression", action="store_true",
                   help="exit 1 on a significant regression (or when nothing could be compared)")


def run_compare(args: argparse.Namespace) -> int:
    from qpbench.compare.markdown import comparison_markdown
    from qpbench.compare.text import comparison_lines
    from qpbench.files import write_text

    try:
        thresholds = make_thresholds(parse_pairs(args.threshold, "threshold"))
        base = load_run(args.baseline, args.results_dir)
        cur = load_run(args.current, args.results_dir)
    except (BaselineError, ConfigError) as exc:
        print(f"qpbench compare: {exc}", file=sys.stderr)
        return 2
    comparison = compare_runs(base.record, cur.record, thresholds, args.any_machine, base.label, cur.label,
                              reference=cur.record.verdict.reference)
    try:
        failed, gate = regression_gate(comparison, parse_names(args.gate_on),
                                       None if args.fail_on_regression else "regressions")
    except ConfigError as exc:
        print(f"qpbench compare: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({**dump(comparison), "gate": gate}, indent=1))
    else:
        print("\n".join(comparison_lines(comparison) + gate))
    if args.markdown:
        write_text(comparison_markdown(comparison, gate), Path(args.markdown))
    return 1 if failed and args.fail_on_regression else 0


def add_list_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--results-dir", default=RUN.results_dir,
                   help=f"where baselines are saved (default: {RUN.results_dir})")


def run_list(args: argparse.Namespace) -> int:
    saved = list_baselines(args.results_dir)
    if not saved:
        print(f"no baseline saved under {Path(args.results_dir) / 'baselines'}")
        return 0
    for name, path in saved:
        try:
            record = RunRecord.load(path)
        except RecordError as exc:
            print(f"{name}  unreadable: {exc}")
            continue
        meta = record.baseline or {}
        git = meta.get("git") or {}
        commit = f" {git['commit'][:10]}{'+dirty' if git.get('dirty') else ''}" if git.get("commit") else ""
        print(f"{name}  {meta.get('saved', '?')}{commit}  {record.workload.name}  "
              f"{(record.fingerprint.get('cpu') or {}).get('brand', '?')}")
    return 0


def add_promote_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("record", type=Path, metavar="RECORD_JSON",
                   help="a finished run's record: results/latest.json, results/runs/*.json or one a CI job kept")
    p.add_argument("--name", metavar="NAME",
                   help=f"the baseline's name; {CPU_FIELD} stands for the record's own CPU (not this machine's), as "
                        f"--qp-compare resolves it on that CPU. Unset: WORKLOAD-PROFILE-{CPU_FIELD} from the record, "
                        f"e.g. compact-quick-{CPU_FIELD}")
    p.add_argument("--force", action="store_true", help="replace a baseline of that name (refused otherwise)")
    add_list_arguments(p)


def add_add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("record", type=Path, metavar="RECORD_JSON",
                   help="a finished run's record of the baseline's workload on its CPU (a CI run's, say)")
    p.add_argument("--name", metavar="NAME",
                   help=f"the baseline to add it to; {CPU_FIELD} stands for the record's own CPU. Unset: "
                        f"WORKLOAD-PROFILE-{CPU_FIELD} from the record, e.g. compact-quick-{CPU_FIELD}")
    add_list_arguments(p)


def run_add(args: argparse.Namespace) -> int:
    """Add a finished run's record to a saved baseline as one more run, as --qp-add-to-baseline adds
    the run it ends; a record of another workload or CPU is refused, naming the difference (exit 2)."""
    try:
        resolved, path, runs = add_record(args.record, args.results_dir, args.name, Path.cwd())
    except BaselineError as exc:
        print(f"qpbench baseline add: error: {exc}", file=sys.stderr)
        return 2
    print(f"baseline {resolved}: {path}, {runs} runs")
    return 0


def run_promote(args: argparse.Namespace) -> int:
    """Write a run's record as a baseline; bad input (missing, not JSON, partial, exists) is exit 2."""
    try:
        name, resolved, path = promote(args.record, args.results_dir, args.name, Path.cwd(), args.force)
    except BaselineError as exc:
        print(f"qpbench baseline promote: error: {exc}", file=sys.stderr)
        return 2
    print(f"baseline {resolved}: {path}")
    print(f"compare with it on that CPU: pytest bench/ --qp-compare='{name}' --qp-fail-on-regression")
    return 0
