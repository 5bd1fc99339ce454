"""Generate the bad-input corpus: one folder per case (raw files or params, plus ``expected.txt``).

Run from the repository root: ``python tests/bad_inputs/make_cases.py`` (rewrites every case
folder; the output is deterministic). Each case starts from the small valid data set of
``tests/valid_tables.py`` (or the shipped ``params/``) and breaks one thing.

``expected.txt``::

    command: ingest | batch | sample     (the modqa subcommand run by tests/test_bad_inputs.py)
    args: extra command-line arguments   (optional; shlex-split)
    outcome: CLEAR | WARNED              (CLEAR: exit code != 0 and one line naming what/where;
                                          WARNED: accepted, exit 0, a WARNING line in the summary)
    expect: a fragment the output must contain   (one or more lines, all must appear)
"""

from __future__ import annotations

import gzip
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

from valid_tables import make_valid_tables, write_raw  # noqa: E402

from modqa_lib.contract import schema as S  # noqa: E402

CASES: list[dict] = []


def case(name: str, outcome: str, *expect: str, command: str = "ingest", args: str = "", n: int = 40):
    """Register a data case: the decorated function mutates the tables and/or the raw folder."""

    def deco(fn: Callable):
        CASES.append(
            {"name": name, "outcome": outcome, "expect": expect, "command": command, "args": args, "fn": fn, "n": n}
        )
        return fn

    return deco


def cell(t, table, row, col, value):
    t[table].loc[row, col] = value


# ------------------------------------------------------------------- design weights
@case("weight_extreme_1e9", "WARNED", "WARNING audits.csv: column 'weight'", "stratum's median", "data rows 4")
def _(t, raw):
    cell(t, "audits", 3, S.INCLUSION_PROB, "1e-9")
    cell(t, "audits", 3, S.WEIGHT, "1000000000")


@case(
    "weight_not_inverse_prob",
    "CLEAR",
    "audits.csv: column 'weight'",
    "weight must equal 1 / inclusion_prob",
    "data rows 3",
)
def _(t, raw):
    cell(t, "audits", 2, S.WEIGHT, "5")


@case("inclusion_prob_zero", "CLEAR", "audits.csv: column 'inclusion_prob'", "must be in (0, 1]", "data rows 2")
def _(t, raw):
    cell(t, "audits", 1, S.INCLUSION_PROB, "0")


@case("inclusion_prob_above_one", "CLEAR", "column 'inclusion_prob'", "must be in (0, 1]", "'1.5'")
def _(t, raw):
    cell(t, "audits", 1, S.INCLUSION_PROB, "1.5")


@case("weight_below_one", "CLEAR", "column 'weight'", "must be >= 1", "data rows 2")
def _(t, raw):
    cell(t, "audits", 1, S.WEIGHT, "0.5")


def _plan(t, raw, edit=None):
    plan = t["audits"][[S.SAMPLE_ID, S.DECISION_ID, S.STRATUM, S.INCLUSION_PROB]].copy()
    if edit:
        plan = edit(plan)
    folder = raw / "samples" / "2026-03-02"
    folder.mkdir(parents=True, exist_ok=True)
    plan.to_csv(folder / "sample.csv", index=False)


@case("sample_plan_prob_mismatch", "CLEAR", "column 'inclusion_prob'", "differs from the sample plan", "plan 0.5")
def _(t, raw):
    _plan(t, raw, lambda p: p.assign(**{S.INCLUSION_PROB: p[S.INCLUSION_PROB].where(p.index != 2, "0.5")}))


@case("sample_plan_stratum_mismatch", "CLEAR", "column 'stratum'", "stratum differs from the sample plan")
def _(t, raw):
    _plan(t, raw, lambda p: p.assign(**{S.STRATUM: p[S.STRATUM].where(p.index != 4, "Vendor Z")}))


@case("sample_plan_missing_decision", "CLEAR", "column 'decision_id'", "not in the sample plan of its sample_id")
def _(t, raw):
    _plan(t, raw, lambda p: p.drop(index=5))


