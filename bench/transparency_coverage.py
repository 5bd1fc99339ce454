"""Benchmark: coverage and bias of the transparency figures, 1,000 draws (issue #14).

The simulation of ``tests/stats/test_transparency.py::test_simulation_bias_and_coverage``
(known finite population: an ordinary cell ``de``, a 1%-prevalence cell ``pl`` and a small
cell ``mt``; the ordinary and rare cells drawn with the transparency planner's sizes, the
small cell with 25 + 40 audits) run with more draws than a test can afford, for each
binomial interval on the effective n. Prints, per cell and metric: mean estimate, truth,
bias, coverage, the share of draws whose interval lies above the truth, the mean and 90th
percentile half-width, and the missed violations found per draw.

Usage::

    PYTHONPATH=. python bench/transparency_coverage.py [--reps 1000] [--interval clopper-pearson jeffreys]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "stats"))

from test_transparency import _planned_draws, _population, _truth

from modqa_lib.contract import schema as S
from modqa_lib.stats.sampling import nonactioned_sample, score_band_sample, score_bands, stratified_sample
from modqa_lib.stats.sampling.nonactioned import ACTIONED
from modqa_lib.stats.transparency import VIOLATING, automated_accuracy, plan_transparency_audits


def _draws(reps: int) -> pd.DataFrame:
    pop = _population()
    big = pop[pop[S.LANGUAGE] != "mt"]
    cur = nonactioned_sample(big, {"clf|de": 250, "clf|pl": 500}, default_prior=0.5, seed=12345)
    act = score_band_sample(big, {"clf|de": 150, "clf|pl": 100}, arm="actioned", allocation="proportional", seed=54321)
    plan = plan_transparency_audits(big, pd.concat([cur, act]), targets={"precision": 0.05, "recall": 0.10})
    print("plan (audits per cell and arm):", plan.groupby([S.LANGUAGE, "arm"])["allocated"].sum().to_dict())
    small = pop[pop[S.LANGUAGE] == "mt"].copy()
    small["_g"] = np.where(small[ACTIONED], "A", "B")
    small["_b"] = score_bands(small[S.MODEL_SCORE])
    out = [_planned_draws(big, plan, reps, 0)]
    for r in range(reps):
        s = stratified_sample(small, ["_g", "_b"], {"A": 25, "B": 40}, allocation="neyman", min_per_stratum=2, seed=r)
        s["rep"] = r
        s[S.STRATUM] = f"{r}|" + s[S.STRATUM]
        out.append(s)
    return pd.concat(out, ignore_index=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=1000)
    ap.add_argument("--interval", nargs="+", default=["clopper-pearson", "jeffreys"])
    args = ap.parse_args()
    t0 = time.perf_counter()
    draws = _draws(args.reps)
    truth = _truth(_population())
    fn = draws[~draws[ACTIONED] & draws[VIOLATING]].groupby(S.LANGUAGE).size() / args.reps
    print(
        f"{args.reps} draws in {time.perf_counter() - t0:.0f} s; missed violations found per draw:",
        fn.round(2).to_dict(),
    )
    pd.set_option("display.width", 160)
    for interval in args.interval:
        est = automated_accuracy(draws, None, by=["rep", S.LANGUAGE], min_n=0, interval=interval)
        est["truth"] = [truth[lang][m] for lang, m in zip(est[S.LANGUAGE], est["metric"])]
        est["cover"] = (est[S.CI_LOW] <= est["truth"]) & (est["truth"] <= est[S.CI_HIGH])
        est["above"] = est[S.CI_LOW] > est["truth"]
        est["hw"] = (est[S.CI_HIGH] - est[S.CI_LOW]) / 2
        g = est.groupby([S.LANGUAGE, "metric"]).agg(
            mean=("estimate", "mean"),
            truth=("truth", "first"),
            cover=("cover", "mean"),
            above=("above", "mean"),
            hw=("hw", "mean"),
            hw90=("hw", lambda x: x.quantile(0.9)),
        )
        g.insert(2, "bias", g["mean"] - g["truth"])
        print(f"\ninterval on the effective n: {interval}")
        print(g.round(4).to_string())


if __name__ == "__main__":
    main()
