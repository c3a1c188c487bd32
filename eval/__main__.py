"""``python -m eval run [--dataset D] [--limit N] [--out eval/RESULTS.md] [--json F]``
and ``python -m eval report F`` (re-render a saved run)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, run the evaluation, write and print the report."""
    parser = argparse.ArgumentParser(prog="python -m eval", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="evaluate detector and baselines, write the report")
    run.add_argument(
        "--data", type=Path, default=Path(os.environ.get("IMON_EVAL_DATA", DEFAULT_DATA))
    )
    run.add_argument("--dataset", action="append", help="nab, smap, msl, ucr, tcpd (repeat)")
    run.add_argument("--limit", type=int, default=None, help="series per benchmark")
    run.add_argument("--processes", type=int, default=2)
    run.add_argument("--out", type=Path, default=Path("eval/RESULTS.md"))
    run.add_argument("--json", type=Path, default=None, help="also write the raw numbers")
    render = sub.add_parser("report", help="re-render a report from a --json file")
    render.add_argument("json_file", type=Path)
    render.add_argument("--out", type=Path, default=Path("eval/RESULTS.md"))
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    from eval.report import to_markdown, write_report
    from eval.runner import run_eval

    if args.command == "report":
        results = json.loads(args.json_file.read_text())
    else:
        results = run_eval(args.data, args.dataset, args.limit, args.processes)
        if args.json is not None:
            args.json.write_text(json.dumps(results, indent=1))
    write_report(results, args.out)
    sys.stdout.write(to_markdown(results) + "\n")
    sys.stderr.write(f"written to {args.out}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