# ------------------------------------------------------------------------- dates
@case("decided_at_2031", "CLEAR", "decisions.csv: column 'decided_at'", "timestamp in the future", "data rows 7")
def _(t, raw):
    cell(t, "decisions", 6, S.DECIDED_AT, "2031-01-05T10:00:00Z")


@case("decided_at_2300", "CLEAR", "column 'decided_at'", "timestamp in the future", "'2300-01-05T10:00:00Z'")
def _(t, raw):
    cell(t, "decisions", 6, S.DECIDED_AT, "2300-01-05T10:00:00Z")


@case("decided_at_1999", "CLEAR", "column 'decided_at'", "before the earliest plausible date 2015-01-01")
def _(t, raw):
    cell(t, "decisions", 3, S.DECIDED_AT, "1999-12-31T23:00:00+08:00")


@case("audited_at_2031", "CLEAR", "audits.csv: column 'audited_at'", "timestamp in the future", "data rows 3")
def _(t, raw):
    cell(t, "audits", 2, S.AUDITED_AT, "2031-03-01T10:00:00Z")


@case("audit_before_decision", "CLEAR", "column 'audited_at'", "audit is dated before its decision", "data rows 3")
def _(t, raw):
    cell(t, "audits", 2, S.AUDITED_AT, "2026-03-01T00:00:00Z")


@case("action_started_2300", "CLEAR", "actions.csv: column 'started_at'", "timestamp in the future")
def _(t, raw):
    cell(t, "actions", 1, S.STARTED_AT, "2300-01-01T00:00:00Z")


@case("policy_change_1990", "CLEAR", "policy_changes.csv: column 'changed_at'", "earliest plausible date")
def _(t, raw):
    cell(t, "policy_changes", 0, S.CHANGED_AT, "1990-01-01T00:00:00Z")


@case("decided_at_naive", "CLEAR", "column 'decided_at'", "timestamp has no time zone", "data rows 2")
def _(t, raw):
    cell(t, "decisions", 1, S.DECIDED_AT, "2026-03-03T10:00:00")


@case("decided_at_garbage", "CLEAR", "column 'decided_at'", "unparseable timestamp", "'yesterday'")
def _(t, raw):
    cell(t, "decisions", 1, S.DECIDED_AT, "yesterday")


# ---------------------------------------------------------------- vocabularies, ids
@case("calibration_label_typo", "CLEAR", "calibration.csv: column 'label'", "not in taxonomy 'labels'", "data rows 2")
def _(t, raw):
    cell(t, "calibration", 1, S.LABEL, "hate_speach")


@case("golden_label_typo", "CLEAR", "golden.csv: column 'gold_label'", "not in taxonomy 'labels'")
def _(t, raw):
    cell(t, "golden", 0, S.GOLD_LABEL, "Hate Speech")


@case("label_unknown_policy", "CLEAR", "decisions.csv: column 'label'", "not in taxonomy 'labels'", "'hate'")
def _(t, raw):
    cell(t, "decisions", 4, S.LABEL, "hate")


@case("channel_unknown", "CLEAR", "column 'channel'", "not in taxonomy 'channels'", "'robot'")
def _(t, raw):
    cell(t, "decisions", 4, S.CHANNEL, "robot")


@case("id_NULL", "CLEAR", "column 'content_id'", "placeholder for a missing value used as an id", "'NULL'")
def _(t, raw):
    cell(t, "decisions", 3, S.CONTENT_ID, "NULL")


@case("id_N_A", "CLEAR", "audits.csv: column 'auditor_id'", "placeholder for a missing value", "'N/A'")
def _(t, raw):
    cell(t, "audits", 3, S.AUDITOR_ID, "N/A")


@case("id_None", "CLEAR", "column 'moderator_id'", "placeholder for a missing value", "'None'")
def _(t, raw):
    cell(t, "decisions", 1, S.MODERATOR_ID, "None")


@case("id_nan", "CLEAR", "calibration.csv: column 'rater_id'", "placeholder for a missing value", "'nan'")
def _(t, raw):
    cell(t, "calibration", 2, S.RATER_ID, "nan")


