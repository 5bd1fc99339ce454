"""Sweep seeds of the demo generator and check every planted truth the way the tests do.

Run: ``.venv/bin/python bench/sweep_planted_truths.py [--seeds 20] [--sizes 60000 80000]``
(prints figures; not a test). For each size and seed 0..N-1 it generates the demo
data in memory and runs the planted-truth assertions of

* tests/test_synthetic.py (``syn.*``: plain group-bys on the raw tables),
* tests/test_rca.py (``rca.*``), tests/test_scoring.py (``scoring.*``),
  tests/test_model_eval.py (``model.*``),
* tests/test_drift.py and tests/test_effects.py (``drift.*``, ``effects.*``: these
  tests generate with ``audit_rate=0.25``, so does the sweep),
* tests/test_reports.py (``report.*``): the Vendor B scorecard's drill-down
  (``rca.top_findings`` as in notebooks/10_vendor_scorecard.ipynb, on
  ``views.load_scope(tables=...)`` + ``report.vendor_audits``, last 12 weeks) must
  list "Penang × night" first, with its fatigue root cause, and the summary must
  name a largest slice.

Each check mirrors the test's assertions (same thresholds); on failure it
records the first assertion that failed and, for rankings, the runner-up. The
table gives, per check and size, the seeds passing and the failing seeds with
the reason. ``--checks`` takes name prefixes (e.g. ``--checks rca.fatigue report``);
``--audit-rate`` overrides the generator's default audit share; ``--default-seed``
adds DEFAULT_SEED. About 3.5 s per seed and size on one core (20 seeds x 2 sizes:
~2.5 min), so bench/run_all.py (``bench_*.py``) does not run it.

Some checks assert a null and fail at their test's level by construction, whatever
the generator: ``rca.confounder`` (Vendor D's adjusted odds-ratio CI covers 1),
``model.recall_id`` (a 95% CI covers the design recall), ``effects.null_actions``
(three actions without effect, each judged at 5%), and ``report.vendor_b_first``
(rca.top_findings keeps a parent such as "night" when the rest of it is worse at
p < 0.05: ~1 seed in 12 with no planted cause).
"""

from __future__ import annotations

import argparse
import re
import time
from collections import defaultdict

import numpy as np
import pandas as pd
from scipy.stats import binomtest
from statsmodels.stats.proportion import proportion_confint, proportions_ztest

from modqa_lib.contract import schema as S
from modqa_lib.data import io, synthetic
from modqa_lib.data import scope as views
from modqa_lib.report import tables as report
from modqa_lib.report.summary import summary_text
from modqa_lib.stats import drift, effects, rca
from modqa_lib.stats.model_eval import hitl_overrides, model_metrics
from modqa_lib.stats.scoring import accuracy_table, golden_accuracy

TAX = S.load_taxonomy()
VB_DIMS = [S.SITE, S.SHIFT, S.POLICY, S.MARKET, S.CONTENT_TYPE, S.TENURE_BAND]


class Fail(Exception):
    """A failed check, with a short reason (the runner-up where there is one)."""


def need(cond, why: str) -> None:
    if not bool(cond):
        raise Fail(why)


def _top(dd: pd.DataFrame, k: int = 2) -> str:
    return (
        " > ".join(f"{v} ({e:.1f})" for v, e in dd[[rca.VALUE, rca.EXCESS_ERRORS]].head(k).itertuples(index=False))
        if rca.EXCESS_ERRORS in dd
        else " > ".join(map(str, dd[rca.VALUE].head(k)))
    )


