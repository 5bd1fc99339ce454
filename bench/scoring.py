"""Benchmark: ``accuracy_table`` and ``drilldown`` on 1M and 10M audits vs a bare pandas groupby of the same counts.

Audits are generated with numpy (vendor, site, policy, market, shift, stratum,
is_error, design weights); each function is timed (best of ``--repeat``) next to
the bare pandas ``groupby`` computing the counts it reports:

* ``accuracy_table(audits, by=vendor, weights=weight)`` vs
  ``groupby([vendor, stratum]).agg(n, errors, sum of weights, sum of weighted errors)``
  (the design-weighted estimate needs per-stratum sums);
* ``drilldown(audits, dims=[vendor, site, policy, market, shift])`` vs one
  ``groupby(dim)[is_error].agg(["size", "sum"])`` per dimension.

Prints the seconds and the ratio function / groupby (goal <= 2x).

Usage::

    PYTHONPATH=. python bench/scoring.py [--sizes 1000000 10000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import pandas as pd

from modqa_lib.contract import schema as S
from modqa_lib.stats.rca import drilldown
from modqa_lib.stats.scoring import accuracy_table

DIMS = [S.VENDOR, S.SITE, S.POLICY, S.MARKET, S.SHIFT]


def make_audits(n: int, seed: int = 0) -> pd.DataFrame:
    """n audits: 5 vendors x 3 sites, 11 policies, 6 markets, 3 shifts; strata vendor x policy; ~5% errors."""
    rng = np.random.default_rng(seed)
    v = rng.integers(0, 5, n)
    site = v * 3 + rng.integers(0, 3, n)
    pol = rng.integers(0, 11, n)
    vendors = np.array([f"Vendor {c}" for c in "ABCDE"], dtype=object)
    stratum = pd.Series(vendors[v]) + "|" + pd.Series(pol.astype(str))
    p = 0.03 + 0.01 * v + 0.005 * (pol == 3)
    incl = np.where(pol == 3, 0.05, 0.01)
    return pd.DataFrame(
        {
            S.VENDOR: pd.array(vendors[v], dtype="str"),
            S.SITE: pd.array(np.array([f"site{i}" for i in range(15)], dtype=object)[site], dtype="str"),
            S.POLICY: pd.array(np.array([f"pol{i}" for i in range(11)], dtype=object)[pol], dtype="str"),
            S.MARKET: pd.array(
                np.array(["PH", "MY", "PT", "CO", "BR", "ID"], dtype=object)[rng.integers(0, 6, n)], dtype="str"
            ),
            S.SHIFT: pd.array(np.array(["day", "evening", "night"], dtype=object)[rng.integers(0, 3, n)], dtype="str"),
            S.STRATUM: pd.array(stratum.to_numpy(), dtype="str"),
            S.IS_ERROR: rng.random(n) < p,
            S.INCLUSION_PROB: incl,
            S.WEIGHT: 1 / incl,
        }
    )


def best(fn, repeat: int) -> float:
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return min(ts)


def run_size(n: int, repeat: int) -> list[tuple[str, float, float]]:
    """(function, its seconds, the bare groupby's seconds) at n audits."""
    aud = make_audits(n)
    aud_w = aud.assign(_we=aud[S.WEIGHT] * aud[S.IS_ERROR])

    def acc_base():
        aud_w.groupby([S.VENDOR, S.STRATUM], observed=True).agg(
            n=(S.IS_ERROR, "size"), errors=(S.IS_ERROR, "sum"), w=(S.WEIGHT, "sum"), we=("_we", "sum")
        )

    def drill_base():
        for d in DIMS:
            aud.groupby(d, observed=True)[S.IS_ERROR].agg(["size", "sum"])

    cases = [
        ("accuracy_table", lambda: accuracy_table(aud, by=S.VENDOR, weights=S.WEIGHT), acc_base),
        ("drilldown", lambda: drilldown(aud, DIMS), drill_base),
    ]
    return [(name, best(fn, repeat), best(base, repeat)) for name, fn, base in cases]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    print(f"{'audits':>11}  {'function':<16}  {'seconds':>8}  {'groupby s':>9}  ratio")
    out = {}
    for n in a.sizes:
        for name, t, tb in run_size(n, a.repeat):
            out[(name, n)] = t
            print(f"{n:>11,}  {name:<16}  {t:>8.2f}  {tb:>9.2f}  {t / tb:.2f}x", flush=True)
    sizes = sorted(a.sizes)
    if len(sizes) > 1:
        k = math.log(sizes[-1] / sizes[0])
        for name in ("accuracy_table", "drilldown"):
            e = math.log(out[(name, sizes[-1])] / out[(name, sizes[0])]) / k
            print(f"growth exponent {name} {sizes[0]:,} -> {sizes[-1]:,}: {e:.2f}")


if __name__ == "__main__":
    main()