@case(
    "golden_audit_non_golden_item", "CLEAR", "column 'decision_id'", "golden audit (is_golden true) points at an item"
)
def _(t, raw):
    cell(t, "audits", 2, S.IS_GOLDEN, "true")


@case("calibration_item_not_golden", "CLEAR", "column 'item_id'", "calibration item not in golden", "'g9'")
def _(t, raw):
    cell(t, "calibration", 4, S.ITEM_ID, "g9")


@case("unknown_decision_in_audits", "CLEAR", "column 'decision_id'", "unknown decision_id", "'d99999'")
def _(t, raw):
    cell(t, "audits", 4, S.DECISION_ID, "d99999")


@case("duplicate_audit_id", "CLEAR", "column 'audit_id'", "duplicate key", "'a00001'")
def _(t, raw):
    cell(t, "audits", 2, S.AUDIT_ID, "a00001")


@case("action_vendor_unknown", "CLEAR", "actions.csv: column 'vendor'", "action scope vendor not found", "'Vendor Q'")
def _(t, raw):
    cell(t, "actions", 0, S.VENDOR, "Vendor Q")


# --------------------------------------------------------------- names, blanks, case
@case("vendor_trailing_blank", "WARNED", "WARNING decisions.csv: column 'vendor'", "blanks stripped", "'Vendor A '")
def _(t, raw):
    cell(t, "decisions", 0, S.VENDOR, "Vendor A ")


@case("site_leading_blank", "WARNED", "column 'site'", "leading/trailing blanks stripped", "data rows 2")
def _(t, raw):
    cell(t, "decisions", 1, S.SITE, " Kuala Lumpur")


@case("vendor_case_variant", "CLEAR", "column 'vendor'", "differ only in upper/lower case", "'Vendor A' / 'vendor a'")
def _(t, raw):
    cell(t, "decisions", 0, S.VENDOR, "vendor a")


@case("market_case_variant", "CLEAR", "column 'market'", "differ only in upper/lower case")
def _(t, raw):
    cell(t, "decisions", 0, S.MARKET, "ph")


# ------------------------------------------------------------------- column rules
@case("model_score_above_one", "CLEAR", "column 'model_score'", "must be in [0, 1]", "'1.5'")
def _(t, raw):
    cell(t, "decisions", 1, S.MODEL_SCORE, "1.5")


@case("model_score_text", "CLEAR", "column 'model_score'", "not a number", "'high'")
def _(t, raw):
    cell(t, "decisions", 1, S.MODEL_SCORE, "high")


@case("handle_time_decimal_comma", "CLEAR", "column 'handle_time_s'", "use a dot as decimal separator", "'12,5'")
def _(t, raw):
    cell(t, "decisions", 1, S.HANDLE_TIME_S, "12,5")


@case("tenure_negative", "CLEAR", "column 'moderator_tenure_days'", "must be >= 0", "'-3'")
def _(t, raw):
    cell(t, "decisions", 1, S.MODERATOR_TENURE_DAYS, "-3")


@case("tenure_fraction", "CLEAR", "column 'moderator_tenure_days'", "not an integer", "'3.5'")
def _(t, raw):
    cell(t, "decisions", 1, S.MODERATOR_TENURE_DAYS, "3.5")


@case("is_golden_maybe", "CLEAR", "column 'is_golden'", "not a boolean", "'maybe'")
def _(t, raw):
    cell(t, "audits", 1, S.IS_GOLDEN, "maybe")


@case("qa_label_empty", "CLEAR", "column 'qa_label'", "empty value (this column is required)", "data rows 3")
def _(t, raw):
    cell(t, "audits", 2, S.QA_LABEL, None)


@case("is_error_mismatch", "CLEAR", "column 'is_error'", "is_error must equal (decision label != qa_label)")
def _(t, raw):
    cell(t, "audits", 2, S.IS_ERROR, "true")
    cell(t, "audits", 2, S.ERROR_TYPE, "false_positive")
    cell(t, "audits", 2, S.SEVERITY, "minor")
    cell(t, "audits", 2, S.ROOT_CAUSE, "misread_context")


