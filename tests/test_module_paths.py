"""Modules split into subpackages keep every name at its old import path.

``data.synthetic``, ``stats.agreement.coefficients``, ``stats.scoring``,
``contract.validation``, ``data.io``, ``stats.transparency`` and ``report.export``
grew past ~800 lines and were split along their seams. Notebooks, other modules (``data.stream`` reads ``V._check_table``
and friends) and other branches import these names from the old paths; this
test lists every name each old module defined (and the private or imported names
read from it elsewhere) and checks each still resolves there, to the object its
new home defines.
"""

from __future__ import annotations

import importlib

import pytest

OLD_PATHS: dict[str, list[str]] = {
    "modqa_lib.data.synthetic": [
        "DEFAULT_SEED",
        "DEFAULT_START",
        "DemoData",
        "MARKET_LANGUAGES",
        "PLANTED",
        "SHIFTS",
        "SITE_TIMEZONES",
        "VENDOR_SITES",
        "atomic_write",
        "contract_frame",
        "csv_bytes",
        "default_audit_rate",
        "generate",
        "planted_truths",
        "start_timestamp",
        "write_demo_data",
        "_LEAK_EXTRA",
    ],
    "modqa_lib.stats.agreement.coefficients": [
        "BRENNAN_PREDIGER",
        "GWET_AC1",
        "brennan_prediger",
        "brennan_prediger_from_counts",
        "cohens_kappa",
        "fleiss_kappa",
        "gwet_ac1",
        "gwet_ac1_from_counts",
        "kappa_paradox",
        "krippendorff_alpha",
        "krippendorff_alpha_from_counts",
        "percent_agreement",
        "percent_agreement_from_counts",
        "to_count_table",
        "_alpha_point",
        "_coincidence",
    ],
    "modqa_lib.stats.scoring": [
        "CI_METHODS",
        "DEFAULT_SEVERITY_WEIGHTS",
        "STATUS_AT_RISK",
        "STATUS_MET",
        "STATUS_MISSED",
        "accuracy_table",
        "bool_column",
        "check_nonempty",
        "design_weights",
        "error_mix",
        "interval_method",
        "kpi_status",
        "proportion_ci",
        "ratio_estimates",
        "resolve_targets",
        "severity_table",
        "target_status",
        "targets_data",
        "bh_qvalues",
        "moderator_table",
        "golden_accuracy",
    ],
    "modqa_lib.contract.validation": [
        "CASE_FOLDED",
        "DATETIME_DTYPE",
        "DEFAULT_EARLIEST_DATE",
        "DEFAULT_FUTURE_TOLERANCE_HOURS",
        "EXCLUSIVE_MIN",
        "FALSE_STRINGS",
        "FREE_TEXT",
        "ID_COLUMNS",
        "MAX_ROWS",
        "MAX_VALUES",
        "NULL_PLACEHOLDERS",
        "TRUE_STRINGS",
        "WEIGHT_RTOL",
        "WHOLE_TABLE",
        "build_pandera_schema",
        "contract_dtypes",
        "cross_rules_on_small_tables",
        "date_bounds",
        "found_values",
        "isin_text",
        "problem",
        "qaqa_cross_table_problems",
        "rows_of",
        "validate_table",
        "validate_tables",
        "_DT_RULES",
        "_check_table",
        "_cross_table_problems",
        "_finish",
        "_found",
        "_isin",
        "_problem",
        "_problem_order",
    ],
    "modqa_lib.data.io": [
        "DAVIDSON_CLASSES",
        "RAW_SUFFIXES",
        "add_derived_columns",
        "atomic_path",
        "audited_decisions",
        "check_csv_complete",
        "data_fingerprint",
        "decisions_partitioned",
        "find_raw_tables",
        "load_calibration",
        "load_davidson",
        "load_processed",
        "load_report_tables",
        "load_site_timezones",
        "load_targets",
        "load_yaml",
        "processed_fingerprint",
        "processed_snapshot",
        "read_raw_table",
        "read_raw_table_header_checks",
        "write_csv_atomic",
        "write_json_atomic",
        "write_parquet_atomic",
        "write_text_atomic",
    ],
    "modqa_lib.stats.transparency": [
        "AUTOMATION_LEVELS",
        "ESTIMATE",
        "HUMAN_SYSTEM",
        "METRIC",
        "METRICS",
        "NOTE",
        "N_AUDITS",
        "STATUS",
        "VIOLATING",
        "appeal_decision_times",
        "appeal_reversal_rates",
        "automated_accuracy",
        "decisions_by_automation",
        "load_systems",
        "plan_summary",
        "plan_transparency_audits",
        "prepare_transparency_frame",
    ],
    "modqa_lib.report.export": ["find_executable_markup", "harden_html"],
}


def _missing(module: str, names: list[str]) -> list[str]:
    """Names ``module`` no longer provides, or provides as a different object than where it is defined."""
    mod = importlib.import_module(module)
    out = []
    for name in names:
        if not hasattr(mod, name):
            out.append(name)
            continue
        obj = getattr(mod, name)
        home = getattr(obj, "__module__", None) if callable(obj) else None
        if (
            home
            and home.startswith("modqa_lib.")
            and getattr(importlib.import_module(home), obj.__name__, None) is not obj
        ):
            out.append(name)
    return out


@pytest.mark.parametrize("module", sorted(OLD_PATHS))
def test_old_import_paths_still_resolve(module):
    assert _missing(module, OLD_PATHS[module]) == [], f"{module} no longer provides these names"


def test_the_check_fails_on_a_missing_name():
    """A test that cannot fail is a defect: a name the module lacks is reported."""
    assert _missing("modqa_lib.data.io", ["load_yaml", "no_such_reader"]) == ["no_such_reader"]
