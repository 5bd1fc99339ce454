"""The one set of argument checks: messages, exception types, and BH equal to statsmodels."""

import math

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from modqa_lib.contract import schema as S
from modqa_lib.contract.checks import as_columns, bh_qvalues, check_alpha, holm_pvalues, require_columns
from modqa_lib.errors import ConfigError, DataContractError


def test_require_columns_names_who_needs_what_and_how_to_fix_it():
    df = pd.DataFrame({"a": [1, 2]})
    require_columns(df, ["a"], "accuracy_table")  # no error
    with pytest.raises(DataContractError) as e:
        require_columns(df, ["a", "vendor", "site", "vendor"], "rca.drilldown")
    msg = str(e.value)
    assert msg.startswith("2 data contract problem(s):")  # a repeated column is reported once
    assert "audits: column 'vendor': required by rca.drilldown() but missing (build the frame with " in msg
    assert "modqa_lib.data.io.audited_decisions(tables))" in msg and "column 'site'" in msg
    assert e.value.problems[0]["count"] == 2
    with pytest.raises(
        DataContractError, match=r"golden: column 'item_id': required by the sample plan but missing \["
    ):
        require_columns(df, ["item_id"], "the sample plan", table="golden")
    with pytest.raises(DataContractError, match=r"required by inject_golden\(\) but missing \(a hint\)"):
        require_columns(df, ["x"], "inject_golden", table="golden", hint="a hint")
    with pytest.raises(ConfigError, match=r"^p_chart\(\): expected a pandas DataFrame of audits, got list$"):
        require_columns([1, 2], ["a"], "p_chart")


def test_schema_require_columns_is_the_same_function():
    assert S.require_columns is require_columns and S.as_columns is as_columns
    with pytest.raises(AttributeError):
        S.no_such_name  # noqa: B018


def test_as_columns():
    assert as_columns(None) == [] and as_columns("vendor") == ["vendor"]
    assert as_columns(("vendor", "site")) == ["vendor", "site"]
    with pytest.raises(ConfigError, match="dims must be a column name or a list of column names, got 3"):
        as_columns(3, "dims")


@pytest.mark.parametrize("alpha", [0, 1, 1.5, -0.1, math.nan, "0.05", None, True])
def test_check_alpha_rejects_with_one_exception_type(alpha):
    with pytest.raises(ConfigError, match=r"alpha must be a number strictly between 0 and 1 \(e.g. 0.05 for a 95%"):
        check_alpha(alpha)


def test_check_alpha_accepts_numbers_and_names_the_function():
    assert check_alpha(0.05) == 0.05 and isinstance(check_alpha(np.float32(0.1)), float)
    with pytest.raises(ConfigError, match=r"^change_points\(\): alpha must be .* got 2$"):
        check_alpha(2, "change_points")


def test_every_statistic_rejects_a_bad_alpha_with_config_error(audited60k):
    from modqa_lib.stats import agreement, drift, model_eval, rca, sampling, scoring

    calls = [
        lambda: scoring.accuracy_table(audited60k, S.VENDOR, alpha=0),
        lambda: scoring.proportion_ci(1, 10, alpha=1),
        lambda: model_eval.model_metrics(audited60k, alpha=2),
        lambda: rca.drilldown(audited60k, [S.VENDOR], alpha=0),
        lambda: drift.change_points(audited60k, alpha=1),
        lambda: agreement.agreement_ci(pd.DataFrame(), alpha=0),
        lambda: sampling.sample_size_two_periods(0.1, 0.05, alpha=0),
    ]
    for call in calls:
        with pytest.raises(ConfigError, match="alpha must be a number strictly between 0 and 1"):
            call()


def test_bh_qvalues_equals_statsmodels_and_skips_missing():
    rng = np.random.default_rng(9)
    p = rng.uniform(size=40) ** 3
    np.testing.assert_allclose(bh_qvalues(p), multipletests(p, method="fdr_bh")[1])
    with_nan = np.concatenate([p[:10], [np.nan, np.nan]])
    q = bh_qvalues(with_nan)
    np.testing.assert_allclose(q[:10], multipletests(p[:10], method="fdr_bh")[1])  # 10 tests, not 12
    assert np.isnan(q[10:]).all()
    assert bh_qvalues([]).shape == (0,) and np.isnan(bh_qvalues([np.nan])).all()


def test_holm_pvalues_equals_statsmodels_with_ties_and_skips_missing():
    rng = np.random.default_rng(11)
    p = np.round(rng.uniform(size=40) ** 3, 3)  # rounding makes ties
    np.testing.assert_allclose(holm_pvalues(p), multipletests(p, method="holm")[1])
    with_nan = np.concatenate([[np.nan], p[:10], [np.inf]])
    q = holm_pvalues(with_nan)
    np.testing.assert_allclose(q[1:11], multipletests(p[:10], method="holm")[1])  # 10 tests, not 12
    assert np.isnan(q[[0, 11]]).all()
    assert holm_pvalues([]).shape == (0,) and np.isnan(holm_pvalues([np.nan])).all()