@case("error_type_mismatch", "CLEAR", "column 'error_type'", "error_type does not match the labels")
def _(t, raw):
    i = 1  # an error: decision actioned, QA says no_violation -> false_positive
    cell(
        t,
        "audits",
        i,
        S.ERROR_TYPE,
        "wrong_policy" if t["audits"].loc[i, S.ERROR_TYPE] != "wrong_policy" else "false_positive",
    )


@case("severity_missing_for_error", "CLEAR", "column 'severity'", "required when is_error is true", "data rows 2")
def _(t, raw):
    cell(t, "audits", 1, S.SEVERITY, None)


@case("root_cause_on_non_error", "CLEAR", "column 'root_cause'", "must be empty when is_error is false")
def _(t, raw):
    cell(t, "audits", 2, S.ROOT_CAUSE, "fatigue_attention")


@case("missing_required_column", "CLEAR", "audits.csv: column 'auditor_id'", "missing column (required in 'audits')")
def _(t, raw):
    t["audits"] = t["audits"].drop(columns=[S.AUDITOR_ID])


@case("optional_column_absent", "WARNED", "WARNING decisions.csv: column 'model_score'", "optional column absent")
def _(t, raw):
    t["decisions"] = t["decisions"].drop(columns=[S.MODEL_SCORE])


@case("unknown_column_typo", "CLEAR", "column 'moderatorid'", "did you mean 'moderator_id'?")
def _(t, raw):
    t["decisions"] = t["decisions"].rename(columns={S.MODERATOR_ID: "moderatorid"})


@case("header_only_decisions", "CLEAR", "decisions.csv: table", "table has no data rows")
def _(t, raw):
    t["decisions"] = t["decisions"].iloc[:0]


# ------------------------------------------------------------------ files as bytes
def _rewrite(raw: Path, name: str, fn: Callable[[bytes], bytes]) -> None:
    p = raw / name
    p.write_bytes(fn(p.read_bytes()))


@case("csv_cut_in_last_row", "CLEAR", "decisions.csv", "has 3 of 18 fields and no final line break", "cut short")
def _(t, raw):
    _rewrite(raw, "decisions.csv", lambda b: b + b"d99999,c9,video")


@case("csv_cut_in_last_field", "WARNED", "actions.csv: no line break after the last row (data row 2)", "cut short")
def _(t, raw):
    a = t["actions"].copy()  # t itself stays as it is (the file is written here)
    a.loc[1, S.DESCRIPTION] = "Guideline refresh for all sites"
    a.to_csv(raw / "actions.csv", index=False, lineterminator="\n")
    _rewrite(raw, "actions.csv", lambda b: b.rstrip(b"\n")[:-10])  # cut inside the description


@case("csv_unterminated_quote", "CLEAR", "actions.csv", "malformed CSV")
def _(t, raw):
    _rewrite(raw, "actions.csv", lambda b: b + b'ca3,coaching,,,,,2026-03-12T09:00:00Z,qa,accuracy,"Refresher on sl')


@case(
    "bad_byte_latin1", "CLEAR", "decisions.csv", "not UTF-8 encoded: byte 0xe9 at line 4", "re-save the file as UTF-8"
)
def _(t, raw):
    _rewrite(raw, "decisions.csv", lambda b: b.replace(b"Lisbon", b"Lisb\xe9n", 1))


@case("duplicated_header", "CLEAR", "audits.csv", "duplicated header: 'qa_label' in columns 5, 15")
def _(t, raw):
    df = t["audits"].assign(qa_label_dup=t["audits"][S.QA_LABEL])  # t itself stays as it is
    df.to_csv(raw / "audits.csv", index=False, lineterminator="\n")
    _rewrite(raw, "audits.csv", lambda b: b.replace(b"qa_label_dup", b"qa_label", 1))


@case("parquet_named_csv", "CLEAR", "decisions.csv", "this is a parquet file: rename it to .parquet")
def _(t, raw):
    t["decisions"].to_parquet(raw / "decisions.csv", index=False)


@case("xlsx_named_csv", "CLEAR", "audits.csv", "spreadsheet (.xlsx)", "export it as 'CSV UTF-8'")
def _(t, raw):
    (raw / "audits.csv").write_bytes(b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 200)


