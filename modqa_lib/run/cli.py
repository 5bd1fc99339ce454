"""The ``modqa`` command line.

Each subcommand is a thin wrapper over one library function. User errors
(:class:`modqa_lib.errors.ModqaError`) print one clear line to stderr and exit
non-zero without a traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from modqa_lib.errors import ModqaError

__all__ = ["build_parser", "main"]


def _cmd_demo_data(a: argparse.Namespace) -> int:
    from modqa_lib.data.synthetic import write_demo_data

    out = write_demo_data(a.out, seed=a.seed, n_decisions=a.decisions, fmt=a.format, force=a.force)
    print(f"demo data written to {out}")
    return 0


def _cmd_ingest(a: argparse.Namespace) -> int:
    from modqa_lib.data.ingest import ingest

    if a.source:
        from modqa_lib.data.sources import ingest_from_source

        report = ingest_from_source(a.source, a.processed, sources=a.sources)
    else:
        report = ingest(a.raw, a.processed)
    print(report.summary())
    return 0


def _cmd_summary(a: argparse.Namespace) -> int:
    from modqa_lib.report.text import processed_summary

    print(processed_summary(a.processed))
    return 0


def _cmd_sample(a: argparse.Namespace) -> int:
    from modqa_lib.stats.sampling import run_sample_command

    print(
        run_sample_command(
            week=a.week,
            by=a.by,
            margin=a.margin,
            confidence=a.confidence,
            allocation=a.allocation,
            golden_share=a.golden_share,
            seed=a.seed,
            processed=a.processed,
            out=a.out,
            expected_rate=a.expected_rate,
        )
    )
    return 0


def _cmd_batch(a: argparse.Namespace) -> int:
    from modqa_lib.run.batch import run_batch

    result = run_batch(
        by=a.by,
        only=a.only.split(",") if a.only else None,
        workers=a.workers,
        period=a.period,
        run_id=a.run_id,
        resume=a.resume,
        timeout=a.timeout,
        outputs=a.out,
        processed=a.processed,
        scheduler=a.scheduler,
        units_per_kernel=a.units_per_kernel,
    )
    print(result.summary())
    return 0 if result.ok else 1


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser (exposed for tests and docs)."""
    from modqa_lib.config import OUTPUTS_DIR, PROCESSED_DIR, RAW_DIR

    p = argparse.ArgumentParser(prog="modqa", description="Moderation-quality workbook.")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("demo-data", help="generate the seeded demo data set into data/raw")
    s.add_argument("--out", type=Path, default=RAW_DIR)
    s.add_argument("--seed", type=int, default=20261125)
    s.add_argument("--decisions", type=int, default=200_000)
    s.add_argument("--format", choices=["csv", "parquet"], default="csv")
    s.add_argument("--force", action="store_true", help="overwrite different existing raw files")
    s.set_defaults(func=_cmd_demo_data)

    s = sub.add_parser("ingest", help="validate data/raw and write typed parquet to data/processed")
    s.add_argument("--raw", type=Path, default=RAW_DIR)
    s.add_argument("--processed", type=Path, default=PROCESSED_DIR)
    s.add_argument(
        "--source", default=None, help="read the tables from postgresql://user@host:port/db instead of --raw"
    )
    s.add_argument("--sources", type=Path, default=None, help="tables/queries per table (default params/sources.yaml)")
    s.set_defaults(func=_cmd_ingest)

    s = sub.add_parser("summary", help="print what the processed data holds")
    s.add_argument("--processed", type=Path, default=PROCESSED_DIR)
    s.set_defaults(func=_cmd_summary)

    s = sub.add_parser("sample", help="draw a QA sample plan and write auditor worklists")
    s.add_argument("--week", required=True, help="ISO week start date (YYYY-MM-DD) or 'latest'")
    s.add_argument("--by", choices=["vendor", "site", "market", "queue"], default="vendor")
    s.add_argument("--margin", type=float, default=0.03)
    s.add_argument("--confidence", type=float, default=0.95)
    s.add_argument("--allocation", choices=["proportional", "neyman", "equal"], default="proportional")
    s.add_argument("--golden-share", type=float, default=0.05)
    s.add_argument(
        "--expected-rate",
        type=float,
        default=0.5,
        help="error rate assumed when sizing (0.5: worst case; e.g. 0.05 at about 95%% accuracy)",
    )
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--processed", type=Path, default=PROCESSED_DIR)
    s.add_argument("--out", type=Path, default=OUTPUTS_DIR)
    s.set_defaults(func=_cmd_sample)

    s = sub.add_parser("batch", help="run a report notebook per vendor, site or market")
    s.add_argument("--by", choices=["vendor", "site", "market", "consolidated"], required=True)
    s.add_argument("--only", help="comma-separated units to run (default: all)")
    s.add_argument("--workers", type=int, default=None, help="parallel kernels (default: cores)")
    s.add_argument("--period", default=None, help="'last:N' weeks or 'YYYY-MM-DD:YYYY-MM-DD'")
    s.add_argument("--run-id", default=None)
    s.add_argument("--resume", action="store_true", help="rerun only failed or missing units of --run-id")
    s.add_argument("--timeout", type=int, default=900, help="seconds per unit")
    s.add_argument("--out", type=Path, default=OUTPUTS_DIR)
    s.add_argument("--processed", type=Path, default=PROCESSED_DIR)
    s.add_argument("--scheduler", default=None, help="Dask scheduler address tcp://HOST:PORT: run the units there")
    s.add_argument(
        "--units-per-kernel", type=int, default=50, help="units a worker runs in one warm kernel (1: fresh kernel each)"
    )
    s.set_defaults(func=_cmd_batch)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``modqa`` console command."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ModqaError as exc:
        print(f"modqa {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"modqa {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