# ------------------------------------------------------------------------ data per seed
class Seed:
    """Data of one seed and size, built lazily (the 25% audit-rate set only when needed)."""

    def __init__(self, seed: int, n: int, audit_rate: float | None = None):
        self.seed, self.n = seed, n
        self.kw = {} if audit_rate is None else {"audit_rate": audit_rate}
        self._cache: dict = {}

    def _get(self, key, build):
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    @property
    def demo(self):
        return self._get("demo", lambda: synthetic.generate(seed=self.seed, n_decisions=self.n, **self.kw))

    @property
    def audits(self):  # io.audited_decisions (conftest's audited60k)
        return self._get("audits", lambda: io.audited_decisions(self.demo.tables))

    @property
    def human(self):  # test_rca's `human`
        return self._get("human", lambda: self.audits[self.audits[S.CHANNEL] != "machine"])

    @property
    def syn_audited(self):  # test_synthetic's `audited` fixture
        def build():
            d = self.demo
            t = d.tables
            a = t["audits"][~t["audits"][S.IS_GOLDEN]].merge(t["decisions"], on=S.DECISION_ID, validate="one_to_one")
            hour = pd.Series(0, index=a.index)
            for site, tz in synthetic.SITE_TIMEZONES.items():
                m = a[S.SITE] == site
                hour[m] = a.loc[m, S.DECIDED_AT].dt.tz_convert(tz).dt.hour
            a["shift"] = np.select([(hour >= 7) & (hour < 15), (hour >= 15) & (hour < 23)], ["day", "evening"], "night")
            a["wk"] = (a[S.DECIDED_AT] - pd.Timestamp(d.truth["start"], tz="UTC")).dt.days // 7 + 1
            a["human"] = a[S.CHANNEL] != "machine"
            return a

        return self._get("syn", build)

    @property
    def demo25(self):
        def build():
            d = synthetic.generate(seed=self.seed, n_decisions=self.n, audit_rate=0.25)
            return d, io.audited_decisions(d.tables)

        return self._get("demo25", build)

    @property
    def vendor_b(self):
        def build():
            scope = views.load_scope(tables=self.demo.tables, vendor="Vendor B", period="last:12")
            own, _ = report.vendor_audits(scope, "Vendor B")
            return own

        return self._get("vb", build)


def rate(a: pd.DataFrame) -> float:
    return float(a[S.IS_ERROR].mean())


# ------------------------------------------------------------------------ tests/test_synthetic.py
def syn_fatigue(s: Seed):
    truth = s.demo.truth["fatigue"]
    au = s.syn_audited
    hum = au[au["human"]]
    pen = hum[(hum[S.VENDOR] == truth["vendor"]) & (hum[S.SITE] == truth["site"])]
    night = pen[pen["shift"] == truth["shift"]]
    rest = hum.drop(night.index)
    need(len(night) >= 100, f"n night {len(night)} < 100")
    need(rate(night) > 0.11 and rate(night) > 2 * rate(rest), f"night {rate(night):.3f} vs rest {rate(rest):.3f}")
    other = rate(pen[pen["shift"] != truth["shift"]])
    need(other < 1.5 * rate(rest), f"other Penang shifts {other:.3f} >= 1.5 x rest {rate(rest):.3f}")
    cells = hum.groupby([S.SITE, "shift"])[S.IS_ERROR].mean().sort_values(ascending=False)
    need(
        cells.index[0] == (truth["site"], truth["shift"]),
        f"top cell {cells.index[0]} {cells.iloc[0]:.3f} vs Penang night {rate(night):.3f}",
    )
    _, hi = proportion_confint(int((~night[S.IS_ERROR]).sum()), len(night), alpha=0.05, method="wilson")
    need(hi < 0.95, f"accuracy CI high {hi:.3f} >= 0.95")
    rc = night.loc[night[S.IS_ERROR], S.ROOT_CAUSE].value_counts()
    need(rc.index[0] == truth["root_cause"], f"root cause {rc.index[0]}")


def syn_ambiguous(s: Seed):
    truth = s.demo.truth["ambiguous_policy"]
    au = s.syn_audited
    bp = au.groupby(S.POLICY)[S.IS_ERROR].mean().sort_values()
    need(bp.index[-1] == truth["policy"], f"top policy {bp.index[-1]}")
    need(bp.iloc[-1] > 1.8 * bp.iloc[-2], f"ratio to {bp.index[-2]} {bp.iloc[-1] / bp.iloc[-2]:.2f} <= 1.8")
    err = au[(au[S.POLICY] == truth["policy"]) & au[S.IS_ERROR]]
    need((err[S.ERROR_TYPE] == truth["error_type"]).mean() > 0.6, "wrong_policy share <= 0.6")
    need(err[S.ROOT_CAUSE].value_counts().index[0] == truth["root_cause"], "root cause")
    wp = err[err[S.ERROR_TYPE] == "wrong_policy"]
    need(wp[S.LABEL].isin(truth["labelled_as"]).mean() > 0.9, "labelled_as <= 0.9")
    bv = au[au["human"] & (au[S.POLICY] == truth["policy"])].groupby(S.VENDOR)[S.IS_ERROR].mean()
    need((bv > 0.08).all(), f"vendor {bv.idxmin()} {bv.min():.3f} <= 0.08")