@case("xls_named_csv", "CLEAR", "audits.csv", "an old Excel spreadsheet (.xls)")
def _(t, raw):
    (raw / "audits.csv").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 200)


@case("gzip_named_csv", "CLEAR", "golden.csv", "a gzip-compressed file: decompress it first")
def _(t, raw):
    _rewrite(raw, "golden.csv", gzip.compress)


@case("utf16_csv", "CLEAR", "golden.csv", "UTF-16 text: re-save it as UTF-8")
def _(t, raw):
    _rewrite(raw, "golden.csv", lambda b: b.decode().encode("utf-16"))


@case("semicolon_delimited", "CLEAR", "golden.csv", "header has no commas", "';'-delimited")
def _(t, raw):
    _rewrite(raw, "golden.csv", lambda b: b.replace(b",", b";"))


@case("empty_file", "CLEAR", "policy_changes.csv", "file is empty")
def _(t, raw):
    (raw / "policy_changes.csv").write_bytes(b"")


@case("required_table_misnamed", "CLEAR", "required table(s) missing: decisions.csv or decisions.parquet")
def _(t, raw):
    (raw / "decisions.csv").rename(raw / "decision.csv")


@case("table_given_twice", "CLEAR", "table 'golden' given twice (golden.csv, golden.parquet)")
def _(t, raw):
    t["golden"].to_parquet(raw / "golden.parquet", index=False)


# ---------------------------------------------------------------- params (config)
PARAM_CASES = [
    # name, file, (yaml text replace: old, new), command, expects
    (
        "targets_misspelt_key",
        "targets.yaml",
        ("critical_policies:", "critical_polices:"),
        "batch",
        ("targets.yaml: key 'accuracy.critical_polices': unknown key; did you mean 'critical_policies'?",),
    ),
    (
        "targets_default_text",
        "targets.yaml",
        ("default: 0.95", "default: '95%'"),
        "batch",
        ("targets.yaml: key 'accuracy.default': wrong type, expected a number",),
    ),
    (
        "targets_default_percent",
        "targets.yaml",
        ("default: 0.95", "default: 95"),
        "batch",
        ("key 'accuracy.default': out of range, must be in [0, 1], got 95",),
    ),
    (
        "targets_unknown_section",
        "targets.yaml",
        ("model:", "modle:"),
        "batch",
        ("key 'modle': unknown key; did you mean 'model'?",),
    ),
    (
        "targets_critical_rate_one",
        "targets.yaml",
        ("critical_error_rate_max: 0.005", "critical_error_rate_max: 1"),
        "batch",
        ("key 'critical_error_rate_max': out of range, must be in [0, 1)",),
    ),
    (
        "sites_timezone_misspelt",
        "sites.yaml",
        ("timezone: Asia/Manila}", "timezone: Asia/Manilla}"),
        "batch",
        ("sites.yaml: key 'sites.Manila.timezone': unknown time zone 'Asia/Manilla'; did you mean 'Asia/Manila'?",),
    ),
    (
        "sites_timezone_offset",
        "sites.yaml",
        ("timezone: Europe/Lisbon}", "timezone: GMT+1}"),
        "batch",
        ("unknown time zone 'GMT+1'",),
    ),
    (
        "sites_key_typo",
        "sites.yaml",
        ("timezone: Asia/Kolkata}", "tz: Asia/Kolkata}"),
        "batch",
        ("key 'sites.Hyderabad.tz': unknown key (valid keys: vendor, timezone)",),
    ),
    (
        "vendors_units_typo",
        "vendors.yaml",
        ("\nunits: {}", "\nunitz: {}"),
        "batch",
        ("vendors.yaml: key 'unitz': unknown key; did you mean 'units'?",),
    ),
    (
        "vendors_alpha_5",
        "vendors.yaml",
        ("  alpha: 0.05", "  alpha: 5"),
        "batch",
        ("vendors.yaml: key 'parameters.alpha': out of range, must be in (0, 0.5), got 5",),
    ),
    (
        "vendors_exclude_not_list",
        "vendors.yaml",
        ('exclude_units: ["Platform"]', "exclude_units: Platform"),
        "batch",
        ("key 'exclude_units': wrong type, expected a list",),
    ),
    (
        "ingest_floor_not_a_date",
        "ingest.yaml",
        ('earliest_date: "2015-01-01"', 'earliest_date: "first of Jan"'),
        "ingest",
        ("ingest.yaml: key 'earliest_date': not an ISO date (YYYY-MM-DD)",),
    ),
    (
        "ingest_impossible_yaml_date",
        "ingest.yaml",
        ('earliest_date: "2015-01-01"', "earliest_date: 2015-13-01"),
        "ingest",
        ("ingest.yaml: invalid YAML",),
    ),
    (
        "ingest_negative_tolerance",
        "ingest.yaml",
        ("future_tolerance_hours: 24", "future_tolerance_hours: -1"),
        "ingest",
        ("key 'future_tolerance_hours': out of range",),
    ),
]

