"""Tests for modqa_lib.stats.agreement.

Reference values live in tests/results/agreement_* with their sources:
Krippendorff (2011) and Wikipedia worked examples for alpha, Wikipedia and
Fleiss (1971) for Fleiss' kappa, Wikipedia and a SAS printout for Cohen's kappa,
and regression values on the real Davidson et al. (2017) crowd labels.
"""

from __future__ import annotations

import doctest
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats import inter_rater as smir

from modqa_lib.config import SHARED_REAL_DIR
from modqa_lib.contract.schema import (
    CI_HIGH,
    CI_LOW,
    GOLD_LABEL,
    ITEM_ID,
    LABEL,
    POLICY,
    RATER_GROUP,
    RATER_ID,
    SESSION_ID,
)
from modqa_lib.errors import DataContractError, EstimationError
from modqa_lib.stats import agreement as ag
from modqa_lib.stats.agreement import (
    agreement_ci,
    calibration_report,
    cohens_kappa,
    fleiss_kappa,
    group_accuracy,
    group_bias,
    item_disagreement,
    krippendorff_alpha,
    krippendorff_alpha_from_counts,
    percent_agreement,
    percent_agreement_from_counts,
    rater_accuracy,
    session_agreement,
    to_count_table,
)

RESULTS = Path(__file__).parents[1] / "results"
LEVELS = ["nominal", "ordinal", "interval", "ratio"]


def _json(name: str) -> dict:
    return json.loads((RESULTS / name).read_text(encoding="utf-8"))


def _matrix(name: str) -> pd.DataFrame:
    """raters x units reliability matrix from a results CSV (empty cell = not coded)."""
    return pd.read_csv(RESULTS / name, index_col=0)


def _long(matrix: pd.DataFrame) -> pd.DataFrame:
    m = matrix.rename_axis(RATER_ID).reset_index().melt(id_vars=RATER_ID, var_name=ITEM_ID, value_name=LABEL)
    return m.dropna(subset=[LABEL]).reset_index(drop=True)


def _two_rater_long(a, b) -> pd.DataFrame:
    n = len(a)
    return pd.DataFrame({ITEM_ID: np.tile(np.arange(n), 2), RATER_ID: ["A"] * n + ["B"] * n, LABEL: list(a) + list(b)})