def syn_model_fn(s: Seed):
    truth = s.demo.truth["model_fn"]
    au = s.syn_audited
    m = au[au[S.MODEL_LABEL].notna() & (au[S.QA_LABEL] != TAX.no_violation)]
    hit = m[S.MODEL_LABEL] != TAX.no_violation
    recall = hit.groupby(m[S.MARKET]).mean()
    need(recall.idxmin() == truth["market"], f"lowest {recall.idxmin()}")
    gap = recall.drop(truth["market"]).min() - recall[truth["market"]]
    need(gap > 0.08, f"gap {gap:.3f} to {recall.drop(truth['market']).idxmin()}")
    wt = (hit * m[S.WEIGHT]).groupby(m[S.MARKET]).sum() / m[S.WEIGHT].groupby(m[S.MARKET]).sum()
    need(wt.idxmin() == truth["market"], f"weighted lowest {wt.idxmin()}")
    blind = (m[S.MARKET] == truth["market"]) & (m[S.CONTENT_TYPE] == truth["content_type"])
    need(
        hit[blind].mean() < 0.65 and hit[~blind].mean() > 0.8,
        f"blind {hit[blind].mean():.3f} elsewhere {hit[~blind].mean():.3f}",
    )
    missed = au[
        (au[S.CHANNEL] == "machine")
        & au[S.IS_ERROR]
        & (au[S.MARKET] == truth["market"])
        & (au[S.CONTENT_TYPE] == truth["content_type"])
    ]
    need(len(missed) > 10 and (missed[S.ROOT_CAUSE] == truth["root_cause"]).all(), f"missed {len(missed)}")


def syn_drift(s: Seed):
    au = s.syn_audited
    har = au[au["human"] & (au[S.POLICY] == "harassment")]
    before, after = har[har["wk"] < 7], har[har["wk"] >= 7]
    need(
        rate(before) < 0.05 and rate(after) > 0.08 and rate(after) > 2.5 * rate(before),
        f"before {rate(before):.3f} after {rate(after):.3f}",
    )
    need(rate(har[har["wk"] >= 10]) > 2 * rate(before), f"weeks 10+ {rate(har[har['wk'] >= 10]):.3f}")
    rc = after[after[S.IS_ERROR]][S.ROOT_CAUSE].value_counts()
    need(rc.index[0] == "policy_knowledge_gap", f"root cause {rc.index[0]}")


def _action_slices(s: Seed, key: str):
    truth = s.demo.truth[key]
    au = s.syn_audited
    start = pd.Timestamp(truth["started_at"])
    sl = au[au["human"] & (au[S.SITE] == truth["site"]) & (au[S.POLICY] == truth["policy"])]
    others = au[au["human"] & (au[S.SITE] != truth["site"]) & (au[S.POLICY] == truth["policy"])]
    return truth, sl[sl[S.DECIDED_AT] < start], sl[sl[S.DECIDED_AT] >= start], others


def syn_action_worked(s: Seed):
    truth, before, after, others = _action_slices(s, "action_worked")
    need(len(before) >= 40 and len(after) >= 60, f"n before {len(before)} after {len(after)}")
    need(rate(before) > 0.12 and rate(before) > 3 * rate(after), f"before {rate(before):.3f} after {rate(after):.3f}")
    need(rate(after) < 1.5 * rate(others), f"after {rate(after):.3f} others {rate(others):.3f}")
    rc = before.loc[before[S.IS_ERROR], S.ROOT_CAUSE].value_counts()
    need(rc.index[0] == truth["root_cause"], f"root cause {rc.index[0]}")


def _larger(a: pd.DataFrame, b: pd.DataFrame) -> float:
    return float(
        proportions_ztest([a[S.IS_ERROR].sum(), b[S.IS_ERROR].sum()], [len(a), len(b)], alternative="larger")[1]
    )


def syn_action_failed(s: Seed):
    _, before, after, others = _action_slices(s, "action_failed")
    why = f"before {rate(before):.3f} ({len(before)}) after {rate(after):.3f} ({len(after)}) others {rate(others):.3f}"
    need(_larger(before, others) < 0.05 and _larger(after, others) < 0.05, "not worse than others: " + why)
    need(_larger(before, after) > 0.01, "improved: " + why)


def syn_confounder(s: Seed):
    truth = s.demo.truth["confounder"]
    au = s.syn_audited
    hum = au[au["human"]]
    acc = (1 - hum.groupby(S.VENDOR)[S.IS_ERROR].mean()).sort_values()
    need(acc.index[0] == truth["vendor"], f"lowest {acc.index[0]}")
    need(acc.iloc[1] - acc.iloc[0] > 0.01, f"gap to {acc.index[1]} {acc.iloc[1] - acc.iloc[0]:.4f}")
    is_d = hum[S.VENDOR] == truth["vendor"]
    share = hum[S.POLICY].isin(truth["hard_policies"]).groupby(is_d).mean()
    need(share[True] > 2 * share[False], "hard share")
    others_rate = hum[~is_d].groupby(S.POLICY)[S.IS_ERROR].mean()
    d = hum[is_d]
    ratio = d[S.IS_ERROR].sum() / d[S.POLICY].map(others_rate).sum()
    need(0.75 < ratio < 1.35, f"standardised ratio {ratio:.2f}")


