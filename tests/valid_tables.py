"""A small valid data set (every table of the contract) and a writer for raw files: shared by the tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from modqa_lib.contract import schema as S

REAL = Path(__file__).resolve().parents[2] / "shared" / "real" / "davidson2017_labeled_data.csv"


# --------------------------------------------------------------------- builders
def make_valid_tables(n_decisions: int = 40) -> dict[str, pd.DataFrame]:
    """A small, valid data set as all-string frames (what read_raw_table gives for CSV).

    Every 4th audited decision is an error (QA label differs); audit 0 is golden.
    """
    n = n_decisions
    k = np.arange(n)
    sites = [
        ("Vendor A", "Manila", "+08:00", "PH", "en"),
        ("Vendor B", "Kuala Lumpur", "+08:00", "MY", "ms"),
        ("Vendor C", "Lisbon", "Z", "PT", "pt"),
        ("Platform", "model", "Z", "PH", "en"),
    ]
    pol = ["hate_speech", "spam_scam", "harassment", "child_safety", "adult_nudity"]
    vs = [sites[i % 4] for i in k]
    policy = [pol[i % len(pol)] for i in k]
    label = [p if i % 3 else S.NO_VIOLATION for i, p in zip(k, policy)]
    machine = [v[0] == "Platform" for v in vs]
    dec = pd.DataFrame(
        {
            S.DECISION_ID: [f"d{i:05d}" for i in k],
            S.CONTENT_ID: [f"c{i * 7:06d}" for i in k],
            S.CONTENT_TYPE: [["video", "comment", "livestream", "product_listing"][i % 4] for i in k],
            S.QUEUE: [f"{v[3]}-{v[4]}-general" for v in vs],
            S.MARKET: [v[3] for v in vs],
            S.LANGUAGE: [v[4] for v in vs],
            S.VENDOR: [v[0] for v in vs],
            S.SITE: [v[1] for v in vs],
            S.MODERATOR_ID: [None if m else f"m{i % 7:03d}" for i, m in zip(k, machine)],
            S.MODERATOR_TENURE_DAYS: [None if m else str(10 + 37 * (i % 11)) for i, m in zip(k, machine)],
            S.DECIDED_AT: [f"2026-03-{2 + i % 20:02d}T{i % 24:02d}:15:00{v[2]}" for i, v in zip(k, vs)],
            S.CHANNEL: ["machine" if m else ("hitl" if i % 5 == 0 else "human") for i, m in zip(k, machine)],
            S.POLICY: policy,
            S.LABEL: label,
            S.ACTION: ["no_action" if lab == S.NO_VIOLATION else "remove" for lab in label],
            S.MODEL_LABEL: [lab if i % 2 else None for i, lab in zip(k, label)],
            S.MODEL_SCORE: [f"{(i % 10) / 10 + 0.05:.2f}" if i % 2 else None for i in k],
            S.HANDLE_TIME_S: [None if m else f"{30 + i % 50}.5" for i, m in zip(k, machine)],
        },
        dtype="str",
    )
    na = n // 2
    j = np.arange(na)
    qa, err, et, sev, rc = [], [], [], [], []
    for i in j:
        lab = label[i]
        if i % 4 == 1:  # an error: QA disagrees
            q = S.NO_VIOLATION if lab != S.NO_VIOLATION else policy[i]
            qa.append(q)
            err.append("true")
            et.append("false_positive" if q == S.NO_VIOLATION else "false_negative")
            sev.append("major")
            rc.append("misread_context")
        else:
            qa.append(lab)
            err.append("false")
            et.append(None)
            sev.append(None)
            rc.append(None)
    aud = pd.DataFrame(
        {
            S.AUDIT_ID: [f"a{i:05d}" for i in j],
            S.DECISION_ID: [f"d{i:05d}" for i in j],
            S.AUDITOR_ID: [f"qa{i % 3}" for i in j],
            S.AUDITED_AT: [f"2026-03-{23 + i % 5:02d}T10:00:00+00:00" for i in j],
            S.QA_LABEL: qa,
            S.IS_ERROR: err,
            S.ERROR_TYPE: et,
            S.SEVERITY: sev,
            S.ROOT_CAUSE: rc,
            S.SAMPLE_ID: "2026-W10",
            S.STRATUM: [vs[i][0] for i in j],
            S.INCLUSION_PROB: ["0.25" if i % 2 else "0.1" for i in j],
            S.WEIGHT: ["4" if i % 2 else "10.0" for i in j],
            S.IS_GOLDEN: ["TRUE" if i == 0 else "False" for i in j],
        },
        dtype="str",
    )
    gold = pd.DataFrame(
        {
            S.ITEM_ID: ["g1", "g2", "g3", "d00000"],  # d00000: the item of the golden audit a00000
            S.GOLD_LABEL: ["hate_speech", S.NO_VIOLATION, "spam_scam", S.NO_VIOLATION],
            S.POLICY: ["hate_speech", "hate_speech", "spam_scam", "hate_speech"],
        },
        dtype="str",
    )
    cal = pd.DataFrame(
        {
            S.SESSION_ID: "s1",
            S.ITEM_ID: ["g1", "g2", "g3"] * 3,
            S.RATER_ID: [f"r{i // 3}" for i in range(9)],
            S.RATER_GROUP: ["vendor_qa", "internal_qa", "policy"] * 3,
            S.LABEL: ["hate_speech", S.NO_VIOLATION, "spam_scam"] * 3,
        },
        dtype="str",
    )
    act = pd.DataFrame(
        {
            S.ACTION_ID: ["ca1", "ca2"],
            S.KIND: ["retraining", "sop_clarification"],
            S.VENDOR: ["Vendor A", None],
            S.SITE: ["Manila", None],
            S.MARKET: ["PH", None],
            S.POLICY: ["hate_speech", None],
            S.STARTED_AT: ["2026-03-10T00:00:00+08:00", "2026-03-12T09:00:00Z"],
            S.OWNER: ["qa-lead", "policy-team"],
            S.TARGET_METRIC: ["accuracy", "accuracy"],
            S.DESCRIPTION: ["Refresher on slurs, reclaimed terms", None],
        },
        dtype="str",
    )
    pch = pd.DataFrame(
        {
            S.CHANGED_AT: ["2026-03-05T00:00:00Z"],
            S.POLICY: ["hate_speech"],
            S.DESCRIPTION: ["Dehumanising comparisons now violating"],
        },
        dtype="str",
    )
    dis = pd.DataFrame(
        {
            S.DISPUTE_ID: ["dp1", "dp2", "dp3"],
            S.AUDIT_ID: ["a00001", "a00005", "a00009"],
            S.RAISED_BY: [vs[1][0], vs[5][0], vs[9][0]],
            S.RAISED_AT: ["2026-03-29T08:00:00+08:00", "2026-03-29T09:00:00Z", "2026-03-30T09:00:00Z"],
            S.REASON: ["policy_interpretation", "missing_context", "other"],
            S.STATUS: ["overturned", "upheld", "open"],
            S.RESOLVED_AT: ["2026-03-31T10:00:00Z", "2026-04-02T10:00:00Z", None],
            S.RESOLVED_BY: ["pol1", "pol2", None],
            S.RESOLUTION_REASON: ["grader_error", "not_grader_error", None],
            S.CORRECTED_LABEL: [label[1], None, None],
        },
        dtype="str",
    )
    vqa_label = [label[0], label[1], S.NO_VIOLATION if label[2] != S.NO_VIOLATION else policy[2]]
    vqa = pd.DataFrame(
        {
            S.VENDOR_AUDIT_ID: ["va1", "va2", "va3"],
            S.DECISION_ID: ["d00000", "d00001", "d00002"],
            S.VENDOR_AUDITOR_ID: ["vqa1", "vqa1", "vqa2"],
            S.AUDITED_AT: ["2026-03-25T10:00:00Z", "2026-03-25T11:00:00Z", "2026-03-26T10:00:00+01:00"],
            S.VENDOR_QA_LABEL: vqa_label,
            S.IS_ERROR: ["false", "false", "true"],
        },
        dtype="str",
    )
    app = pd.DataFrame(
        {
            S.DECISION_ID: dec[S.DECISION_ID].iloc[:3].tolist(),
            S.APPEALED_AT: ["2026-09-08T10:00:00+00:00", "2026-09-08T11:00:00+00:00", "2026-09-09T09:00:00+00:00"],
            S.OUTCOME: ["reversed", "upheld", None],
            S.DECIDED_AT: ["2026-09-09T10:00:00+00:00", "2026-09-10T11:00:00+00:00", None],
        }
    )
    tables = {
        "decisions": dec,
        "audits": aud,
        "calibration": cal,
        "golden": gold,
        "actions": act,
        "policy_changes": pch,
        "disputes": dis,
        "vendor_qa": vqa,
        "appeals": app,
    }
    tables.update(_operations_tables())
    return tables


def _operations_tables() -> dict[str, pd.DataFrame]:
    """Roster and training rows for the operations tables (optional; decisions.reported_at is left out)."""
    roster = pd.DataFrame(
        {
            S.MODERATOR_ID: ["m000", "m001", "m002"],
            S.VENDOR: ["Vendor A", "Vendor A", "Vendor B"],
            S.SITE: ["Manila", "Manila", "Kuala Lumpur"],
            S.QUEUE: ["PH-en-general", "PH-en-general", "MY-ms-general"],
            S.VALID_FROM: ["2026-02-01T00:00:00+08:00", "2026-03-01T00:00:00+08:00", "2026-01-15T00:00:00Z"],
            S.VALID_TO: [None, None, "2026-06-30T00:00:00Z"],
            S.STATUS: ["production", "nesting", "production"],
        },
        dtype="str",
    )
    training = pd.DataFrame(
        {
            S.MODERATOR_ID: ["m000", "m001"],
            S.COURSE: ["policy-101", "policy-101"],
            S.COMPLETED_AT: ["2026-01-20T09:00:00Z", "2026-03-02T09:00:00Z"],
            S.SCORE: ["0.92", None],
            S.PASSED: ["true", "false"],
        },
        dtype="str",
    )
    return {"roster": roster, "training": training}


def write_raw(tables: dict[str, pd.DataFrame], raw_dir: Path, fmt: str = "csv") -> Path:
    """Write frames as raw files (CSV as UTF-8, comma-delimited, empty = missing)."""
    raw_dir.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        if fmt == "csv":
            df.to_csv(raw_dir / f"{name}.csv", index=False, lineterminator="\n")
        else:
            df.to_parquet(raw_dir / f"{name}.parquet", index=False)
    return raw_dir
