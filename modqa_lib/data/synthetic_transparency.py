"""Seeded demo data for the DSA transparency report, kept apart from the main demo set.

The main demo set (:mod:`modqa_lib.data.synthetic`) carries planted truths that many
tests pin (market, model and vendor effects); adding EU-language markets and a second
automated system to its tables would move those. So the transparency demo is a
**separate data set** with its own ``decisions``, ``audits`` and ``appeals`` tables
(written to ``data/raw/transparency/`` and ingested on its own), drawn from its own
random stream ``np.random.default_rng([seed, 1401])``:

* official-EU-language markets DE/de, FR/fr, PL/pl, IT/it, ES/es;
* two automated systems (``visual_classifier`` on videos and livestreams,
  ``text_classifier`` on comments and listings, as in ``params/systems.yaml``),
  fully automated or human-confirmed (HITL), besides human-only moderation;
* audits drawn by score band within system x language x actioned/non-actioned
  (simple random sampling within strata, with inclusion probabilities), so recall
  and FNR are estimable;
* appeals of actioned decisions, reversed more often when the decision was wrong.

**Planted**: the text classifier misses most Polish violations (:data:`PLANTED_TRANSPARENCY`):
60% of violating Polish comments and listings score like clean content, so its
recall in ``pl`` is far below its recall elsewhere.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from modqa_lib.contract import schema as S
from modqa_lib.data.synthetic import DEFAULT_SEED, DEFAULT_START
from modqa_lib.data.synthetic import atomic_write as _atomic_write
from modqa_lib.data.synthetic import contract_frame as _frame
from modqa_lib.data.synthetic import csv_bytes as _csv_bytes
from modqa_lib.data.synthetic import start_timestamp as _start_ts

__all__ = ["EU_MARKETS", "PLANTED_TRANSPARENCY", "generate_transparency", "write_transparency_demo"]

#: market -> official EU language
EU_MARKETS: dict[str, str] = {"DE": "de", "FR": "fr", "PL": "pl", "IT": "it", "ES": "es"}
_MARKET_SHARE = np.array([0.28, 0.24, 0.16, 0.17, 0.15])
_CT = ("video", "livestream", "comment", "product_listing")
_CT_SHARE = np.array([0.35, 0.15, 0.35, 0.15])
_SYSTEM_OF_CT = {"video": "visual_classifier", "livestream": "visual_classifier"}
_POLICIES = ("hate_speech", "harassment", "adult_nudity", "violent_graphic", "spam_scam")
_PREVALENCE = 0.10
_CHANNEL_P = np.array([0.25, 0.55, 0.20])  # human, machine, hitl
_THRESHOLD = 0.5
_BLIND = 0.6  # share of violating pl text items that score like clean content
_HUMAN_ERR = 0.03
_HITL_CATCH = 0.9
_BAND_EDGES = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.65, 0.8, 1.0)
_AUDIT_ACTIONED = 120  # per system x language (human: per language)
_AUDIT_NON_ACTIONED = 300
_APPEAL_RATE = 0.05
_REVERSE_IF_WRONG, _REVERSE_IF_RIGHT = 0.7, 0.06

PLANTED_TRANSPARENCY: dict = {
    "low_recall": {
        "system": "text_classifier",
        "language": "pl",
        "metric": "recall",
        "blind_share": _BLIND,
        "note": "60% of violating Polish comments and listings score like clean content; "
        "the text classifier's recall in pl is far below its recall in the other languages",
    },
    "appeals": {"reverse_if_wrong": _REVERSE_IF_WRONG, "reverse_if_right": _REVERSE_IF_RIGHT},
}


def _bands(score: np.ndarray) -> np.ndarray:
    e = np.asarray(_BAND_EDGES)
    idx = np.clip(np.searchsorted(e, score, side="right") - 1, 0, len(e) - 2)
    return np.where(np.isnan(score), -1, idx)


def generate_transparency(
    seed: int = DEFAULT_SEED, n_decisions: int = 60_000, start: str = DEFAULT_START, weeks: int = 4
) -> dict:
    """Generate the transparency demo set.

    Parameters
    ----------
    seed : int
        The stream is ``np.random.default_rng([seed, 1401])``.
    n_decisions : int, default 60000
    start : str, default "2026-08-31"
        Monday the period starts.
    weeks : int, default 4

    Returns
    -------
    dict
        ``decisions``, ``audits``, ``appeals`` (contract tables) and ``truth``
        (:data:`PLANTED_TRANSPARENCY` plus the realised population recall per
        system x language), and ``violating``: the true violation status of every
        decision (bool Series indexed by ``decision_id``; what a census audit would find),
        for simulations that draw new audits from the demo population.
    """
    rng = np.random.default_rng([seed, 1401])
    n = int(n_decisions)
    t0 = _start_ts(start)
    mk = rng.choice(len(EU_MARKETS), n, p=_MARKET_SHARE)
    markets = np.array(list(EU_MARKETS))[mk]
    langs = np.array(list(EU_MARKETS.values()))[mk]
    ct = np.array(_CT)[rng.choice(len(_CT), n, p=_CT_SHARE)]
    system = np.array([_SYSTEM_OF_CT.get(c, "text_classifier") for c in ct])
    chan = np.array(["human", "machine", "hitl"])[rng.choice(3, n, p=_CHANNEL_P)]
    viol = rng.random(n) < _PREVALENCE
    pol = np.array(_POLICIES)[rng.integers(0, len(_POLICIES), n)]
    truth_label = np.where(viol, pol, S.NO_VIOLATION)
    blind = viol & (langs == "pl") & (system == "text_classifier") & (rng.random(n) < _BLIND)
    score = np.where(viol & ~blind, rng.beta(4.0, 1.45, n), rng.beta(1.3, 6.5, n))
    model_label = np.where(score >= _THRESHOLD, pol, S.NO_VIOLATION)
    human_wrong = rng.random(n) < _HUMAN_ERR
    flipped = np.where(viol, S.NO_VIOLATION, pol)
    human_label = np.where(human_wrong, flipped, truth_label)
    hitl_label = np.where((model_label != truth_label) & (rng.random(n) < _HITL_CATCH), truth_label, model_label)
    label = np.select([chan == "machine", chan == "hitl"], [model_label, hitl_label], human_label)
    is_human = chan == "human"
    score = np.where(is_human, np.nan, np.round(score, 6))
    model_label_col = np.where(is_human, None, model_label)
    decided_s = rng.uniform(0, weeks * 7 * 86_400, n)
    order = np.argsort(decided_s, kind="stable")
    ids = np.array([f"TD{i:07d}" for i in range(n)], dtype=object)
    idx = order  # decisions in time order
    site = np.where(chan == "machine", "model", np.where(rng.random(n) < 0.5, "Lisbon", "Porto"))
    vendor = np.where(chan == "machine", "Platform", "Vendor C")
    mod = np.where(chan == "machine", None, np.char.add("C-EU-", rng.integers(1, 40, n).astype(str)))
    tenure = np.where(chan == "machine", None, rng.integers(10, 900, n)).astype(object)
    dec_at = t0 + pd.to_timedelta(decided_s, unit="s")
    cols = {
        S.DECISION_ID: ids,
        S.CONTENT_ID: np.array([f"TC{i:07d}" for i in range(n)], dtype=object),
        S.CONTENT_TYPE: ct,
        S.QUEUE: np.char.add(np.char.add(markets.astype(str), "-"), np.char.add(langs.astype(str), "-" + "eu")),
        S.MARKET: markets,
        S.LANGUAGE: langs,
        S.VENDOR: vendor,
        S.SITE: site,
        S.MODERATOR_ID: mod,
        S.MODERATOR_TENURE_DAYS: tenure,
        S.DECIDED_AT: dec_at,
        S.CHANNEL: chan,
        S.POLICY: pol,
        S.LABEL: label,
        S.ACTION: np.where(label == S.NO_VIOLATION, "no_action", "remove"),
        S.MODEL_LABEL: model_label_col,
        S.MODEL_SCORE: score,
        S.HANDLE_TIME_S: np.where(chan == "machine", np.nan, np.round(rng.lognormal(3.8, 0.5, n), 1)),
    }
    cols = {k: v[idx] for k, v in cols.items()}
    cols[S.DECISION_ID] = ids  # ids in time order
    dec = _frame("decisions", cols)
    viol, label, truth_label = viol[idx], label[idx], truth_label[idx]
    system, langs, chan = system[idx], langs[idx], chan[idx]
    score, model_label = score[idx], model_label[idx]

    # ------------------------------------------------------------- audits
    auto = chan != "human"
    actioned = np.where(auto, model_label != S.NO_VIOLATION, label != S.NO_VIOLATION)
    rep_sys = np.where(auto, system, "human_moderation")
    band = _bands(score)
    key = pd.Series(rep_sys, dtype=object) + "|" + langs + "|" + np.where(actioned, "A", "B")
    key = key + "|" + band.astype(str)
    arm_n = {}
    picked, prob, strata = [], [], []
    for (rs, lg, arm), g in pd.DataFrame({"s": rep_sys, "l": langs, "a": actioned}).groupby(["s", "l", "a"]):
        rows = g.index.to_numpy()
        total = _AUDIT_ACTIONED if arm else _AUDIT_NON_ACTIONED
        b = band[rows]
        bands, counts = np.unique(b, return_counts=True)
        if arm or rs == "human_moderation":
            w = counts.astype(float)  # proportional
        else:  # non-actioned: more audits in the high bands where missed violations sit
            w = counts * np.sqrt(np.clip(np.array(_BAND_EDGES)[np.clip(bands + 1, 1, None)], 0.02, 0.5))
        alloc = np.minimum(counts, np.maximum(2, np.round(total * w / w.sum()).astype(int)))
        for bb, nn, nh in zip(bands, counts, alloc):
            pool = rows[b == bb]
            take = rng.choice(pool, size=int(nh), replace=False)
            picked.append(take)
            prob.append(np.full(len(take), nh / nn))
            strata.append(np.full(len(take), f"{'actioned' if arm else 'non_actioned'}|{rs}|{lg}|{bb}", dtype=object))
        arm_n[(rs, lg, arm)] = int(alloc.sum())
    sel = np.concatenate(picked)
    p = np.concatenate(prob)
    order_a = np.argsort(sel, kind="stable")
    sel, p, strat = sel[order_a], p[order_a], np.concatenate(strata)[order_a]
    k = len(sel)
    qa = truth_label[sel]
    lab = label[sel]
    err = lab != qa
    etype = np.where(
        ~err,
        None,
        np.where(
            lab == S.NO_VIOLATION, "false_negative", np.where(qa == S.NO_VIOLATION, "false_positive", "wrong_policy")
        ),
    )
    dts = dec[S.DECIDED_AT].reset_index(drop=True)
    aud_at = dts.iloc[sel].reset_index(drop=True) + pd.to_timedelta(rng.uniform(3600, 3 * 86_400, k), unit="s")
    aud = _frame(
        "audits",
        {
            S.AUDIT_ID: np.array([f"TA{i:06d}" for i in range(k)], dtype=object),
            S.DECISION_ID: dec[S.DECISION_ID].to_numpy()[sel],
            S.AUDITOR_ID: np.array([f"QA-{i:02d}" for i in rng.integers(1, 9, k)], dtype=object),
            S.AUDITED_AT: aud_at.to_numpy(),
            S.QA_LABEL: qa,
            S.IS_ERROR: err,
            S.ERROR_TYPE: etype,
            S.SEVERITY: np.where(err, "major", None),
            S.ROOT_CAUSE: np.where(err, np.where(chan[sel] == "human", "misread_context", "model_error"), None),
            S.SAMPLE_ID: "transparency-demo",
            S.STRATUM: strat,
            S.INCLUSION_PROB: p,
            S.WEIGHT: 1.0 / p,
            S.IS_GOLDEN: np.zeros(k, dtype=bool),
        },
    )

    # ------------------------------------------------------------- appeals
    is_act = label != S.NO_VIOLATION
    ap = is_act & (rng.random(n) < _APPEAL_RATE)
    ai = np.flatnonzero(ap)
    wrong = ~viol[ai]
    reversed_ = rng.random(len(ai)) < np.where(wrong, _REVERSE_IF_WRONG, _REVERSE_IF_RIGHT)
    pending = rng.random(len(ai)) < 0.04
    appealed = dts.iloc[ai].reset_index(drop=True) + pd.to_timedelta(rng.exponential(86_400, len(ai)), unit="s")
    hours = rng.lognormal(np.log(np.where(chan[ai] == "human", 40.0, 20.0)), 0.8)
    decided = (appealed + pd.to_timedelta(hours * 3600, unit="s")).where(~pending)
    app = _frame(
        "appeals",
        {
            S.DECISION_ID: dec[S.DECISION_ID].to_numpy()[ai],
            S.APPEALED_AT: appealed.to_numpy(),
            S.OUTCOME: np.where(pending, None, np.where(reversed_, "reversed", "upheld")),
            S.DECIDED_AT: decided.to_numpy(),
        },
    )

    # ------------------------------------------------------------- truths
    rec = {}
    for s_ in ("visual_classifier", "text_classifier"):
        for lg in EU_MARKETS.values():
            m = auto & (system == s_) & (langs == lg) & viol
            if m.any():
                rec[f"{s_}|{lg}"] = round(float((model_label[m] != S.NO_VIOLATION).mean()), 4)
    truth = {**PLANTED_TRANSPARENCY, "realised_recall": rec}
    violating = pd.Series(viol, index=pd.Index(dec[S.DECISION_ID].to_numpy(), name=S.DECISION_ID), name="violating")
    return {"decisions": dec, "audits": aud, "appeals": app, "truth": truth, "violating": violating}


def write_transparency_demo(out: str | Path, seed: int = DEFAULT_SEED, n_decisions: int = 60_000) -> Path:
    """Write the transparency demo set as CSV (``decisions``, ``audits``, ``appeals``) into ``out``.

    Returns
    -------
    Path
        The folder written.
    """
    import json

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data = generate_transparency(seed=seed, n_decisions=n_decisions)
    for t in ("decisions", "audits", "appeals"):
        _atomic_write(out / f"{t}.csv", _csv_bytes(data[t]))
    _atomic_write(out / "truth.json", json.dumps(data["truth"], indent=2, sort_keys=True).encode("utf-8"))
    return out