def syn_calibration(s: Seed):
    d = s.demo
    truth = d.truth["calibration"]
    t = d.tables
    cal = t["calibration"].merge(t["golden"], on=S.ITEM_ID)
    mis = cal[cal[S.GOLD_LABEL] == truth["bias"]["from"]]
    to_hate = (mis[S.LABEL] == truth["bias"]["to"]).groupby(mis[S.RATER_GROUP]).mean()
    need(0.15 < to_hate[truth["biased_group"]] < 0.45, f"bias {to_hate[truth['biased_group']]:.2f}")
    need(to_hate.drop(truth["biased_group"]).max() < 0.05, "other groups biased")
    dissent = (cal[S.LABEL] != cal[S.GOLD_LABEL]).groupby([cal[S.SESSION_ID], cal[S.ITEM_ID]]).sum()
    split = d.truth["realised"]["calibration_split_items"]
    need(len(split) == 6, "split items")
    for sess, item in dissent.index:
        if item in split:
            need(4 <= dissent[(sess, item)] <= 5, "split dissent")
    need(dissent.groupby(level=0).max().ge(4).all(), "session without split")
    ga = t["audits"][t["audits"][S.IS_GOLDEN]].merge(t["golden"], left_on=S.DECISION_ID, right_on=S.ITEM_ID)
    miss = (ga[S.QA_LABEL] != ga[S.GOLD_LABEL]).groupby(ga[S.AUDITOR_ID]).agg(["sum", "size"])
    wrong = (miss["sum"] / miss["size"]).sort_values(ascending=False)
    need(wrong.index[0] == truth["worst_golden_auditor"], f"worst {wrong.index[0]}")
    need(wrong.iloc[0] >= 0.12, f"worst {wrong.iloc[0]:.3f}")
    good = miss.drop(truth["worst_golden_auditor"])
    pooled = good["sum"].sum() / good["size"].sum()
    need(pooled < 0.05, f"pooled others {pooled:.3f}")
    p = [binomtest(int(k), int(m), pooled, alternative="greater").pvalue for k, m in good.to_numpy()]
    need(min(p) > 0.05 / len(good), f"runner-up {wrong.index[1]} {wrong.iloc[1]:.3f} significant")


def syn_hitl(s: Seed):
    r = s.demo.truth["realised"]
    need(0.10 < r["hitl_override_rate"] < 0.20 and 0.65 < r["hitl_override_accuracy"] < 0.85, "realised")
    au = s.syn_audited
    h = au[au[S.CHANNEL] == "hitl"]
    over = h[S.LABEL] != h[S.MODEL_LABEL]
    w = h[S.WEIGHT]
    need(abs((over * w).sum() / w.sum() - r["hitl_override_rate"]) <= 0.04, "override rate")
    need(abs((~h.loc[over, S.IS_ERROR]).mean() - r["hitl_override_accuracy"]) <= 0.12, "override accuracy")


def syn_realised(s: Seed):
    d = s.demo
    r = d.truth["realised"]
    need(r["fatigue"]["slice_error_rate"] > 0.12 > r["fatigue"]["penang_other_shifts"], "fatigue")
    need(r["drift"]["error_rate_after"] > 2.5 * r["drift"]["error_rate_before"], "drift")
    need(r["action_worked"]["error_rate_before"] > 4 * r["action_worked"]["error_rate_after"], "worked")
    need(r["action_failed"]["error_rate_after"] > 0.08, f"failed after {r['action_failed']['error_rate_after']}")
    pol = r["ambiguous_policy"]["policy_error_rate_all_channels"]
    need(max(pol, key=pol.get) == "misinformation", "policy")
    rec = r["model_fn"]["recall_by_market"]
    need(min(rec, key=rec.get) == "ID", "recall market")
    need(abs(r["model_fn"]["recall_slice"] - d.truth["model_fn"]["recall"]) < 0.05, "recall slice")
    v = r["confounder"]["vendor_error_rate"]
    need(max(v, key=v.get) == "Vendor D", f"worst vendor {max(v, key=v.get)}")
    need(0.35 <= r["violation_prevalence"] <= 0.45, "prevalence")
    need(0.03 <= r["human_error_rate"] <= 0.065, f"human error rate {r['human_error_rate']}")


