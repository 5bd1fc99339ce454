"""Tests of modqa_lib.data.synthetic: the seeded demo data and its planted truths.

The contract checks run on a 20,000-decision data set; the planted-truth checks
on 60,000 decisions (about 14,400 audits at the default 24%), the size the other
modules' tests use. The planted checks are plain pandas group-bys and two-proportion
tests on the raw tables: they show the effects are in the data, independently of
the scoring, RCA, drift and effects code that must find them. Each holds on at
least 40 of 41 seeds (0-39 and the default, at 60,000 and 80,000 decisions; see
bench/sweep_planted_truths.py); the last test pins three of them on other seeds.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest
from statsmodels.stats.proportion import proportion_confint, proportions_ztest

from modqa_lib.contract import schema as S
from modqa_lib.data import synthetic as syn
from modqa_lib.errors import ConfigError, InputFileError

N_SMALL = 20_000
N_PLANTED = 60_000
TAX = S.load_taxonomy()


@pytest.fixture(scope="module")
def small():
    return syn.generate(n_decisions=N_SMALL)


@pytest.fixture(scope="module")
def demo():
    return syn.generate(n_decisions=N_PLANTED)


@pytest.fixture(scope="module")
def audited(demo):
    """Non-golden audits joined to their decisions, with week (1-based) and site-local shift."""
    t = demo.tables
    a = t["audits"][~t["audits"][S.IS_GOLDEN]].merge(t["decisions"], on=S.DECISION_ID, validate="one_to_one")
    hour = pd.Series(0, index=a.index)
    for site, tz in syn.SITE_TIMEZONES.items():
        m = a[S.SITE] == site
        hour[m] = a.loc[m, S.DECIDED_AT].dt.tz_convert(tz).dt.hour
    a["shift"] = np.select([(hour >= 7) & (hour < 15), (hour >= 15) & (hour < 23)], ["day", "evening"], "night")
    start = pd.Timestamp(demo.truth["start"], tz="UTC")
    a["wk"] = (a[S.DECIDED_AT] - start).dt.days // 7 + 1
    a["human"] = a[S.CHANNEL] != "machine"  # decided (or reviewed) by a vendor moderator
    return a


def rate(a: pd.DataFrame) -> float:
    return float(a[S.IS_ERROR].mean())


# ---------------------------------------------------------------- public API
def test_public_api():
    for name in ("DEFAULT_SEED", "PLANTED", "DemoData", "generate", "write_demo_data", "SITE_TIMEZONES"):
        assert name in syn.__all__
    assert syn.DEFAULT_SEED == 20261125
    assert set(syn.SITE_TIMEZONES) == {s for v in syn.VENDOR_SITES.values() for s in v} | {"model"}
    assert syn.SITE_TIMEZONES["model"] == "UTC" and syn.SITE_TIMEZONES["Penang"] == "Asia/Kuala_Lumpur"
    assert {
        "fatigue",
        "ambiguous_policy",
        "model_fn",
        "drift",
        "action_worked",
        "action_failed",
        "confounder",
        "calibration",
        "hitl",
    } <= set(syn.PLANTED)
    assert syn.PLANTED["drift"]["changed_at"] == "2026-10-12T00:00:00+00:00"
    assert syn.PLANTED["drift"]["week"] == "2026-10-12"
    assert syn.PLANTED["action_worked"]["started_at"] == "2026-10-05T00:00:00+00:00"
    json.dumps(syn.PLANTED)


def test_truth_is_planted_plus_run_metadata(small):
    truth = small.truth
    assert {k: truth[k] for k in syn.PLANTED} == syn.PLANTED
    assert set(truth) - set(syn.PLANTED) == {
        "seed",
        "n_decisions",
        "start",
        "weeks",
        "audit_rate",
        "realised",
        "operations",
        "qaqa",
    }
    assert (truth["seed"], truth["n_decisions"], truth["start"], truth["weeks"]) == (
        syn.DEFAULT_SEED,
        N_SMALL,
        "2026-08-31",
        12,
    )
    assert json.loads(json.dumps(truth)) == truth


def test_planted_timestamps_follow_start():
    t = syn.generate(n_decisions=5_000, start="2027-01-04", weeks=8).truth
    assert t["drift"]["changed_at"] == "2027-02-15T00:00:00+00:00" and t["drift"]["week"] == "2027-02-15"
    assert t["action_failed"]["started_at"] == "2027-02-08T00:00:00+00:00"


def test_default_audit_rate_is_the_qa_capacity_within_bounds():
    # 1,200 audits a week (12 auditors), at least the 7.5% contract minimum, at most 25%
    assert syn.default_audit_rate(60_000) == 0.24 and syn.default_audit_rate(80_000) == 0.18
    assert syn.default_audit_rate(200_000) == syn.default_audit_rate(1_000_000) == 0.075
    assert syn.default_audit_rate(20_000) == syn.default_audit_rate(5_000) == 0.25
    assert syn.default_audit_rate(100_000, weeks=8) == 0.096
    explicit = syn.generate(n_decisions=5_000, audit_rate=0.1)
    assert explicit.truth["audit_rate"] == 0.1
    assert len(explicit.tables["audits"]) - 300 == pytest.approx(500, rel=0.2)  # 300 golden audits


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_decisions": 100}, "n_decisions must be an integer >= 5,000"),
        ({"weeks": 4}, "weeks must be an integer >= 8"),
        ({"audit_rate": 0.0}, r"audit_rate must be a number in \(0, 0.5\]"),
        ({"audit_rate": "high"}, r"audit_rate must be a number in \(0, 0.5\]"),
        ({"start": "2026-09-01"}, "must be a Monday"),
        ({"start": "not a date"}, "is not a date"),
        ({"seed": -1}, "seed must be a non-negative integer"),
    ],
)
def test_bad_arguments_raise_config_error(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        syn.generate(**kwargs)


# ---------------------------------------------------------------- determinism
def test_same_seed_same_tables_and_different_seed_differs(small):
    again = syn.generate(n_decisions=N_SMALL)
    for name, df in small.tables.items():
        pd.testing.assert_frame_equal(df, again.tables[name], check_exact=True)
    assert again.truth == small.truth
    other = syn.generate(seed=syn.DEFAULT_SEED + 1, n_decisions=N_SMALL)
    assert not other.tables["decisions"].equals(small.tables["decisions"])
    assert not other.tables["audits"].equals(small.tables["audits"])


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_write_demo_data_is_byte_identical(tmp_path, fmt):
    a = syn.write_demo_data(tmp_path / "a", n_decisions=5_000, fmt=fmt)
    b = syn.write_demo_data(tmp_path / "b", n_decisions=5_000, fmt=fmt)
    names = sorted(p.name for p in a.iterdir())
    # the optional appeals table lives in the separate transparency demo set (synthetic_transparency)
    assert names == sorted([f"{t}.{fmt}" for t in S.TABLE_NAMES if t != "appeals"] + ["truth.json"])
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    c = syn.write_demo_data(tmp_path / "c", seed=1, n_decisions=5_000, fmt=fmt)
    assert (c / f"decisions.{fmt}").read_bytes() != (a / f"decisions.{fmt}").read_bytes()


# ---------------------------------------------------------------- contract
def test_columns_and_dtypes_match_contract(small):
    assert list(small.tables) == [t for t in S.TABLE_NAMES if t != "appeals"]
    want = {"str": "str", "float": "float64", "bool": "bool"}
    for name, spec in S.TABLES.items():
        if name == "appeals":  # optional; in the transparency demo set (tests/data/test_synthetic_transparency.py)
            continue
        df = small.tables[name]
        assert list(df.columns) == spec.column_names, name
        for col in spec.columns:
            s = df[col.name]
            if col.dtype == "datetime":
                assert isinstance(s.dtype, pd.DatetimeTZDtype) and str(s.dt.tz) == "UTC", col.name
            elif col.dtype == "int":
                assert str(s.dtype) == ("Int64" if col.nullable else "int64"), col.name
            else:
                assert str(s.dtype) == want[col.dtype], (name, col.name, s.dtype)
            if not col.nullable:
                assert s.notna().all(), (name, col.name)
            if col.unique:
                assert s.is_unique, (name, col.name)
            if col.vocab:
                assert set(s.dropna()) <= set(TAX.vocab(col.vocab)), (name, col.name)
            if col.min is not None and col.dtype in ("int", "float"):
                assert (s.dropna() >= col.min).all(), (name, col.name)
            if col.max is not None and col.dtype in ("int", "float"):
                assert (s.dropna() <= col.max).all(), (name, col.name)
    assert set(small.tables["calibration"][S.LABEL]) <= set(TAX.labels)
    assert set(small.tables["golden"][S.GOLD_LABEL]) <= set(TAX.labels)


def test_referential_integrity(small):
    t = small.tables
    dec_ids = set(t["decisions"][S.DECISION_ID])
    assert set(t["audits"][S.DECISION_ID]) <= dec_ids
    assert set(t["golden"][S.ITEM_ID]) <= dec_ids
    assert set(t["calibration"][S.ITEM_ID]) <= set(t["golden"][S.ITEM_ID])
    regular = t["audits"][~t["audits"][S.IS_GOLDEN]]
    assert regular[S.DECISION_ID].is_unique
    gold = t["audits"][t["audits"][S.IS_GOLDEN]]
    assert set(gold[S.DECISION_ID]) == set(t["golden"][S.ITEM_ID])
    assert not set(gold[S.DECISION_ID]) & set(regular[S.DECISION_ID])
    leaked = small.truth["qaqa"]["realised"]["leaked_item"]["item_id"]
    clean = gold[gold[S.DECISION_ID] != leaked]
    assert not clean.duplicated([S.DECISION_ID, S.AUDITOR_ID]).any()  # distinct auditors per item
    assert gold[S.DECISION_ID].eq(leaked).sum() == 2 + 2 * syn._LEAK_EXTRA  # the planted leak only


def test_error_fields_are_consistent(small):
    t = small.tables
    a = t["audits"].merge(t["decisions"][[S.DECISION_ID, S.LABEL, S.POLICY]], on=S.DECISION_ID)
    assert (a[S.IS_ERROR] == (a[S.LABEL] != a[S.QA_LABEL])).all()
    for c in (S.ERROR_TYPE, S.SEVERITY, S.ROOT_CAUSE):
        assert (a[c].notna() == a[S.IS_ERROR]).all(), c
    e = a[a[S.IS_ERROR]]
    nv = TAX.no_violation
    expected = np.select([e[S.QA_LABEL] == nv, e[S.LABEL] == nv], ["false_positive", "false_negative"], "wrong_policy")
    assert (e[S.ERROR_TYPE] == expected).all()
    crit_fn = (e[S.ERROR_TYPE] == "false_negative") & e[S.QA_LABEL].isin(TAX.critical_policies)
    assert ((e[S.SEVERITY] == "critical") == crit_fn).all()
    assert not e[S.ROOT_CAUSE].eq("qa_error").any() or e.loc[e[S.ROOT_CAUSE].eq("qa_error"), S.IS_GOLDEN].all()


def test_decisions_are_internally_consistent(small):
    d = small.tables["decisions"]
    machine, hitl, human = (d[d[S.CHANNEL] == c] for c in ("machine", "hitl", "human"))
    assert (machine[S.VENDOR] == "Platform").all() and (machine[S.SITE] == "model").all()
    assert machine[S.MODERATOR_ID].isna().all() and machine[S.MODERATOR_TENURE_DAYS].isna().all()
    assert machine[S.HANDLE_TIME_S].isna().all()
    assert (machine[S.LABEL] == machine[S.MODEL_LABEL]).all()
    assert human[S.MODEL_LABEL].isna().all() and human[S.MODEL_SCORE].isna().all()
    assert hitl[S.MODEL_LABEL].notna().all() and hitl[S.MODEL_SCORE].notna().all()
    for part in (human, hitl):
        assert part[S.MODERATOR_ID].notna().all() and part[S.VENDOR].str.startswith("Vendor ").all()
        assert part[S.MODERATOR_ID].str.fullmatch(r"[A-D]-[A-Z]{3}-\d{3}").all()
        assert (part[S.MODERATOR_ID].str[0] == part[S.VENDOR].str[-1]).all()
    # the classifier does not score seller profiles and IP claims: people review those
    assert not set(d.loc[d[S.CHANNEL] != "human", S.CONTENT_TYPE]) & {"seller_profile", "ip_claim"}
    scored = d[d[S.MODEL_SCORE].notna()]
    flagged = scored[S.MODEL_SCORE] >= 0.5
    assert ((scored[S.MODEL_LABEL] != TAX.no_violation) == flagged).all()
    assert ((d[S.LABEL] == TAX.no_violation) == (d[S.ACTION] == "no_action")).all()
    assert (d[S.QUEUE] == d[S.MARKET] + "-" + d[S.CONTENT_TYPE]).all()
    assert (d[S.LANGUAGE] == d[S.MARKET].map(syn.MARKET_LANGUAGES)).all()
    sites = {v: set(s) for v, s in syn.VENDOR_SITES.items()} | {"Platform": {"model"}}
    assert all(site in sites[v] for v, site in d[[S.VENDOR, S.SITE]].drop_duplicates().itertuples(index=False))
    assert d[S.DECIDED_AT].is_monotonic_increasing
    start = pd.Timestamp("2026-08-31", tz="UTC")
    assert d[S.DECIDED_AT].min() >= start and d[S.DECIDED_AT].max() < start + pd.Timedelta(weeks=12)
    share = d[S.CHANNEL].value_counts(normalize=True)
    assert share["human"] == pytest.approx(0.65, abs=0.04)
    assert share["machine"] == pytest.approx(0.20, abs=0.04)
    assert share["hitl"] == pytest.approx(0.15, abs=0.04)
    assert (d[S.MODERATOR_TENURE_DAYS].dropna() < 30).mean() > 0.01  # some new moderators
    assert d.groupby(S.SITE)[S.MODERATOR_ID].nunique().drop("model").between(20, 30).all()


def test_sample_design_fields(small):
    t = small.tables
    a = t["audits"].merge(t["decisions"], on=S.DECISION_ID)
    p, w = a[S.INCLUSION_PROB], a[S.WEIGHT]
    assert ((p > 0) & (p <= 1)).all()
    assert np.allclose(w * p, 1.0, rtol=0, atol=1e-5)
    reg, gold = a[~a[S.IS_GOLDEN]], a[a[S.IS_GOLDEN]]
    # expected sample size is audit_rate x n (the default for a small demo: the QA team's
    # capacity, 25% here); Poisson sampling gives a realised size near it
    assert small.truth["audit_rate"] == syn.default_audit_rate(N_SMALL) == 0.25
    assert len(reg) == pytest.approx(0.25 * N_SMALL, rel=0.08)
    # risk multipliers: a livestream is twice as likely to be audited as an otherwise equal item
    plain = reg[
        (reg[S.CONTENT_TYPE] != "livestream")
        & ~reg[S.POLICY].isin(TAX.critical_policies)
        & reg[S.MODEL_SCORE].isna()
        & (reg[S.MODERATOR_TENURE_DAYS] >= 30)
    ]
    live = reg[
        (reg[S.CONTENT_TYPE] == "livestream")
        & ~reg[S.POLICY].isin(TAX.critical_policies)
        & reg[S.MODEL_SCORE].isna()
        & (reg[S.MODERATOR_TENURE_DAYS] >= 30)
    ]
    assert plain[S.INCLUSION_PROB].nunique() == 1
    assert live[S.INCLUSION_PROB].iloc[0] / plain[S.INCLUSION_PROB].iloc[0] == pytest.approx(2, rel=1e-5)
    assert (reg[S.STRATUM] == reg[S.VENDOR] + "|" + reg[S.SITE]).all()
    iso = reg[S.DECIDED_AT].dt.isocalendar()
    assert (reg[S.SAMPLE_ID] == "S" + iso["year"].astype(str) + "-W" + iso["week"].astype(str).str.zfill(2)).all()
    assert ((gold[S.INCLUSION_PROB] == 1) & (gold[S.WEIGHT] == 1)).all()
    assert (gold[S.STRATUM] == "golden").all() and (gold[S.SAMPLE_ID] == "GOLDEN").all()
    lag = a[S.AUDITED_AT] - a[S.DECIDED_AT]
    assert (lag >= pd.Timedelta(hours=2)).all() and (lag <= pd.Timedelta(days=10)).all()
    assert set(a[S.AUDITOR_ID]) == {f"QA-{i:02d}" for i in range(1, 13)}


def test_golden_and_calibration_shape(small):
    t = small.tables
    golden, cal = t["golden"], t["calibration"]
    assert len(golden) == 150
    no_gold = small.truth["qaqa"]["policy_without_gold"]["policy"]
    assert golden[S.POLICY].nunique() == 10 and no_gold not in set(golden[S.POLICY])  # planted: no gold for it
    gold_audits = t["audits"][t["audits"][S.IS_GOLDEN]]
    assert len(gold_audits) == 300 + 2 * syn._LEAK_EXTRA
    leaked = small.truth["qaqa"]["realised"]["leaked_item"]["item_id"]
    assert gold_audits[gold_audits[S.DECISION_ID] != leaked].groupby(S.DECISION_ID).size().eq(2).all()
    assert cal[S.SESSION_ID].nunique() == 6
    assert cal.groupby(S.SESSION_ID)[S.ITEM_ID].nunique().eq(25).all()
    assert cal.groupby([S.SESSION_ID, S.ITEM_ID]).size().eq(9).all()
    assert cal.groupby(S.RATER_GROUP)[S.RATER_ID].nunique().to_dict() == {"internal_qa": 3, "policy": 2, "vendor_qa": 4}
    assert set(cal.loc[cal[S.RATER_GROUP] == "vendor_qa", S.RATER_ID]) == {"VQA-A", "VQA-B", "VQA-C", "VQA-D"}


def test_static_tables(small):
    act, pc = small.tables["actions"].set_index(S.ACTION_ID), small.tables["policy_changes"]
    assert 4 <= len(act) <= 6 and 3 <= len(pc) <= 4
    for key in ("action_worked", "action_failed"):
        truth = small.truth[key]
        row = act.loc[truth["action_id"]]
        assert (row[S.VENDOR], row[S.SITE], row[S.POLICY], row[S.KIND]) == (
            truth["vendor"],
            truth["site"],
            truth["policy"],
            truth["kind"],
        )
        assert row[S.STARTED_AT] == pd.Timestamp(truth["started_at"])
    drift = small.truth["drift"]
    hit = pc[(pc[S.POLICY] == drift["policy"]) & (pc[S.CHANGED_AT] == pd.Timestamp(drift["changed_at"]))]
    assert len(hit) == 1
    assert "Vendor D" not in set(act[S.VENDOR].dropna())


# ---------------------------------------------------------------- files
def test_csv_format(tmp_path):
    out = syn.write_demo_data(tmp_path, n_decisions=5_000)
    raw = (out / "audits.csv").read_bytes()
    assert b"\r" not in raw and raw.endswith(b"\n")
    text = raw.decode("utf-8")
    header, first = text.split("\n")[:2]
    assert header.split(",") == S.TABLES["audits"].column_names
    assert re.search(r",\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00,", first)
    assert re.search(r",(true|false),", first) and first.endswith(("true", "false"))
    dec = (out / "decisions.csv").read_text(encoding="utf-8").split("\n")
    machine = next(line for line in dec if ",machine," in line)
    assert ",model,," in machine  # empty moderator_id for machine decisions
    assert dec[0].split(",") == S.TABLES["decisions"].column_names
    # read back as strings and parsed: the same values as the generated tables
    demo = syn.generate(n_decisions=5_000)
    back = pd.read_csv(out / "decisions.csv", keep_default_na=False, na_values=[""])
    d = demo.tables["decisions"]
    assert (pd.to_datetime(back[S.DECIDED_AT], utc=True) == d[S.DECIDED_AT]).all()
    assert np.allclose(back[S.MODEL_SCORE], d[S.MODEL_SCORE], equal_nan=True, rtol=0, atol=0)
    a = pd.read_csv(out / "audits.csv", keep_default_na=False, na_values=[""])
    assert a[S.IS_ERROR].tolist() == demo.tables["audits"][S.IS_ERROR].tolist()
    assert (a[S.WEIGHT] == demo.tables["audits"][S.WEIGHT]).all()
    truth = (out / "truth.json").read_text(encoding="utf-8")
    assert truth == json.dumps(demo.truth, sort_keys=True, indent=2) + "\n"


def test_refuses_to_overwrite_different_raw_data(tmp_path):
    out = syn.write_demo_data(tmp_path / "raw", n_decisions=5_000)
    target = out / "decisions.csv"
    stamp = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    # identical bytes: nothing is rewritten
    syn.write_demo_data(out, n_decisions=5_000)
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == stamp
    # different bytes: refused, and nothing at all is written
    target.write_text("edited by hand\n", encoding="utf-8")
    (out / "golden.csv").unlink()
    with pytest.raises(InputFileError, match=r"decisions\.csv exists and differs; pass --force to overwrite"):
        syn.write_demo_data(out, n_decisions=5_000)
    assert target.read_text(encoding="utf-8") == "edited by hand\n"
    assert not (out / "golden.csv").exists()
    with pytest.raises(InputFileError, match=r"exist and differ"):
        syn.write_demo_data(out, seed=3, n_decisions=5_000)
    # force overwrites
    syn.write_demo_data(out, n_decisions=5_000, force=True)
    fresh = syn.write_demo_data(tmp_path / "fresh", n_decisions=5_000)
    assert target.read_bytes() == (fresh / "decisions.csv").read_bytes()
    assert (out / "golden.csv").exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp files left
    assert oct(target.stat().st_mode & 0o777) != oct(0o600)


def test_write_errors(tmp_path):
    with pytest.raises(ConfigError, match="format must be 'csv' or 'parquet'"):
        syn.write_demo_data(tmp_path, n_decisions=5_000, fmt="xlsx")
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(InputFileError, match="is not a folder"):
        syn.write_demo_data(f, n_decisions=5_000)


# ---------------------------------------------------------------- planted truths (60k)
def test_planted_fatigue(demo, audited):
    truth = demo.truth["fatigue"]
    hum = audited[audited["human"]]
    pen = hum[(hum[S.VENDOR] == truth["vendor"]) & (hum[S.SITE] == truth["site"])]
    night = pen[pen["shift"] == truth["shift"]]
    rest = hum.drop(night.index)
    assert len(night) >= 100
    # design: ~15% against ~5% (x3); with ~400 night audits the estimate's CV is ~12%, so a
    # x2.5 margin failed on ~1 seed in 12 and x2 is asserted
    assert rate(night) > 0.11 and rate(night) > 2 * rate(rest)
    assert rate(pen[pen["shift"] != truth["shift"]]) < 1.5 * rate(rest)  # other Penang shifts normal
    cells = hum.groupby([S.SITE, "shift"])[S.IS_ERROR].mean()
    assert cells.idxmax() == (truth["site"], truth["shift"])
    _, hi = proportion_confint(int((~night[S.IS_ERROR]).sum()), len(night), alpha=0.05, method="wilson")
    assert hi < 0.95
    assert night.loc[night[S.IS_ERROR], S.ROOT_CAUSE].value_counts().index[0] == truth["root_cause"]


def test_planted_ambiguous_policy(demo, audited):
    truth = demo.truth["ambiguous_policy"]
    by_policy = audited.groupby(S.POLICY)[S.IS_ERROR].mean().sort_values()
    assert by_policy.index[-1] == truth["policy"]
    assert by_policy.iloc[-1] > 1.8 * by_policy.iloc[-2]
    err = audited[(audited[S.POLICY] == truth["policy"]) & audited[S.IS_ERROR]]
    assert (err[S.ERROR_TYPE] == truth["error_type"]).mean() > 0.6
    assert err[S.ROOT_CAUSE].value_counts().index[0] == truth["root_cause"]
    wp = err[err[S.ERROR_TYPE] == "wrong_policy"]
    assert wp[S.LABEL].isin(truth["labelled_as"]).mean() > 0.9
    # across all vendors
    by_vendor = audited[audited["human"] & (audited[S.POLICY] == truth["policy"])].groupby(S.VENDOR)[S.IS_ERROR].mean()
    assert (by_vendor > 0.08).all()


def test_planted_model_blind_spot(demo, audited):
    truth = demo.truth["model_fn"]
    m = audited[audited[S.MODEL_LABEL].notna() & (audited[S.QA_LABEL] != TAX.no_violation)]
    hit = m[S.MODEL_LABEL] != TAX.no_violation
    recall = hit.groupby(m[S.MARKET]).mean()
    assert recall.idxmin() == truth["market"]
    assert recall.drop(truth["market"]).min() - recall[truth["market"]] > 0.08
    weighted = (hit * m[S.WEIGHT]).groupby(m[S.MARKET]).sum() / m[S.WEIGHT].groupby(m[S.MARKET]).sum()
    assert weighted.idxmin() == truth["market"]
    blind = (m[S.MARKET] == truth["market"]) & (m[S.CONTENT_TYPE] == truth["content_type"])
    assert hit[blind].mean() < 0.65 and hit[~blind].mean() > 0.8
    missed = audited[
        (audited[S.CHANNEL] == "machine")
        & audited[S.IS_ERROR]
        & (audited[S.MARKET] == truth["market"])
        & (audited[S.CONTENT_TYPE] == truth["content_type"])
    ]
    assert len(missed) > 10 and (missed[S.ROOT_CAUSE] == truth["root_cause"]).all()


def test_planted_drift(demo, audited):
    truth = demo.truth["drift"]
    change_week = (pd.Timestamp(truth["changed_at"]) - pd.Timestamp(demo.truth["start"], tz="UTC")).days // 7 + 1
    assert change_week == 7
    har = audited[audited["human"] & (audited[S.POLICY] == truth["policy"])]
    before, after = har[har["wk"] < change_week], har[har["wk"] >= change_week]
    assert rate(before) < 0.05 and rate(after) > 0.08 and rate(after) > 2.5 * rate(before)
    # no recovery: the last three weeks are still high
    assert rate(har[har["wk"] >= 10]) > 2 * rate(before)
    new_errors = after[after[S.IS_ERROR]]
    assert new_errors[S.ROOT_CAUSE].value_counts().index[0] == truth["root_cause"]


def test_planted_action_that_worked(demo, audited):
    truth = demo.truth["action_worked"]
    start = pd.Timestamp(truth["started_at"])
    s = audited[audited["human"] & (audited[S.SITE] == truth["site"]) & (audited[S.POLICY] == truth["policy"])]
    before, after = s[s[S.DECIDED_AT] < start], s[s[S.DECIDED_AT] >= start]
    others = audited[audited["human"] & (audited[S.SITE] != truth["site"]) & (audited[S.POLICY] == truth["policy"])]
    assert len(before) >= 40 and len(after) >= 60
    assert rate(before) > 0.12 and rate(before) > 3 * rate(after)
    assert rate(after) < 1.5 * rate(others)  # back to baseline
    assert before.loc[before[S.IS_ERROR], S.ROOT_CAUSE].value_counts().index[0] == truth["root_cause"]


def _larger(a: pd.DataFrame, b: pd.DataFrame) -> float:
    """One-sided p-value of "a's error rate is larger than b's" (two-proportion z-test)."""
    _stat, p = proportions_ztest([a[S.IS_ERROR].sum(), b[S.IS_ERROR].sum()], [len(a), len(b)], alternative="larger")
    return float(p)


def test_planted_action_that_failed(demo, audited):
    truth = demo.truth["action_failed"]
    start = pd.Timestamp(truth["started_at"])
    s = audited[audited["human"] & (audited[S.SITE] == truth["site"]) & (audited[S.POLICY] == truth["policy"])]
    before, after = s[s[S.DECIDED_AT] < start], s[s[S.DECIDED_AT] >= start]
    others = audited[audited["human"] & (audited[S.SITE] != truth["site"]) & (audited[S.POLICY] == truth["policy"])]
    # The slice has ~150 audits before and ~200 after at ~10% errors, so ratio margins on the
    # point estimates ("after > 0.7 x before", "before > 2 x others") fail on 1 seed in 4 to 1
    # in 20 by sampling noise alone; the planted truth is stated as tests instead.
    # Still bad, before and after the action: worse than the same policy at the other sites ...
    assert _larger(before, others) < 0.05 and _larger(after, others) < 0.05
    # ... and no improvement: after is not significantly better than before
    assert _larger(before, after) > 0.01


def test_planted_confounder(demo, audited):
    truth = demo.truth["confounder"]
    hum = audited[audited["human"]]
    acc = 1 - hum.groupby(S.VENDOR)[S.IS_ERROR].mean()
    assert acc.idxmin() == truth["vendor"]
    assert acc.drop(truth["vendor"]).min() - acc[truth["vendor"]] > 0.01
    is_d = hum[S.VENDOR] == truth["vendor"]
    share = hum[S.POLICY].isin(truth["hard_policies"]).groupby(is_d).mean()
    assert share[True] > 2 * share[False]
    # indirect standardisation: the errors Vendor D would make at the other vendors' per-policy rates
    others_rate = hum[~is_d].groupby(S.POLICY)[S.IS_ERROR].mean()
    d = hum[is_d]
    expected = d[S.POLICY].map(others_rate).sum()
    assert 0.75 < d[S.IS_ERROR].sum() / expected < 1.35
    # no planted slice at Vendor D
    for key in ("fatigue", "action_worked", "action_failed"):
        assert demo.truth[key]["vendor"] != truth["vendor"]


def test_planted_calibration_bias_split_items_and_weak_auditor(demo):
    truth = demo.truth["calibration"]
    t = demo.tables
    cal = t["calibration"].merge(t["golden"], on=S.ITEM_ID)
    mis = cal[cal[S.GOLD_LABEL] == truth["bias"]["from"]]
    to_hate = (mis[S.LABEL] == truth["bias"]["to"]).groupby(mis[S.RATER_GROUP]).mean()
    assert 0.15 < to_hate[truth["biased_group"]] < 0.45
    assert to_hate.drop(truth["biased_group"]).max() < 0.05
    # one item per session splits the room: 4-5 of the 9 raters leave the gold answer
    dissent = (cal[S.LABEL] != cal[S.GOLD_LABEL]).groupby([cal[S.SESSION_ID], cal[S.ITEM_ID]]).sum()
    split = demo.truth["realised"]["calibration_split_items"]
    assert len(split) == 6
    for sess, item in dissent.index:
        if item in split:
            assert 4 <= dissent[(sess, item)] <= 5
    assert dissent.groupby(level=0).max().ge(4).all()
    ga = t["audits"][t["audits"][S.IS_GOLDEN]].merge(t["golden"], left_on=S.DECISION_ID, right_on=S.ITEM_ID)
    miss = (ga[S.QA_LABEL] != ga[S.GOLD_LABEL]).groupby(ga[S.AUDITOR_ID]).agg(["sum", "size"])
    wrong = miss["sum"] / miss["size"]
    assert wrong.idxmax() == truth["worst_golden_auditor"]
    assert wrong.max() >= 0.12
    # The other 11 auditors share ~250 golden audits (~23 each) at a 2% miss rate: one of them
    # missing 2 items (8.7%) is ordinary (about 6 seeds in 10), so no per-auditor margin is
    # asserted; instead none is significantly worse than their pooled rate (Bonferroni over 11).
    good = miss.drop(truth["worst_golden_auditor"])
    pooled = good["sum"].sum() / good["size"].sum()
    assert pooled < 0.05
    p = [binomtest(int(k), int(m), pooled, alternative="greater").pvalue for k, m in good.to_numpy()]
    assert min(p) > 0.05 / len(good)
    qa = ga[(ga[S.QA_LABEL] != ga[S.GOLD_LABEL]) & ga[S.IS_ERROR]]
    assert (qa[S.ROOT_CAUSE] == "qa_error").all()


def test_planted_hitl_overrides(demo, audited):
    r = demo.truth["realised"]
    assert 0.10 < r["hitl_override_rate"] < 0.20
    assert 0.65 < r["hitl_override_accuracy"] < 0.85
    h = audited[audited[S.CHANNEL] == "hitl"]
    over = h[S.LABEL] != h[S.MODEL_LABEL]
    w = h[S.WEIGHT]
    assert (over * w).sum() / w.sum() == pytest.approx(r["hitl_override_rate"], abs=0.04)
    assert (~h.loc[over, S.IS_ERROR]).mean() == pytest.approx(r["hitl_override_accuracy"], abs=0.12)


def test_realised_population_truth_matches_design(demo):
    r = demo.truth["realised"]
    assert r["fatigue"]["slice_error_rate"] > 0.12 > r["fatigue"]["penang_other_shifts"]
    assert r["drift"]["error_rate_after"] > 2.5 * r["drift"]["error_rate_before"]
    assert r["action_worked"]["error_rate_before"] > 4 * r["action_worked"]["error_rate_after"]
    assert r["action_failed"]["error_rate_after"] > 0.08
    pol = r["ambiguous_policy"]["policy_error_rate_all_channels"]
    assert max(pol, key=pol.get) == "misinformation"
    rec = r["model_fn"]["recall_by_market"]
    assert min(rec, key=rec.get) == "ID"
    assert abs(r["model_fn"]["recall_slice"] - demo.truth["model_fn"]["recall"]) < 0.05
    v = r["confounder"]["vendor_error_rate"]
    assert max(v, key=v.get) == "Vendor D"
    assert 0.35 <= r["violation_prevalence"] <= 0.45
    assert 0.03 <= r["human_error_rate"] <= 0.065


# ---------------------------------------------------------------- robustness across seeds
def _shift(a: pd.DataFrame) -> pd.Series:
    hour = pd.Series(0, index=a.index)
    for site, tz in syn.SITE_TIMEZONES.items():
        m = a[S.SITE] == site
        hour[m] = a.loc[m, S.DECIDED_AT].dt.tz_convert(tz).dt.hour
    return pd.Series(
        np.select([(hour >= 7) & (hour < 15), (hour >= 15) & (hour < 23)], ["day", "evening"], "night"), index=a.index
    )


def _check_fragile_truths(seed: int, n_decisions: int = N_PLANTED) -> None:
    demo = syn.generate(seed=seed, n_decisions=n_decisions)
    t = demo.tables
    a = t["audits"][~t["audits"][S.IS_GOLDEN]].merge(t["decisions"], on=S.DECISION_ID)
    # fatigue: Penang x night is the worst site x shift cell and has the most excess errors
    hum = a[a[S.CHANNEL] != "machine"].assign(shift=_shift)
    cells = hum.groupby([S.SITE, "shift"])[S.IS_ERROR].agg(["sum", "size"])
    rest_rate = (cells["sum"].sum() - cells["sum"]) / (cells["size"].sum() - cells["size"])
    excess = cells["sum"] - cells["size"] * rest_rate
    assert (cells["sum"] / cells["size"]).idxmax() == ("Penang", "night"), (seed, cells)
    assert excess.idxmax() == ("Penang", "night"), (seed, excess.sort_values().tail(3))
    # ambiguous policy: misinformation has the lowest accuracy, by a wide margin
    by_policy = a.groupby(S.POLICY)[S.IS_ERROR].mean().sort_values()
    assert by_policy.index[-1] == "misinformation" and by_policy.iloc[-1] > 1.8 * by_policy.iloc[-2], seed
    # model blind spot: recall is lowest in ID, and within ID on livestreams
    m = a[a[S.MODEL_LABEL].notna() & (a[S.QA_LABEL] != TAX.no_violation)]
    hit = m[S.MODEL_LABEL] != TAX.no_violation
    assert hit.groupby(m[S.MARKET]).mean().idxmin() == "ID", seed
    in_id = m[S.MARKET] == "ID"
    assert hit[in_id].groupby(m.loc[in_id, S.CONTENT_TYPE]).mean().idxmin() == "livestream", seed


def test_fragile_planted_truths_hold_on_other_seeds():
    """The planted truths that used to depend on the seed, on three seeds next to the default.

    Before the audit-capacity default (24% of 60,000 decisions instead of 7.5%) and the other
    fixes, at 60,000 decisions on seeds 0-19 and the default: Penang x night topped the site x
    shift drill-down on 19 of 21, misinformation led the next policy by 1.8x on 17 of 21
    (harassment after its policy change came close), and at 80,000 a content type with one or
    two audits in ID (seller profiles, IP claims) had a lower model recall than livestreams on
    4 of 21. bench/sweep_planted_truths.py measures every truth over seeds; these checks now
    hold on 39 of 40 seeds at 60,000 decisions (0-39; on seed 11 the Penang-night sample runs
    low and a Vendor D cell edges past it) and 40 of 40 at 80,000. The seeds here were fixed
    before looking at them: the three after DEFAULT_SEED, outside that sweep. (The Vendor B
    report's first row is not asserted: rca.top_findings keeps a parent slice such as "night"
    whenever the rest of it is worse at p < 0.05, which by chance happens on ~1 seed in 12.)
    """
    for seed in (syn.DEFAULT_SEED + 1, syn.DEFAULT_SEED + 2, syn.DEFAULT_SEED + 3):
        _check_fragile_truths(seed)


def test_params_sites_yaml_agrees_with_site_timezones():
    import yaml

    from modqa_lib.config import PARAMS_DIR

    path = PARAMS_DIR / "sites.yaml"
    sites = yaml.safe_load(path.read_text(encoding="utf-8"))["sites"]
    assert {k: v["timezone"] for k, v in sites.items()} == syn.SITE_TIMEZONES
    vendor_of = {s: v for v, ss in syn.VENDOR_SITES.items() for s in ss} | {"model": "Platform"}
    assert {k: v["vendor"] for k, v in sites.items()} == vendor_of
