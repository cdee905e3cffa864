"""``qpbench package``: build a deployment package from a run, or verify one.

    python -m qpbench package [--variant NAME|recommended] [--run results/latest.json] --out DIR [--force]
    python -m qpbench package verify DIR [--expect-sha256 HEX]

Both re-measure the package in a fresh process and print the run's figures
next to the re-measured ones; exit status 1 when they do not match (and, when
building, no package is written).
"""

from __future__ import annotations

import argparse
import logging

from qpbench.deploy.revalidate import PACKAGE, Tolerances
from qpbench.options.argparse_help import positive_int_arg, show_default
from qpbench.deploy.revalidate import Revalidation, RevalidationError
from qpbench.errors import QPBenchError

TOLERANCES = Tolerances()


def ratio_band(text: str) -> tuple[float, float]:
    try:
        low, high = (float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW,HIGH (e.g. 0.5,2), got {text!r}") from None
    if not 0 < low <= 1 <= high:
        raise argparse.ArgumentTypeError(f"need 0 < LOW <= 1 <= HIGH, got {text!r}")
    return low, high


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", nargs="?", choices=("build", "verify"), default="build",
                        help="build a package, or verify DIR (manifest + fresh-process re-measurement) (default: build)")
    parser.add_argument("dir", nargs="?", metavar="DIR", help="the package to verify")
    band = (TOLERANCES.latency_ratio_low, TOLERANCES.latency_ratio_high)
    parser.add_argument("--run", metavar="PATH", default=PACKAGE.run,
                        help=f"run record to package from (default: {PACKAGE.run}); verify compares "
                             "with the run's figures kept in the package's performance_report.json")
    parser.add_argument("--variant", metavar="NAME", default=PACKAGE.variant,
                        help=f"variant to package, or 'recommended' (default: {PACKAGE.variant})")
    parser.add_argument("--out", metavar="DIR", help="package directory to create (build)")
    parser.add_argument("--force", action="store_true",
                        help="replace an existing package at --out (only a qpbench package: never another folder, "
                             "the working or home directory)")
    parser.add_argument("--expect-sha256", metavar="HEX",
                        help="verify: refuse the package unless its digest (sha256 of manifest.json, printed when "
                             "it was built) is HEX; checked before any of the package's code runs")
    parser.add_argument("--latency-calls", metavar="N", type=positive_int_arg("--latency-calls"),
                        default=PACKAGE.latency_calls,
                        help=f"batch-1 calls timed in the fresh process (default: {PACKAGE.latency_calls})")
    parser.add_argument("--latency-band", metavar="LOW,HIGH", type=ratio_band, default=band,
                        help=f"allowed re-measured/run batch-1 p50 ratio (default: {show_default(band)})")
    parser.add_argument("--timeout", metavar="S", type=positive_int_arg("--timeout"), default=PACKAGE.timeout_s,
                        help=f"seconds the fresh process may take (default: {show_default(PACKAGE.timeout_s)})")


def format_revalidation(reval: Revalidation) -> list[str]:
    def fmt(x: object) -> str:
        if x is None:
            return "-"
        return f"{x:.4g}" if isinstance(x, float) else str(x)

    m = reval.measured
    lines = [f"     {'check':<56} {'run':>10} {'package':>10}  tolerance"]
    for c in reval.checks:
        mark = "ok   " if c.passed else "FAIL "
        lines.append(f"{mark}{c.name:<56} {fmt(c.run):>10} {fmt(c.revalidated):>10}  {c.tolerance}")
    lines.append(f"  artifact batch-1 p95 {m['batch1_artifact_p95_ms']:.3f} ms; through the wrapper: p50 "
                 f"{m['batch1_wrapper_p50_ms']:.3f} ms, p95 {m['batch1_wrapper_p95_ms']:.3f} ms, p50 with numpy "
                 f"preprocessing of the raw image {m['batch1_wrapper_with_preprocessing_p50_ms']:.3f} ms")
    lines.append(f"  load + warm-up {m['load_and_warmup_s']:.2f} s; peak RSS {fmt(m.get('peak_rss_mb'))} MB; "
                 f"qpbench imported: {m['qpbench_imported']}")
    return lines


def run(args: argparse.Namespace) -> int:
    from qpbench.deploy.package import build_package, verify_package

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    tol = Tolerances(latency_ratio_low=args.latency_band[0], latency_ratio_high=args.latency_band[1])
    try:
        if args.action == "verify":
            if not args.dir:
                print("qpbench package verify: give the package directory")
                return 2
            reval = verify_package(args.dir, tolerances=tol, latency_calls=args.latency_calls, timeout_s=args.timeout,
                                   expected_sha256=args.expect_sha256)
            pinned = "digest as expected, " if args.expect_sha256 else ""
            print(f"package {args.dir}: {pinned}manifest ok; re-measured in a fresh process:")
            print("\n".join(format_revalidation(reval)))
            print("PASS: the package matches its run" if reval.passed else "FAIL: the package does not match its run")
            return 0 if reval.passed else 1
        if not args.out:
            print("qpbench package: give --out DIR")
            return 2
        result = build_package(args.run, args.out, args.variant, force=args.force,
                               tolerances=tol, latency_calls=args.latency_calls, timeout_s=args.timeout)
    except (QPBenchError, RevalidationError) as exc:
        print(f"qpbench package: {exc}")
        return 1
    print(f"variant {result.variant}: re-measured in a fresh process from the package:")
    print("\n".join(format_revalidation(result.revalidation)))
    if result.path is None:
        print(f"FAIL: the package does not match the run; nothing written to {args.out}")
        return 1
    print(f"PASS: package written to {result.path}")
    print(f"package digest (sha256 of manifest.json): {result.digest}")
    print(f"  pin it: python -m qpbench package verify {result.path} --expect-sha256 {result.digest}")
    return 0
