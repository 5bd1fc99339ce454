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

    if getattr(a, "transparency", False):
        from modqa_lib.data.synthetic_transparency import write_transparency_demo

        out = write_transparency_demo(a.out, seed=a.seed, n_decisions=min(a.decisions, 60_000))
        print(f"transparency demo data written to {out}")
        return 0

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
    adopt = bool(getattr(a, "adopt_transparency_plan", False))
    if getattr(a, "nonactioned_per_cell", None) or adopt:
        from modqa_lib.run.transparency import write_nonactioned_sample

        print(
            write_nonactioned_sample(a.week, a.nonactioned_per_cell, a.processed, a.out, seed=a.seed, adopt_plan=adopt)
        )
    return 0


def _cmd_batch(a: argparse.Namespace) -> int:
    from modqa_lib.run.batch import run_batch

    result = run_batch(
        by=a.by,
        only=_split_only(a.only),
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


def _cmd_readiness(a: argparse.Namespace) -> int:
    from modqa_lib.run.readiness import run_readiness

    result = run_readiness(a.queue, vendor=a.vendor, processed=a.processed, out=a.out)
    print(result.text())
    return 0 if result.ready else 1


def _cmd_calibration_pack(a: argparse.Namespace) -> int:
    from modqa_lib.run.calibration_pack import write_calibration_pack

    paths = write_calibration_pack(
        a.vendor, policy=a.policy, size=a.size, seed=a.seed, period=a.period, processed=a.processed, out=a.out
    )
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0


def _split_only(values: Sequence[str] | None) -> list[str] | None:
    """Units named by ``--only`` (repeatable): each value is comma-separated, CSV-quoted.

    ``--only "Vendor A,Vendor B"``, ``--only Vendor A --only Vendor B`` and
    ``--only '"Acme, Inc.",Vendor B'`` (a comma inside a name: quote the name) all work.
    """
    if not values:
        return None
    import csv

    out: list[str] = []
    for v in values:
        out += [u.strip() for u in next(csv.reader([v], skipinitialspace=True), []) if u.strip()]
    if not out:
        from modqa_lib.errors import ConfigError

        raise ConfigError(f"--only {' '.join(map(repr, values))}: names no unit (give unit names, comma-separated)")
    return out


def _number(kind: type, lo: float | None = None, hi: float | None = None, lo_open: bool = False, hi_open=False):
    """An argparse ``type`` that rejects values outside [lo, hi] (or open bounds) with a clear message."""

    def parse(text: str):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {'an integer' if kind is int else 'a number'}, got {text!r}"
            ) from None
        if (
            v != v
            or (lo is not None and (v <= lo if lo_open else v < lo))
            or (hi is not None and (v >= hi if hi_open else v > hi))
        ):
            lo_s = "-inf" if lo is None else f"{lo:g}"
            hi_s = "inf" if hi is None else f"{hi:g}"
            rng = f"{'(' if lo_open else '['}{lo_s}, {hi_s}{')' if hi_open else ']'}"
            raise argparse.ArgumentTypeError(f"must be in {rng}, got {text}")
        return v

    parse.__name__ = kind.__name__
    return parse