def _simulated(n_items: int, seed: int, n_raters: int = 4, p_correct: float = 0.75) -> pd.DataFrame:
    """Long votes: each rater gives the item's true label with prob p_correct, else a random one."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, n_items)
    right = rng.random((n_items, n_raters)) < p_correct
    lab = np.where(right, truth[:, None], rng.integers(0, 3, (n_items, n_raters)))
    return pd.DataFrame(
        {
            ITEM_ID: np.repeat(np.arange(n_items), n_raters),
            RATER_ID: np.tile([f"r{j}" for j in range(n_raters)], n_items),
            LABEL: np.array(["hate_speech", "harassment", "no_violation"])[lab.ravel()],
        }
    )


# =============================================================================
# Krippendorff's alpha
# =============================================================================
@pytest.mark.parametrize("level", LEVELS)
def test_krippendorff_2011_worked_example(level):
    ref = _json("agreement_krippendorff_2011.json")
    m = _matrix("agreement_krippendorff_2011.csv")
    res = krippendorff_alpha(m, level)
    assert res["alpha"].iloc[0] == pytest.approx(ref["alpha"][level], abs=5e-4)
    assert res["n_items"].iloc[0] == 11  # unit 12 has one value: dropped
    assert res["n_values"].iloc[0] == 40
    assert res["n_raters"].iloc[0] == 4
    # the same from long format, a plain array, and the count table
    assert krippendorff_alpha(_long(m), level)["alpha"].iloc[0] == pytest.approx(res["alpha"].iloc[0], rel=1e-12)
    assert krippendorff_alpha(m.to_numpy(), level)["alpha"].iloc[0] == pytest.approx(res["alpha"].iloc[0], rel=1e-12)
    counts = to_count_table(_long(m), item=ITEM_ID, label=LABEL)
    assert list(counts.columns) == [1.0, 2.0, 3.0, 4.0, 5.0]
    from_counts = krippendorff_alpha_from_counts(counts, level)
    assert from_counts["alpha"].iloc[0] == pytest.approx(res["alpha"].iloc[0], rel=1e-12)


def test_krippendorff_2011_nominal_coincidences():
    # Krippendorff (2011) section C: n = 40 pairable values; n_c = 9, 13, 10, 5, 3 for values 1..5
    m = _matrix("agreement_krippendorff_2011.csv")
    C = to_count_table(_long(m)).to_numpy(float)
    O = ag.coefficients._coincidence(C[C.sum(1) >= 2])
    np.testing.assert_allclose(O.sum(1), [9, 13, 10, 5, 3])
    np.testing.assert_allclose(np.diag(O), [7, 10, 8, 4, 3])


def test_krippendorff_wikipedia_example_drops_unpairable_units():
    ref = _json("agreement_krippendorff_wikipedia.json")
    m = _matrix("agreement_krippendorff_wikipedia.csv")
    nom = krippendorff_alpha(m, "nominal")
    assert nom["alpha"].iloc[0] == pytest.approx(ref["alpha"]["nominal"], abs=5e-7)
    assert nom["n_items"].iloc[0] == 12
    assert krippendorff_alpha(m, "interval")["alpha"].iloc[0] == pytest.approx(ref["alpha"]["interval"], abs=5e-7)


def test_krippendorff_string_labels_nominal_and_ordered_categories():
    m = _matrix("agreement_krippendorff_2011.csv")
    words = {1: "child_safety", 2: "hate_speech", 3: "spam_scam", 4: "harassment", 5: "no_violation"}
    long = _long(m)
    long[LABEL] = long[LABEL].map(words)
    ref = _json("agreement_krippendorff_2011.json")["alpha"]
    assert krippendorff_alpha(long, "nominal")["alpha"].iloc[0] == pytest.approx(ref["nominal"], abs=5e-4)
    order = [words[k] for k in sorted(words)]
    got = krippendorff_alpha(long, "ordinal", categories=order)["alpha"].iloc[0]
    assert got == pytest.approx(ref["ordinal"], abs=5e-4)
    long[LABEL] = pd.Categorical(long[LABEL], categories=order, ordered=True)
    assert krippendorff_alpha(long, "ordinal")["alpha"].iloc[0] == pytest.approx(got, rel=1e-12)


def test_krippendorff_two_raters_matches_scotts_pi():
    rng = np.random.default_rng(7)
    a = rng.integers(0, 4, 500)
    b = np.where(rng.random(500) < 0.7, a, rng.integers(0, 4, 500))
    alpha = krippendorff_alpha(_two_rater_long(a, b))["alpha"].iloc[0]
    # Scott's pi = Fleiss' kappa with two raters (statsmodels)
    pi = smir.fleiss_kappa(smir.aggregate_raters(np.column_stack([a, b]))[0])
    n = 2 * len(a)
    assert alpha == pytest.approx(1 - (1 - pi) * (n - 1) / n, rel=1e-12)  # exact identity
    assert abs(alpha - pi) < 1e-3


def test_krippendorff_perfect_agreement_is_one():
    m = [[1, 2, 3, 1], [1, 2, 3, 1], [1, 2, None, 1]]
    for level in LEVELS:
        assert krippendorff_alpha(m, level)["alpha"].iloc[0] == pytest.approx(1.0)


# =============================================================================
# Fleiss' kappa, count tables, percent agreement
# =============================================================================
def test_fleiss_wikipedia_example_and_statsmodels():
    ref = _json("agreement_fleiss.json")["wikipedia"]
    table = pd.read_csv(RESULTS / "agreement_fleiss_wikipedia.csv", index_col=0)
    res = fleiss_kappa(table)
    assert res["kappa"].iloc[0] == pytest.approx(ref["kappa"], abs=5e-4)
    assert res["kappa"].iloc[0] == pytest.approx(smir.fleiss_kappa(table.to_numpy()), rel=1e-12)
    assert res["observed_agreement"].iloc[0] == pytest.approx(ref["observed_agreement"], abs=5e-4)
    assert res["expected_agreement"].iloc[0] == pytest.approx(ref["expected_agreement"], abs=5e-4)
    assert (res["n_items"].iloc[0], res["n_raters"].iloc[0], res["n_categories"].iloc[0]) == (10, 14, 5)
    # percent agreement is Fleiss' observed agreement P-bar
    pa = percent_agreement_from_counts(table)
    assert pa["percent_agreement"].iloc[0] == pytest.approx(res["observed_agreement"].iloc[0], rel=1e-12)


def test_fleiss_1971_diagnoses_from_long_format():
    ref = _json("agreement_fleiss.json")["fleiss_1971_diagnoses"]
    raw = pd.read_csv(RESULTS / "agreement_fleiss_1971_diagnoses.csv", index_col=0)
    long = raw.rename_axis(ITEM_ID).reset_index().melt(id_vars=ITEM_ID, var_name=RATER_ID, value_name=LABEL)
    counts = to_count_table(long, rater=RATER_ID)
    np.testing.assert_array_equal(counts.to_numpy(), smir.aggregate_raters(raw.to_numpy())[0])
    assert fleiss_kappa(counts)["kappa"].iloc[0] == pytest.approx(ref["kappa"], abs=5e-8)
    # long-format percent agreement = P-bar
    assert percent_agreement(long)["percent_agreement"].iloc[0] == pytest.approx(
        fleiss_kappa(counts)["observed_agreement"].iloc[0], rel=1e-12
    )


def test_randolph_kappa():
    ref = _json("agreement_fleiss.json")["randolph"]
    assert fleiss_kappa(ref["table"])["kappa"].iloc[0] == pytest.approx(ref["kappa_fleiss"], abs=6e-6)
    assert fleiss_kappa(ref["table"], method="randolph")["kappa"].iloc[0] == pytest.approx(
        ref["kappa_randolph"], abs=6e-6
    )


def test_to_count_table_composite_key_and_categories():
    df = pd.DataFrame(
        {
            SESSION_ID: ["s1", "s1", "s2", "s2"],
            ITEM_ID: ["a", "a", "a", "a"],
            RATER_ID: ["r1", "r2", "r1", "r2"],
            LABEL: ["x", "y", "x", "x"],
        }
    )
    t = to_count_table(df, item=[SESSION_ID, ITEM_ID], categories=["x", "y", "z"])
    assert t.index.names == [SESSION_ID, ITEM_ID]
    assert t.loc[("s1", "a")].tolist() == [1, 1, 0] and t.loc[("s2", "a")].tolist() == [2, 0, 0]
    # pooled over sessions, the same item id is one item with four votes
    assert to_count_table(df).loc["a"].tolist() == [3, 1]


def test_percent_agreement_varying_raters():
    df = pd.DataFrame(
        {
            ITEM_ID: ["a"] * 3 + ["b"] * 2 + ["c"],
            RATER_ID: ["r1", "r2", "r3", "r1", "r2", "r1"],
            LABEL: ["x", "x", "y", "x", "x", "y"],
        }
    )
    res = percent_agreement(df)
    assert res["percent_agreement"].iloc[0] == pytest.approx((1 / 3 + 1) / 2)
    assert res[["n_items", "n_ratings", "n_raters"]].iloc[0].tolist() == [2, 5, 3]


# =============================================================================
# Cohen's kappa
# =============================================================================
def _expand(table, cats):
    a, b = [], []
    for i, ci in enumerate(cats):
        for j, cj in enumerate(cats):
            a += [ci] * table[i][j]
            b += [cj] * table[i][j]
    return a, b


def test_cohen_wikipedia_example():
    ref = _json("agreement_cohen_kappa.json")["wikipedia"]
    a, b = _expand(ref["table_rows_A_cols_B"]["counts"], ref["table_rows_A_cols_B"]["categories"])
    res = cohens_kappa(a, b)
    assert res["kappa"].iloc[0] == pytest.approx(ref["kappa"], abs=1e-12)
    assert res["n"].iloc[0] == 50
    assert res["ci_low"].iloc[0] < 0.4 < res["ci_high"].iloc[0]


def test_cohen_sas_printout_simple_and_weighted():
    ref = _json("agreement_cohen_kappa.json")["sas"]
    a, b = _expand(ref["table_rows_A_cols_B"]["counts"], ref["table_rows_A_cols_B"]["categories"])
    for weights, key in [(None, "simple"), ("linear", "weighted_linear")]:
        res = cohens_kappa(a, b, weights=weights).iloc[0]
        exp = ref[key]
        got = [res["kappa"], res["se"], res["ci_low"], res["ci_high"], res["p_value"]]
        want = [exp["kappa"], exp["ase"], exp["ci_low"], exp["ci_high"], exp["p_two_sided"]]
        np.testing.assert_allclose(got, want, atol=1e-4)


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_cohen_matches_statsmodels(weights):
    rng = np.random.default_rng(3)
    a = rng.choice([1, 2, 4, 7], 300)  # unequally spaced scores
    b = np.where(rng.random(300) < 0.6, a, rng.choice([1, 2, 4, 7], 300))
    table = pd.crosstab(a, b).reindex(index=[1, 2, 4, 7], columns=[1, 2, 4, 7], fill_value=0).to_numpy()
    sm = smir.cohens_kappa(table, weights=None if weights is None else [1, 2, 4, 7], wt=weights)
    res = cohens_kappa(a, b, weights=weights, alpha=0.05).iloc[0]
    assert res["kappa"] == pytest.approx(sm.kappa, rel=1e-12)
    assert res["se"] == pytest.approx(sm.std_kappa, rel=1e-12)
    assert res["ci_low"] == pytest.approx(sm.kappa_low, rel=1e-10)
    assert res["ci_high"] == pytest.approx(sm.kappa_upp, rel=1e-10)
    # a 90% interval is narrower
    narrow = cohens_kappa(a, b, weights=weights, alpha=0.10).iloc[0]
    assert res["ci_low"] < narrow["ci_low"] < narrow["ci_high"] < res["ci_high"]


def test_cohen_ordered_string_labels_and_missing_pairs():
    order = ["low", "mid", "high"]
    a = pd.Categorical(["low", "mid", "high", "high", "mid", None], categories=order, ordered=True)
    b = pd.Categorical(["low", "high", "high", "mid", "mid", "low"], categories=order, ordered=True)
    res = cohens_kappa(a, b, weights="quadratic")
    codes = cohens_kappa([0, 1, 2, 2, 1], [0, 2, 2, 1, 1], weights="quadratic")
    assert res["n"].iloc[0] == 5
    assert res["kappa"].iloc[0] == pytest.approx(codes["kappa"].iloc[0], rel=1e-12)


# =============================================================================
# bootstrap
# =============================================================================
@pytest.mark.parametrize("statistic", ["fleiss", "krippendorff", "percent"])
def test_bootstrap_contains_estimate_and_narrows(statistic):
    small = agreement_ci(_simulated(60, seed=1), statistic, n_boot=400, seed=11)
    large = agreement_ci(_simulated(3000, seed=1), statistic, n_boot=400, seed=11)
    for res in (small, large):
        r = res.iloc[0]
        assert r["ci_low"] <= r["estimate"] <= r["ci_high"]
        assert r["n_boot"] == 400 and r["statistic"] == statistic
    assert (large["ci_high"] - large["ci_low"]).iloc[0] < 0.4 * (small["ci_high"] - small["ci_low"]).iloc[0]
    assert large["n_items"].iloc[0] == 3000


def test_bootstrap_estimates_match_point_functions():
    data = _simulated(200, seed=2)
    counts = to_count_table(data)
    assert agreement_ci(data, "fleiss", n_boot=10, seed=0)["estimate"].iloc[0] == pytest.approx(
        fleiss_kappa(counts)["kappa"].iloc[0], rel=1e-12
    )
    assert agreement_ci(data, "krippendorff", n_boot=10, seed=0)["estimate"].iloc[0] == pytest.approx(
        krippendorff_alpha(data)["alpha"].iloc[0], rel=1e-12
    )
    assert agreement_ci(counts, "percent", layout="counts", n_boot=10, seed=0)["estimate"].iloc[0] == pytest.approx(
        percent_agreement(data)["percent_agreement"].iloc[0], rel=1e-12
    )


@pytest.mark.parametrize("level", LEVELS)
def test_vectorised_replicates_equal_point_estimate_with_unit_weights(level):
    # the bootstrap's batch formula, with every item weighted once, is the coincidence-matrix alpha
    m = _matrix("agreement_krippendorff_2011.csv")
    C = to_count_table(_long(m)).to_numpy(float)
    C = C[C.sum(1) >= 2]
    values = np.array([1.0, 2, 3, 4, 5])
    batch = ag.bootstrap._alpha_batch(C, np.ones((1, len(C))), level, values)[0]
    assert batch == pytest.approx(ag.coefficients._alpha_point(C, level, values)[0], rel=1e-12)
    # and duplicated items (weight 2) equal stacking the table twice
    twice = ag.bootstrap._alpha_batch(C, np.full((1, len(C)), 2.0), level, values)[0]
    assert twice == pytest.approx(ag.coefficients._alpha_point(np.vstack([C, C]), level, values)[0], rel=1e-12)


def test_vectorised_fleiss_replicate_equals_statsmodels():
    table = pd.read_csv(RESULTS / "agreement_fleiss_wikipedia.csv", index_col=0).to_numpy(float)
    w = np.array([[1, 2, 0, 1, 1, 3, 0, 1, 1, 0]], float)
    expanded = np.repeat(table, w[0].astype(int), axis=0)
    for method in ["fleiss", "randolph"]:
        assert ag.bootstrap._fleiss_batch(table, w, method)[0] == pytest.approx(
            smir.fleiss_kappa(expanded, method=method), rel=1e-12
        )


def test_bootstrap_seed_reproducible():
    data = _simulated(300, seed=4)
    kw = {"n_boot": 200, "interval": "percentile"}  # the default jackknife-t does not depend on the seed
    a = agreement_ci(data, "krippendorff", seed=123, **kw)
    b = agreement_ci(data, "krippendorff", seed=123, **kw)
    c = agreement_ci(data, "krippendorff", seed=124, **kw)
    d = agreement_ci(data, "krippendorff", seed=np.random.default_rng(123), **kw)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a, d)
    assert (a["ci_low"].iloc[0], a["ci_high"].iloc[0]) != (c["ci_low"].iloc[0], c["ci_high"].iloc[0])


def test_bootstrap_ordinal_matrix_layout():
    m = _matrix("agreement_krippendorff_2011.csv")
    res = agreement_ci(m, "krippendorff", layout="matrix", level="ordinal", n_boot=300, seed=5).iloc[0]
    assert res["estimate"] == pytest.approx(0.815, abs=5e-4)
    assert res["ci_low"] <= res["estimate"] <= res["ci_high"] <= 1.0


# =============================================================================
# errors a quality manager can act on
# =============================================================================
def test_error_one_rater():
    df = pd.DataFrame({ITEM_ID: ["a", "b"], RATER_ID: ["r1", "r1"], LABEL: ["x", "y"]})
    with pytest.raises(EstimationError, match=r"only one rater \('r1'\)"):
        krippendorff_alpha(df)
    with pytest.raises(EstimationError, match="only one rater"):
        percent_agreement(df)
    with pytest.raises(EstimationError, match="only one rater"):
        krippendorff_alpha([[1, 2, 3]])


def test_error_empty_frame():
    empty = pd.DataFrame({ITEM_ID: [], RATER_ID: [], LABEL: []})
    for fn in (percent_agreement, krippendorff_alpha, agreement_ci):
        with pytest.raises(EstimationError, match="empty"):
            fn(empty)
    with pytest.raises(EstimationError, match="empty"):
        fleiss_kappa(np.zeros((0, 3)))
    with pytest.raises(EstimationError, match="empty"):
        rater_accuracy(pd.DataFrame(columns=[SESSION_ID, ITEM_ID, RATER_ID, RATER_GROUP, LABEL]))


def test_error_unbalanced_fleiss_points_to_krippendorff():
    counts = np.array([[3, 0, 0], [2, 1, 0], [1, 1, 2]])
    with pytest.raises(EstimationError, match=r"same number of ratings.*3 to 4 ratings.*krippendorff_alpha"):
        fleiss_kappa(counts)
    with pytest.raises(EstimationError, match="krippendorff_alpha_from_counts"):
        agreement_ci(counts, "fleiss", layout="counts", n_boot=10)
    # the suggested alternative works on the same table
    assert np.isfinite(krippendorff_alpha_from_counts(counts)["alpha"].iloc[0])


def test_error_contract_and_values():
    df = pd.DataFrame({ITEM_ID: ["a", "a", "a"], RATER_ID: ["r1", "r2", "r2"], LABEL: ["x", "x", "y"]})
    with pytest.raises(DataContractError, match="voted twice"):
        krippendorff_alpha(df)
    with pytest.raises(
        DataContractError, match="ratings: column 'label': required by the agreement statistics but missing"
    ):
        percent_agreement(df.drop(columns=LABEL))
    same = pd.DataFrame({ITEM_ID: ["a", "a", "b", "b"], RATER_ID: ["r1", "r2"] * 2, LABEL: ["x"] * 4})
    with pytest.raises(EstimationError, match="undefined"):
        krippendorff_alpha(same)
    with pytest.raises(EstimationError, match="undefined"):
        fleiss_kappa(to_count_table(same))
    with pytest.raises(EstimationError, match="single label 'x'"):
        cohens_kappa(["x", "x"], ["x", "x"])
    with pytest.raises(EstimationError, match="level='likert' is not one of"):
        krippendorff_alpha(same, "likert")
    with pytest.raises(EstimationError, match="ordinal alpha needs numeric labels"):
        krippendorff_alpha(df.iloc[:2].assign(**{LABEL: ["x", "y"]}), "ordinal")
    with pytest.raises(EstimationError, match="needs ordered labels"):
        cohens_kappa(["x", "y", "x"], ["y", "y", "x"], weights="linear")
    with pytest.raises(EstimationError, match="3 and 2 labels"):
        cohens_kappa(["x", "y", "x"], ["y", "y"])
    with pytest.raises(EstimationError, match="no item was rated by two or more raters"):
        krippendorff_alpha_from_counts([[1, 0], [0, 1]])
    with pytest.raises(EstimationError, match="n_boot=0"):
        agreement_ci(_simulated(10, 0), n_boot=0)
    with pytest.raises(EstimationError, match="interval alpha from counts needs numeric column labels"):
        krippendorff_alpha_from_counts(pd.DataFrame({"low": [2, 1], "high": [0, 1]}), "interval")


# =============================================================================
# calibration reports (planted problems)
# =============================================================================
@pytest.fixture(scope="module")
def calib():
    """Session S1: 10 raters x 30 gold items with planted problems; S2 unbalanced; S3 unanimous.

    Planted: vendor_qa labels misinformation as hate_speech on 15 of its 50 votes (v1 always, v2 on
    half); item i30 splits the room 5/5; internal rater q1 errs once (i21).
    """
    raters = (
        [(f"v{j}", "vendor_qa") for j in range(1, 6)]
        + [(f"q{j}", "internal_qa") for j in range(1, 4)]
        + [("p1", "policy"), ("p2", "policy")]
    )
    gold = {
        f"i{k:02d}": ("misinformation" if k <= 10 else "hate_speech" if k <= 20 else "no_violation")
        for k in range(1, 31)
    }
    rows = []
    for it, g in gold.items():
        k = int(it[1:])
        for r, grp in raters:
            lab = g
            if g == "misinformation" and (r == "v1" or (r == "v2" and k <= 5)):
                lab = "hate_speech"
            if it == "i21" and r == "q1":
                lab = "spam_scam"
            if it == "i30" and grp == "vendor_qa":
                lab = "harassment"
            rows.append(("S1", it, r, grp, lab))
    s2 = [
        ("j1", "x1", "a"),
        ("j1", "x2", "a"),
        ("j2", "x1", "a"),
        ("j2", "x2", "b"),
        ("j2", "x3", "a"),
        ("j3", "x1", "b"),
        ("j3", "x2", "b"),
        ("j3", "x3", "b"),
        ("j3", "x4", "a"),
        ("j4", "x1", "a"),
    ]
    rows += [("S2", i, r, "internal_qa", lab) for i, r, lab in s2]
    rows += [("S3", i, r, "internal_qa", "spam_scam") for i in ("k1", "k2") for r in ("x1", "x2")]
    cal = pd.DataFrame(rows, columns=[SESSION_ID, ITEM_ID, RATER_ID, RATER_GROUP, LABEL])
    golden = pd.DataFrame({ITEM_ID: list(gold), GOLD_LABEL: list(gold.values()), POLICY: list(gold.values())})
    return cal, golden


def test_group_bias_finds_planted_confusion(calib):
    cal, golden = calib
    before = cal.copy()
    gb = group_bias(cal, golden)
    pd.testing.assert_frame_equal(cal, before)  # input not mutated
    row = gb[
        (gb[RATER_GROUP] == "vendor_qa") & (gb[GOLD_LABEL] == "misinformation") & (gb[LABEL] == "hate_speech")
    ].iloc[0]
    assert (row["n"], row["n_gold"], row["share"], row["correct"]) == (15, 50, pytest.approx(0.30), False)
    assert row["ci_low"] < 0.30 < row["ci_high"]
    # policy never errs; the only off-diagonal rows are the planted ones
    wrong = gb[~gb["correct"]]
    assert set(map(tuple, wrong[[RATER_GROUP, GOLD_LABEL, LABEL]].to_numpy())) == {
        ("vendor_qa", "misinformation", "hate_speech"),
        ("vendor_qa", "no_violation", "harassment"),
        ("internal_qa", "no_violation", "spam_scam"),
    }
    shares = gb.groupby([RATER_GROUP, GOLD_LABEL])["share"].sum()
    np.testing.assert_allclose(shares, 1.0)


def test_group_accuracy_and_test(calib):
    cal, golden = calib
    ga = group_accuracy(cal, golden).set_index(RATER_GROUP)
    assert ga.loc["vendor_qa", ["n", "correct"]].tolist() == [150, 130]
    assert ga.loc["internal_qa", ["n", "correct"]].tolist() == [90, 89]
    assert ga.loc["policy", "accuracy"] == 1.0
    assert ga["p_value"].nunique() == 1 and ga["p_value"].iloc[0] < 0.01
    assert ga["test"].iloc[0] == "chi2"
    # misinformation items only, vendor vs policy: 15/50 vs 0/20 wrong; expected wrong for policy 4.3 < 5
    sub = cal[(cal[RATER_GROUP] != "internal_qa") & cal[ITEM_ID].isin([f"i{k:02d}" for k in range(1, 11)])]
    two = group_accuracy(sub, golden)
    assert two["test"].iloc[0] == "fisher"
    assert two["p_value"].iloc[0] == pytest.approx(
        __import__("scipy.stats").stats.fisher_exact([[35, 15], [20, 0]]).pvalue
    )


def test_rater_accuracy_gold_and_consensus(calib):
    cal, golden = calib
    ra = rater_accuracy(cal, golden)
    assert ra[RATER_ID].iloc[0] == "v1"
    v1 = ra.iloc[0]
    assert (v1["n"], v1["correct"]) == (30, 19) and v1["reference"] == "gold"
    assert v1["ci_low"] < 19 / 30 < v1["ci_high"]
    # raters of S2/S3 have no gold items: kept, with NaN accuracy, last
    assert ra[ra[RATER_ID] == "x3"]["accuracy"].isna().all()
    cons = rater_accuracy(cal[cal[SESSION_ID] == "S1"])
    assert cons["reference"].iloc[0] == "consensus" and cons[RATER_ID].iloc[0] == "v1"
    cons = rater_accuracy(cal).set_index(RATER_ID)
    assert cons.loc["x4", ["n", "correct"]].tolist() == [1, 0]  # 'a' against others' b, b, b
    x3 = cons.loc["x3"]
    # x3 on j2 (others a/b tie: not scored) and j3 (others b,b,a -> b: correct)
    assert (x3["n"], x3["correct"]) == (1, 1)


def test_item_disagreement_split_items_first(calib):
    cal, golden = calib
    it = item_disagreement(cal, golden)
    top = it.iloc[0]
    assert (top[SESSION_ID], top[ITEM_ID]) == ("S1", "i30")
    assert top["majority_share"] == 0.5 and bool(top["majority_tied"]) and top["entropy"] == pytest.approx(1.0)
    assert not pd.isna(top["majority_matches_gold"]) and not top["majority_matches_gold"]  # tied: no match
    i01 = it.set_index([SESSION_ID, ITEM_ID]).loc[("S1", "i01")]
    assert i01["majority_label"] == "misinformation" and i01["majority_share"] == pytest.approx(0.8)
    assert i01["n_labels"] == 2 and bool(i01["majority_matches_gold"])
    s2 = it[it[SESSION_ID] == "S2"]
    assert s2["gold_label"].isna().all() and s2["majority_matches_gold"].isna().all()
    assert it["majority_share"].is_monotonic_increasing
    assert len(it) == 30 + 4 + 2


def test_session_agreement_balanced_unbalanced_unanimous(calib):
    cal, _ = calib
    sa = session_agreement(cal).set_index(SESSION_ID)
    s1 = cal[cal[SESSION_ID] == "S1"]
    assert sa.loc["S1", "fleiss_kappa"] == pytest.approx(fleiss_kappa(to_count_table(s1))["kappa"].iloc[0])
    assert sa.loc["S1", "krippendorff_alpha"] == pytest.approx(krippendorff_alpha(s1)["alpha"].iloc[0])
    assert sa.loc["S1", "percent_agreement"] == pytest.approx(percent_agreement(s1)["percent_agreement"].iloc[0])
    assert sa.loc["S1", ["n_items", "n_raters"]].tolist() == [30, 10] and sa.loc["S1", "note"] == ""
    assert np.isnan(sa.loc["S2", "fleiss_kappa"]) and "unbalanced" in sa.loc["S2", "note"]
    assert np.isfinite(sa.loc["S2", "krippendorff_alpha"]) and sa.loc["S2", "n_items"] == 3
    assert sa.loc["S3", "percent_agreement"] == 1.0
    assert np.isnan(sa.loc["S3", "krippendorff_alpha"]) and "undefined" in sa.loc["S3", "note"]


def test_session_agreement_intervals_are_agreement_ci_per_session(calib):
    cal, _ = calib
    sa = session_agreement(cal, n_boot=200, seed=7).set_index(SESSION_ID)
    s1 = cal[cal[SESSION_ID] == "S1"]
    for col, stat in [
        ("percent_agreement", "percent"),
        ("fleiss_kappa", "fleiss"),
        ("krippendorff_alpha", "krippendorff"),
    ]:
        ci = agreement_ci(s1, statistic=stat, n_boot=200, seed=7).iloc[0]
        assert (sa.loc["S1", f"{col}_ci_low"], sa.loc["S1", f"{col}_ci_high"]) == pytest.approx(
            (ci["ci_low"], ci["ci_high"])
        )
        assert sa.loc["S1", f"{col}_ci_low"] <= sa.loc["S1", col] <= sa.loc["S1", f"{col}_ci_high"]
    # no statistic, no interval; n_boot=0 skips them
    assert np.isnan(sa.loc["S2", "fleiss_kappa_ci_low"]) and np.isnan(sa.loc["S3", "krippendorff_alpha_ci_high"])
    assert session_agreement(cal, n_boot=0)["percent_agreement_ci_low"].isna().all()


def test_calibration_report_and_gold_errors(calib):
    cal, golden = calib
    rep = calibration_report(cal, golden)
    assert rep.rater_accuracy[RATER_ID].iloc[0] == "v1" and rep.group_bias is not None
    assert calibration_report(cal).group_accuracy is None
    with pytest.raises(EstimationError, match="none of the calibration items has a gold label"):
        rater_accuracy(cal, golden.assign(**{ITEM_ID: "zz" + golden[ITEM_ID]}))
    with pytest.raises(DataContractError, match="one gold label per item"):
        group_bias(cal, pd.concat([golden, golden.iloc[:1]]))


def test_docstring_examples_run():
    attempted = failed = 0
    for mod in (ag.kappa, ag.krippendorff, ag.gwet, ag.bootstrap, ag.calibration):
        res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
        attempted, failed = attempted + res.attempted, failed + res.failed
    assert attempted >= 3 and failed == 0


# =============================================================================
# real crowd labels: Davidson et al. (2017)
# =============================================================================
DAVIDSON = SHARED_REAL_DIR / "davidson2017_labeled_data.csv"


@pytest.fixture(scope="module")
def davidson():
    if not DAVIDSON.exists():
        pytest.skip(f"real data not available: {DAVIDSON} is missing (set MODQA_SHARED_REAL)")
    return pd.read_csv(DAVIDSON, usecols=["count", "hate_speech", "offensive_language", "neither"])


def test_davidson_agreement(davidson):
    ref = _json("agreement_davidson2017.json")
    counts = davidson[["hate_speech", "offensive_language", "neither"]]
    pa = percent_agreement_from_counts(counts).iloc[0]
    assert (pa["n_items"], pa["n_ratings"]) == (ref["n_items"], ref["n_ratings"])
    assert pa["percent_agreement"] == pytest.approx(ref["percent_agreement_all"], rel=1e-9)
    assert 0.75 < pa["percent_agreement"] < 0.95  # the region of the paper's 92%

    three = counts[davidson["count"] == 3]
    fk = fleiss_kappa(three).iloc[0]
    assert fk["n_items"] == ref["n_items_count3"] and fk["n_raters"] == 3
    assert fk["kappa"] == pytest.approx(smir.fleiss_kappa(three.to_numpy()), rel=1e-12)
    assert fk["kappa"] == pytest.approx(ref["fleiss_kappa_count3"], rel=1e-9)
    with pytest.raises(EstimationError, match="3 to 9 ratings"):
        fleiss_kappa(counts)

    ka = krippendorff_alpha_from_counts(counts, "nominal").iloc[0]
    assert ka["alpha"] == pytest.approx(ref["krippendorff_alpha_nominal_all"], rel=1e-9)
    # on the balanced subset alpha and Fleiss' kappa differ only by the small-sample correction
    ka3 = krippendorff_alpha_from_counts(three, "nominal")["alpha"].iloc[0]
    assert ka3 == pytest.approx(fk["kappa"], abs=1e-4)


def test_davidson_bootstrap_1000(davidson):
    counts = davidson[["hate_speech", "offensive_language", "neither"]]
    res = agreement_ci(counts, "krippendorff", layout="counts", n_boot=1000, seed=2017).iloc[0]
    assert res["n_items"] == len(counts) and res["n_boot"] == 1000
    assert res["ci_low"] < res["estimate"] < res["ci_high"]
    assert res["ci_high"] - res["ci_low"] < 0.05


# ------------------------------------------- interval coverage at calibration-session sizes (issue #11 item 6)
def _session_counts(rng, n_items, raters=9):
    truth = rng.choice(3, n_items, p=[0.6, 0.3, 0.1])
    right = rng.random((n_items, raters)) < 0.8
    other = (truth[:, None] + rng.integers(1, 3, (n_items, raters))) % 3
    lab = np.where(right, truth[:, None], other)
    return np.stack([(lab == k).sum(1) for k in range(3)], 1)


@pytest.mark.slow
def test_agreement_ci_covers_at_10_to_25_items():
    """Krippendorff's alpha, 9 raters, 80% accurate, 3 categories; true alpha from 200k items.
    Coverage over 300 seeded sessions (400 resamples): percentile bootstrap (before) 88.0% at 10
    items, 92.3% at 25; jackknife-t (after, the default) 96.3% at 10 items, 96.0% at 25."""
    from modqa_lib.stats.agreement.coefficients import _alpha_point

    true = _alpha_point(_session_counts(np.random.default_rng(99), 200_000).astype(float), "nominal", None)[0]
    reps = 300
    for n_items in (10, 25):
        cov = {"percentile": 0, "jackknife-t": 0}
        for s in range(reps):
            c = _session_counts(np.random.default_rng([s, 1106]), n_items)
            for kind in cov:
                r = agreement_ci(c, "krippendorff", layout="counts", n_boot=400, seed=s, interval=kind).iloc[0]
                cov[kind] += r[CI_LOW] <= true <= r[CI_HIGH]
        rates = {k: v / reps for k, v in cov.items()}
        print(n_items, rates)
        assert 0.93 <= rates["jackknife-t"] <= 0.975
        if n_items == 10:
            assert rates["percentile"] < 0.93


def test_agreement_ci_is_never_zero_width():
    """Every rater agrees on every item: before, the interval was [1, 1]; now it has width."""
    c = np.array([[9, 0, 0], [0, 9, 0], [0, 0, 9]] * 5)
    for stat in ("krippendorff", "percent", "fleiss"):
        r = agreement_ci(c, stat, layout="counts", n_boot=200).iloc[0]
        assert r["estimate"] == pytest.approx(1.0) and r[CI_HIGH] == pytest.approx(1.0)
        assert r[CI_LOW] < 0.99, stat
    with pytest.raises(EstimationError, match="interval"):
        agreement_ci(c, "percent", layout="counts", interval="wald")