# ------------------------------------------------------------------------ tests/test_rca.py
def _pairs(dd: pd.DataFrame) -> pd.DataFrame:
    return dd[dd[rca.DEPTH] == 2]


def rca_fatigue_pair(s: Seed):
    target = "Penang × night"
    dd = rca.drilldown(s.human, [S.SITE, S.SHIFT], depth=2)
    pn = dd[dd[rca.VALUE] == target].iloc[0]
    need(pn[rca.FLAG] and pn[rca.LIFT] > 2, f"flag {pn[rca.FLAG]} lift {pn[rca.LIFT]:.2f}")
    need(_pairs(dd).iloc[0][rca.VALUE] == target, f"pairs: {_top(_pairs(dd))}")
    penang = dd[(dd[rca.DIMENSION] == S.SITE) & (dd[rca.VALUE] == "Penang")].iloc[0]
    need(
        penang[rca.EXPLAINED_BY] == f"{target} ({S.SITE} × {S.SHIFT})",
        f"Penang explained_by {penang[rca.EXPLAINED_BY]}",
    )


def rca_fatigue_pair_other_policies(s: Seed):
    other = s.human[~s.human[S.POLICY].isin(s.demo.truth["confounder"]["hard_policies"])]
    dd = rca.drilldown(other, [S.SITE, S.SHIFT], depth=2)
    need(_pairs(dd).iloc[0][rca.VALUE] == "Penang × night", f"pairs: {_top(_pairs(dd))}")


def rca_fatigue_more_dims(s: Seed):
    dims = [S.SITE, S.SHIFT, S.POLICY, S.CONTENT_TYPE, S.MARKET, S.TENURE_BAND]
    dd = rca.drilldown(s.human, dims, depth=2)
    need(dd[dd[rca.VALUE] == "Penang × night"].iloc[0][rca.FLAG], "not flagged")
    tf = rca.top_findings(s.human, dims)
    need("misinformation" in tf.iloc[0][rca.VALUE], f"first finding {tf.iloc[0][rca.VALUE]}")
    other = tf[~tf[rca.DIMENSION].str.contains(S.POLICY)]
    need(not other.empty and other.iloc[0][rca.VALUE] == "Penang × night", f"first non-policy: {_top(other)}")
    need(other.iloc[0][S.ROOT_CAUSE] == "fatigue_attention", f"root cause {other.iloc[0][S.ROOT_CAUSE]}")


def rca_ambiguous(s: Seed):
    a = s.audits
    dd = rca.drilldown(a, [S.POLICY])
    need(dd.iloc[0][rca.VALUE] == "misinformation" and dd.iloc[0][rca.FLAG], f"first {dd.iloc[0][rca.VALUE]}")
    need(rca.pareto(a[a[S.POLICY] == "misinformation"]).iloc[0][S.ROOT_CAUSE] == "guideline_ambiguity", "cause")
    pt = rca.pareto(a, cause=S.ERROR_TYPE, by=S.POLICY)
    need(pt[pt[S.POLICY] == "misinformation"].iloc[0][S.ERROR_TYPE] == "wrong_policy", "error type")


def rca_fatigue_root_cause(s: Seed):
    a = s.audits
    pt = rca.pareto(a[(a[S.SITE] == "Penang") & (a[S.SHIFT] == "night")])
    need(pt.iloc[0][S.ROOT_CAUSE] == "fatigue_attention", f"first cause {pt.iloc[0][S.ROOT_CAUSE]}")
    need(
        pt.iloc[0][S.CI_LOW] > pt.iloc[1][rca.SHARE],
        f"ci_low {pt.iloc[0][S.CI_LOW]:.2f} <= {pt.iloc[1][S.ROOT_CAUSE]} {pt.iloc[1][rca.SHARE]:.2f}",
    )


def rca_confounder(s: Seed):
    human = s.human
    vd = "Vendor D"
    raw = rca.drilldown(human, [S.VENDOR]).sort_values(S.ERROR_RATE, ascending=False)
    need(raw.iloc[0][rca.VALUE] == vd, f"worst {raw.iloc[0][rca.VALUE]}")
    crude = rca.error_drivers(human, [S.VENDOR])
    c = crude[crude[rca.LEVEL] == vd].iloc[0]
    need(c[rca.ODDS_RATIO] > 1.3, f"crude OR {c[rca.ODDS_RATIO]:.2f}")
    adj = rca.error_drivers(human, [S.VENDOR, S.POLICY])
    d = adj[(adj[rca.DIMENSION] == S.VENDOR) & (adj[rca.LEVEL] == vd)].iloc[0]
    need(
        d[S.CI_LOW] <= 1 <= d[S.CI_HIGH] and d[S.P_VALUE] > 0.05,
        f"adjusted OR {d[rca.ODDS_RATIO]:.2f} [{d[S.CI_LOW]:.2f}, {d[S.CI_HIGH]:.2f}]",
    )
    need(d[rca.ODDS_RATIO] < c[rca.ODDS_RATIO], "adjusted >= crude")
    mis = adj[(adj[rca.DIMENSION] == S.POLICY) & (adj[rca.LEVEL] == "misinformation")].iloc[0]
    need(mis[rca.FLAG], "misinformation not flagged")