OPTION_CASES = [
    ("batch_timeout_zero", "batch", "--timeout 0", ("argument --timeout: must be in [1, 604800], got 0",)),
    ("batch_timeout_text", "batch", "--timeout soon", ("argument --timeout: expected an integer, got 'soon'",)),
    ("batch_workers_zero", "batch", "--workers 0", ("argument --workers: must be in [1, 256], got 0",)),
    ("batch_only_unknown_unit", "batch", "--only 'Vendor Q'", ("--only: unknown vendor unit(s) 'Vendor Q'",)),
    ("batch_bad_period", "batch", "--period last:zero", ("period 'last:zero'", "must be a whole number of weeks")),
    ("sample_margin_zero", "sample", "--week latest --margin 0", ("argument --margin: must be in (0, 0.5], got 0",)),
    (
        "sample_confidence_percent",
        "sample",
        "--week latest --confidence 95",
        ("argument --confidence: must be in (0, 1)",),
    ),
    (
        "sample_golden_share_one",
        "sample",
        "--week latest --golden-share 1",
        ("argument --golden-share: must be in [0, 1)",),
    ),
    ("sample_week_not_a_date", "sample", "--week someday", ("--week 'someday' is not a date (YYYY-MM-DD)",)),
    ("sample_week_sunday", "sample", "--week 2031-01-05", ("--week 2031-01-05 is a Sunday",)),
    ("batch_only_empty", "batch", "--only ','", ("--only ',': names no unit",)),
]


def _write_expected(folder: Path, command: str, outcome: str, expects, args: str = "") -> None:
    lines = [f"command: {command}"] + ([f"args: {args}"] if args else []) + [f"outcome: {outcome}"]
    lines += [f"expect: {e}" for e in expects]
    (folder / "expected.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> int:
    for old in HERE.iterdir():
        if old.is_dir() and (old / "expected.txt").exists():
            shutil.rmtree(old)
    for c in CASES:
        folder = HERE / c["name"]
        raw = folder / "raw"
        t = make_valid_tables(c["n"])
        write_raw(t, raw)
        before = {k: v.copy() for k, v in t.items()}
        c["fn"](t, raw)
        changed = [k for k in t if not t[k].equals(before[k])]
        if changed:
            write_raw({k: t[k] for k in changed}, raw)
        _write_expected(folder, c["command"], c["outcome"], c["expect"], c["args"])
    for name, file, (old, new), command, expects in PARAM_CASES:
        folder = HERE / name
        params = folder / "params"
        shutil.copytree(ROOT / "params", params)
        text = (params / file).read_text(encoding="utf-8")
        assert old in text, (name, old)
        (params / file).write_text(text.replace(old, new, 1), encoding="utf-8")
        if command == "ingest":
            write_raw(make_valid_tables(), folder / "raw")
        _write_expected(folder, command, "CLEAR", expects)
    for name, command, args, expects in OPTION_CASES:
        folder = HERE / name
        folder.mkdir(parents=True, exist_ok=True)
        _write_expected(folder, command, "CLEAR", expects, args)
    n = sum(1 for p in HERE.iterdir() if (p / "expected.txt").exists())
    print(f"{n} cases written to {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