def _cmd_transparency(a: argparse.Namespace) -> int:
    from modqa_lib.run.transparency import run_transparency

    result = run_transparency(period=a.period, processed=a.processed, outputs=a.out, run_id=a.run_id, timeout=a.timeout)
    print(result)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser (exposed for tests and docs)."""
    from modqa_lib.config import OUTPUTS_DIR, PROCESSED_DIR, RAW_DIR

    p = argparse.ArgumentParser(prog="modqa", description="Moderation-quality workbook.")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("demo-data", help="generate the seeded demo data set into data/raw")
    s.add_argument("--out", type=Path, default=RAW_DIR)
    s.add_argument("--seed", type=int, default=20261125)
    s.add_argument("--decisions", type=_number(int, 1), default=200_000)
    s.add_argument("--format", choices=["csv", "parquet"], default="csv")
    s.add_argument("--force", action="store_true", help="overwrite different existing raw files")
    s.add_argument(
        "--transparency", action="store_true", help="write the separate DSA transparency demo set (EU languages)"
    )
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
    s.add_argument("--margin", type=_number(float, 0, 0.5, lo_open=True), default=0.03)
    s.add_argument("--confidence", type=_number(float, 0, 1, lo_open=True, hi_open=True), default=0.95)
    s.add_argument("--allocation", choices=["proportional", "neyman", "equal"], default="proportional")
    s.add_argument("--golden-share", type=_number(float, 0, 1, hi_open=True), default=0.05)
    s.add_argument(
        "--expected-rate",
        type=_number(float, 0, 1, lo_open=True, hi_open=True),
        default=0.5,
        help="error rate assumed when sizing (0.5: worst case; e.g. 0.05 at about 95%% accuracy)",
    )
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--processed", type=Path, default=PROCESSED_DIR)
    s.add_argument("--out", type=Path, default=OUTPUTS_DIR)
    s.add_argument(
        "--nonactioned-per-cell",
        type=int,
        default=0,
        help="also draw N non-actioned machine decisions per automated system x language, by score band (recall)",
    )
    s.add_argument(
        "--adopt-transparency-plan",
        action="store_true",
        help="draw the non-actioned decisions with the transparency planner's sizes per system x language x band",
    )
    s.set_defaults(func=_cmd_sample)

    s = sub.add_parser("batch", help="run a report notebook per vendor, site or market")
    s.add_argument("--by", choices=["vendor", "site", "market", "consolidated"], required=True)
    s.add_argument(
        "--only",
        action="append",
        help="units to run, comma-separated or repeated; quote a name with a comma: '\"Acme, Inc.\",Vendor B'",
    )
    s.add_argument("--workers", type=_number(int, 1, 256), default=None, help="parallel kernels (default: cores)")
    s.add_argument("--period", default=None, help="'last:N' weeks, 'all' or 'YYYY-MM-DD:YYYY-MM-DD' (any case)")
    s.add_argument("--run-id", default=None)
    s.add_argument("--resume", action="store_true", help="rerun only failed or missing units of --run-id")
    s.add_argument("--timeout", type=_number(int, 1, 7 * 86400), default=900, help="seconds per unit")
    s.add_argument("--out", type=Path, default=OUTPUTS_DIR)
    s.add_argument("--processed", type=Path, default=PROCESSED_DIR)
    s.add_argument("--scheduler", default=None, help="Dask scheduler address tcp://HOST:PORT: run the units there")
    s.add_argument(
        "--units-per-kernel", type=int, default=50, help="units a worker runs in one warm kernel (1: fresh kernel each)"
    )
    s.set_defaults(func=_cmd_batch)

    s = sub.add_parser("readiness", help="check a queue before go-live (capacity, training, nesting quality)")
    s.add_argument("--queue", required=True, help="queue configured in params/golive.yaml")
    s.add_argument("--vendor", default=None, help="the queue's vendor (checked against params/golive.yaml)")
    s.add_argument("--processed", type=Path, default=PROCESSED_DIR)
    s.add_argument("--out", type=Path, default=OUTPUTS_DIR)
    s.set_defaults(func=_cmd_readiness)
    s = sub.add_parser(
        "calibration-pack", help="worklist CSV and case-study booklet for a vendor's calibration session"
    )
    s.add_argument("--vendor", required=True, help="vendor as in the decisions table")
    s.add_argument("--policy", default=None, help="one policy (default: all)")
    s.add_argument("--size", type=int, default=30, help="cases in the pack")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--period", default="last:12", help="'last:N' weeks, 'all' or 'YYYY-MM-DD:YYYY-MM-DD'")
    s.add_argument("--processed", type=Path, default=PROCESSED_DIR)
    s.add_argument("--out", type=Path, default=OUTPUTS_DIR)
    s.set_defaults(func=_cmd_calibration_pack)
    s = sub.add_parser("transparency", help="DSA transparency figures per automated system and language (HTML + CSV)")
    s.add_argument("--period", default="all", help="'YYYY-MM-DD:YYYY-MM-DD', 'last:N' weeks or 'all'")
    s.add_argument("--processed", type=Path, default=PROCESSED_DIR)
    s.add_argument("--out", type=Path, default=OUTPUTS_DIR)
    s.add_argument("--run-id", default=None)
    s.add_argument("--timeout", type=int, default=900, help="seconds for the notebook")
    s.set_defaults(func=_cmd_transparency)
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