def rca_drift_rate(s: Seed):
    human = s.human
    weeks = sorted(human[S.WEEK].unique())
    before, after = (weeks[0], weeks[5]), (weeks[6], weeks[11])
    dc = rca.decompose_change(human, before, after, by=S.POLICY)
    grp = dc[~dc[rca.IS_TOTAL]].set_index(rca.GROUP)
    har = grp.loc["harassment"]
    need(har[rca.RATE_EFFECT] > abs(har[rca.MIX_EFFECT]), "mix > rate")
    need(grp[rca.RATE_EFFECT].idxmax() == "harassment", f"largest rate effect {grp[rca.RATE_EFFECT].idxmax()}")
    need(har[S.CI_LOW] > 0, "CI includes 0")
    h = rca.decompose_change(human[human[S.POLICY] == "harassment"], before, after, by=S.VENDOR)
    tot = h[h[rca.IS_TOTAL]].iloc[0]
    need(tot[rca.RATE_EFFECT] > 3 * abs(tot[rca.MIX_EFFECT]) and tot[S.CI_LOW] > 0, "by vendor")


def rca_summary_penang(s: Seed):
    a = s.audits
    txt = summary_text(a[a[S.SITE] == "Penang"], "Penang")
    m = re.search(r"Largest excess: ([^.;]*)", txt)
    need("Largest excess: night (shift)" in txt, f"largest: {m.group(1) if m else None}")
    need("root cause mostly Fatigue / attention" in txt, "root cause")


# ------------------------------------------------------------------------ scoring / model_eval
def scoring_fatigue(s: Seed):
    human = s.audits[s.audits[S.SITE] != "model"]
    t = accuracy_table(human, [S.VENDOR, S.SITE, S.SHIFT], weights=S.WEIGHT, targets=io.load_targets())
    key = (t[S.VENDOR] == "Vendor B") & (t[S.SITE] == "Penang") & (t[S.SHIFT] == "night")
    row = t[key].iloc[0]
    need(row["status"] == "missed" and row[S.CI_HIGH] < 0.95, f"status {row['status']} ci_high {row[S.CI_HIGH]:.3f}")
    lo = t.sort_values(S.ACCURACY).iloc[0]
    need(
        t[S.ACCURACY].idxmin() == t[key].index[0],
        f"lowest weighted {lo[S.SITE]} × {lo[S.SHIFT]} {lo[S.ACCURACY]:.3f} vs {row[S.ACCURACY]:.3f}",
    )
    need(row[S.Q_VALUE] < 0.05, f"q {row[S.Q_VALUE]:.3f}")
    site = t[(t[S.VENDOR] == "Vendor B") & (t[S.SITE] == "Penang")]
    need(site.loc[site[S.ACCURACY].idxmin(), S.SHIFT] == "night", "not lowest at Penang")
    u = accuracy_table(human, [S.SITE, S.SHIFT], targets=io.load_targets())
    lowest = u.loc[u[S.ACCURACY].idxmin()]
    need(
        (lowest[S.SITE], lowest[S.SHIFT]) == ("Penang", "night"),
        f"lowest unweighted {lowest[S.SITE]} × {lowest[S.SHIFT]}",
    )


def scoring_weak_auditor(s: Seed):
    ag = io.audited_decisions(s.demo.tables, include_golden=True)
    t = golden_accuracy(ag, s.demo.tables["golden"])
    worst = t.loc[t[S.ACCURACY].idxmin()]
    need(worst[S.AUDITOR_ID] == "QA-07", f"worst {worst[S.AUDITOR_ID]}")
    need(worst["flag"] and t["flag"].sum() == 1, f"flags {int(t['flag'].sum())}")


