"""``ssmem report``: write the study report (HTML + Markdown) from a results store."""

from __future__ import annotations

import argparse

HELP = "write the report (index.html, report.md, figures) from a sweep store and experiment results"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", nargs="*", help="the results store(s) of the sweep: SQLite files or postgresql:// "
                                                 "URLs (several: pooled, e.g. one store per cluster shard)")
    parser.add_argument("--store", dest="store_options", action="append", default=[], metavar="STORE",
                        help="a store given as in `ssmem sweep` and `ssmem runs` (repeatable; pooled with the others)")
    parser.add_argument("--out", required=True, help="directory to write the report into")
    parser.add_argument("--experiments", default=None,
                        help="an experiment's --out folder, or a folder of them (OUT/<name>/results.json)")


def run(args: argparse.Namespace) -> int:
    from ..report import write_report
    from . import CLIError

    stores = [*args.store, *args.store_options]
    if not stores:
        raise CLIError("name the results store(s): ssmem report STORE [STORE ...] --out DIR (or --store STORE)")
    report = write_report(stores, args.out, experiments_dir=args.experiments)
    for f in report.findings:
        print(f"[{f.status}] {f.claim}")
    print(f"\nreport: {report.html_path} and {report.markdown_path} ({len(report.figures)} figures)")
    return 0
