"""``qpbench`` command line: make data, train the compact model, probe the machine."""

from __future__ import annotations

import argparse
import json
import sys


def cmd_info(args: argparse.Namespace) -> int:
    from qpbench.system import fingerprint

    print(json.dumps(fingerprint(), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from qpbench import train
    from qpbench.data import make_cli

    parser = argparse.ArgumentParser(prog="qpbench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("make-data", help="make labelled data: logos -> vtracer -> resvg -> SSIM (cached)")
    make_cli.add_arguments(p)
    p.set_defaults(func=make_cli.run)
    p = sub.add_parser("train-compact", help="train the compact workload's model on CPU")
    train.add_arguments(p)
    p.set_defaults(func=train.run)
    p = sub.add_parser("info", help="print the machine fingerprint (CPU, ISA, cores, memory, torch build)")
    p.set_defaults(func=cmd_info)
    from qpbench import compare_cli

    p = sub.add_parser("compare", help="compare two saved runs or baselines: per variant and metric, change, CI, verdict")
    compare_cli.add_compare_arguments(p)
    p.set_defaults(func=compare_cli.run_compare)
    p = sub.add_parser("baselines", help="list the saved baselines")
    compare_cli.add_list_arguments(p)
    p.set_defaults(func=compare_cli.run_list)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