def model_recall(s: Seed):
    a = s.audits
    for weights in (S.WEIGHT, None):
        m = model_metrics(a, S.MARKET, weights=weights)
        rec = m[m["metric"] == "recall"].set_index(S.MARKET)["estimate"].sort_values()
        need(rec.index[0] == "ID", f"lowest ({weights}) {rec.index[0]}")
    m = model_metrics(a[a[S.MARKET] == "ID"], S.CONTENT_TYPE, weights=S.WEIGHT)
    rec = m[m["metric"] == "recall"].set_index(S.CONTENT_TYPE)
    need(rec["estimate"].idxmin() == "livestream", f"lowest content type {rec['estimate'].idxmin()}")
    r = s.demo.truth["model_fn"]["recall"]
    need(rec.loc["livestream", S.CI_LOW] < r < rec.loc["livestream", S.CI_HIGH], "CI misses design recall")


def model_hitl(s: Seed):
    r = s.demo.truth["realised"]
    h = hitl_overrides(s.audits, None, weights=S.WEIGHT, alpha=0.01).iloc[0]
    need(h["override_rate_ci_low"] <= r["hitl_override_rate"] <= h["override_rate_ci_high"], "rate CI")
    need(h["override_accuracy_ci_low"] <= r["hitl_override_accuracy"] <= h["override_accuracy_ci_high"], "acc CI")
    need(abs(h["override_rate"] - s.demo.truth["hitl"]["override_rate"]) < 0.05, "rate vs design")


# ------------------------------------------------------------------------ drift / effects (25%)
def _flags(s: Seed):
    d, a = s.demo25
    return s._get("flags", lambda: drift.drift_flags(a, by=[S.POLICY], policy_changes=d.tables["policy_changes"]))


def drift_first(s: Seed):
    f = _flags(s)
    top = f.iloc[0]
    need(top[S.POLICY] == "harassment", f"first {top[S.POLICY]}")
    need(top["rank"] == 1 and top["confirmed"] and top["direction"] == "up", "not confirmed/up")
    start = pd.Timestamp("2026-08-31")
    week = (top["first_out_of_control"] - start).days // 7 + 1
    need(week in (7, 8), f"first out-of-control week {week}")
    need(top["policy_change"].startswith("after policy change 'harassment: "), "label")
    need(
        top["rate_before"] < 0.06 and top["rate_after"] > 0.08,
        f"before {top['rate_before']:.3f} after {top['rate_after']:.3f}",
    )


def drift_false_alarms(s: Seed):
    f = _flags(s)
    stable = f[~f[S.POLICY].isin(["harassment", "hate_speech"])]
    need(int(stable["flagged"].sum()) <= 3, f"flagged {int(stable['flagged'].sum())}")
    need(int(stable["confirmed"].sum()) <= 2, f"confirmed {list(stable.loc[stable['confirmed'], S.POLICY])}")
    har = f.set_index(S.POLICY).loc["harassment"]
    need((stable["cp_lr_stat"] < har["cp_lr_stat"]).all(), "lr stat")
    need((stable["n_out_of_control"] < har["n_out_of_control"]).all(), "n out of control")


def drift_change_points(s: Seed):
    d, a = s.demo25
    cp = drift.change_points(a, by=S.POLICY, policy_changes=d.tables["policy_changes"])
    h = cp.set_index(S.POLICY).loc["harassment"]
    need(h["significant"] and h["direction"] == "up", "not significant")
    need(h["change_period"] == pd.Timestamp("2026-10-12"), f"period {h['change_period']}")


def _effects(s: Seed):
    d, a = s.demo25
    return s._get(
        "fx",
        lambda: effects.action_effects(a, d.tables["actions"], policy_changes=d.tables["policy_changes"]).set_index(
            S.ACTION_ID
        ),
    )


def effects_worked(s: Seed):
    r = _effects(s).loc["ACT-003"]
    need(r["verdict"] == "worked" and r["did"] > 0 and r["did_ci_low"] > 0, f"verdict {r['verdict']}")
    need(r["accuracy_after"] > r["accuracy_before"] and r["reason"] == "", "after <= before")


def effects_failed(s: Seed):
    out = _effects(s)
    need(out.loc["ACT-004", "verdict"] != "worked", "ACT-004 'worked'")
    need(abs(out.loc["ACT-004", "did"]) < 0.1, f"did {out.loc['ACT-004', 'did']:.3f}")


def effects_null_actions(s: Seed):
    out = _effects(s)
    bad = [
        f"{aid}: {out.loc[aid, 'verdict']}"
        for aid in ("ACT-001", "ACT-002", "ACT-005")
        if out.loc[aid, "verdict"] not in ("no evidence", "insufficient data")
    ]
    need(not bad, "; ".join(bad))


# ------------------------------------------------------------------------ tests/test_reports.py
def report_vendor_b(s: Seed):
    own = s.vendor_b
    drill = rca.top_findings(own, dims=VB_DIMS, depth=2, alpha=0.05, max_findings=12)
    need(not drill.empty and drill.iloc[0][rca.VALUE] == "Penang × night", f"first: {_top(drill)}")
    need(drill.iloc[0][S.ROOT_CAUSE] == "fatigue_attention", f"cause {drill.iloc[0][S.ROOT_CAUSE]}")


def report_summary(s: Seed):
    txt = summary_text(s.vendor_b, unit_label="Vendor B", dims=VB_DIMS, weights=S.WEIGHT)
    need("Largest excess:" in txt, "no largest slice")


CHECKS = {
    "syn.fatigue": syn_fatigue,
    "syn.ambiguous": syn_ambiguous,
    "syn.model_fn": syn_model_fn,
    "syn.drift": syn_drift,
    "syn.action_worked": syn_action_worked,
    "syn.action_failed": syn_action_failed,
    "syn.confounder": syn_confounder,
    "syn.calibration": syn_calibration,
    "syn.hitl": syn_hitl,
    "syn.realised": syn_realised,
    "rca.fatigue_pair": rca_fatigue_pair,
    "rca.fatigue_pair_other_policies": rca_fatigue_pair_other_policies,
    "rca.fatigue_more_dims": rca_fatigue_more_dims,
    "rca.ambiguous": rca_ambiguous,
    "rca.fatigue_root_cause": rca_fatigue_root_cause,
    "rca.confounder": rca_confounder,
    "rca.drift_rate": rca_drift_rate,
    "rca.summary_penang": rca_summary_penang,
    "scoring.fatigue": scoring_fatigue,
    "scoring.weak_auditor": scoring_weak_auditor,
    "model.recall_id": model_recall,
    "model.hitl": model_hitl,
    "drift.first": drift_first,
    "drift.false_alarms": drift_false_alarms,
    "drift.change_points": drift_change_points,
    "effects.worked": effects_worked,
    "effects.failed": effects_failed,
    "effects.null_actions": effects_null_actions,
    "report.vendor_b_first": report_vendor_b,
    "report.summary": report_summary,
}


def run(seeds, sizes, names, verbose=False, audit_rate=None):
    results = defaultdict(dict)  # (check, size) -> {seed: reason or None}
    for n in sizes:
        for seed in seeds:
            t = time.perf_counter()
            s = Seed(seed, n, audit_rate)
            for name in names:
                try:
                    CHECKS[name](s)
                    results[(name, n)][seed] = None
                except Fail as exc:
                    results[(name, n)][seed] = str(exc)
                except Exception as exc:  # a crash counts as a failure, with its type
                    results[(name, n)][seed] = f"{type(exc).__name__}: {exc}"[:120]
            if verbose:
                bad = [k for k in names if results[(k, n)][seed]]
                print(f"  n={n:,} seed {seed}: {time.perf_counter() - t:.1f} s, fails: {bad}", flush=True)
    return results


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20, help="seeds 0..N-1")
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--sizes", type=int, nargs="+", default=[80_000, 60_000])
    ap.add_argument("--checks", nargs="*", default=None, help="name prefixes of the checks to run")
    ap.add_argument("--default-seed", action="store_true", help="also report DEFAULT_SEED")
    ap.add_argument(
        "--audit-rate",
        type=float,
        default=None,
        help="audit rate of the default-rate checks (default: the generator's)",
    )
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    names = [k for k in CHECKS if not args.checks or any(k.startswith(p) for p in args.checks)]
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    if args.default_seed:
        seeds.append(synthetic.DEFAULT_SEED)
    t0 = time.perf_counter()
    res = run(seeds, args.sizes, names, args.verbose, args.audit_rate)
    k = len(seeds)
    print(
        f"planted-truth sweep: seeds {seeds[0]}..{seeds[-1]} ({k}), sizes "
        f"{', '.join(f'{n:,}' for n in args.sizes)}; {time.perf_counter() - t0:.0f} s"
    )
    head = f"{'check':34s}" + "".join(f"{f'{n // 1000}k':>8s}" for n in args.sizes)
    print(head)
    for name in names:
        print(
            f"{name:34s}"
            + "".join(f"{f'{sum(v is None for v in res[(name, n)].values())}/{k}':>8s}" for n in args.sizes)
        )
    print("\nfailures (seed: reason):")
    for name in names:
        for n in args.sizes:
            bad = {sd: why for sd, why in res[(name, n)].items() if why}
            for sd, why in bad.items():
                print(f"  {name} @ {n // 1000}k  seed {sd}: {why}")


if __name__ == "__main__":
    main()
