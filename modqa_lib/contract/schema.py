"""The modqa data contract: tables, columns, types and vocabularies.

Column names are defined once here and imported everywhere else. Controlled
vocabularies (policies, root causes, ...) come from ``params/taxonomy.yaml``.

Tables (each a CSV or parquet file in ``data/raw/`` named ``<table>.csv`` or
``<table>.parquet``):

decisions
    One row per moderation decision.
audits
    One row per QA re-review of a decision; the QA label is taken as correct.
calibration
    One row per (session, item, rater) vote in a calibration session.
golden
    Known-answer items: the policy team's gold label.
actions
    Corrective actions (retraining, SOP clarification, ...), with their scope.
policy_changes
    Policy launches and guideline changes.
disputes
    Vendors' disputes of QA verdicts and how they were resolved (optional).
vendor_qa
    The vendors' own QA results, to compare with the platform's re-audit (optional).
appeals
    Optional: user appeals (internal complaints) against decisions and their outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from modqa_lib.config import PARAMS_DIR

__all__ = [
    "ACCURACY",
    "ACTION",
    # actions / policy changes
    "ACTION_ID",
    "AUDITED_AT",
    "AUDITOR_ID",
    # audits
    "AUDIT_ID",
    "CHANGED_AT",
    "CHANNEL",
    "CI_HIGH",
    "CI_LOW",
    "CONTENT_ID",
    "CONTENT_TYPE",
    "DECIDED_AT",
    # decisions
    "DECISION_ID",
    "DESCRIPTION",
    "ERRORS",
    "ERROR_RATE",
    "ERROR_TYPE",
    "GOLD_LABEL",
    "HANDLE_TIME_S",
    "HOUR",
    "INCLUSION_PROB",
    "IS_ERROR",
    "IS_GOLDEN",
    "ITEM_ID",
    "KIND",
    "LABEL",
    "LANGUAGE",
    "MARKET",
    "MODEL_LABEL",
    "MODEL_SCORE",
    "MODERATOR_ID",
    "MODERATOR_TENURE_DAYS",
    "NO_VIOLATION",
    "OWNER",
    "POLICY",
    "P_VALUE",
    "QA_LABEL",
    "QUEUE",
    "Q_VALUE",
    "RATER_GROUP",
    "RATER_ID",
    "ROOT_CAUSE",
    "SAMPLE_ID",
    # calibration / golden
    "SESSION_ID",
    "SEVERITY",
    "SHIFT",
    "SITE",
    "STARTED_AT",
    "STRATUM",
    "TABLES",
    "TABLE_NAMES",
    "TARGET_METRIC",
    "TENURE_BAND",
    "VENDOR",
    # derived
    "WEEK",
    "WEIGHT",
    # machinery
    "Column",
    # result columns
    "N",
    "Table",
    "Taxonomy",
    "load_taxonomy",
]

# --- decisions ------------------------------------------------------------
DECISION_ID = "decision_id"
CONTENT_ID = "content_id"
CONTENT_TYPE = "content_type"
QUEUE = "queue"
MARKET = "market"
LANGUAGE = "language"
VENDOR = "vendor"
SITE = "site"
MODERATOR_ID = "moderator_id"
MODERATOR_TENURE_DAYS = "moderator_tenure_days"
DECIDED_AT = "decided_at"
CHANNEL = "channel"
POLICY = "policy"  # policy area the case was routed/reported under
LABEL = "label"  # the decision: a policy code or NO_VIOLATION
ACTION = "action"
MODEL_LABEL = "model_label"
MODEL_SCORE = "model_score"
HANDLE_TIME_S = "handle_time_s"
REPORTED_AT = "reported_at"  # optional: when the item entered the queue
# roster / training (operations)
VALID_FROM = "valid_from"
VALID_TO = "valid_to"
STATUS = "status"
COURSE = "course"
COMPLETED_AT = "completed_at"
SCORE = "score"
PASSED = "passed"

# --- audits ---------------------------------------------------------------
AUDIT_ID = "audit_id"
AUDITOR_ID = "auditor_id"
AUDITED_AT = "audited_at"
QA_LABEL = "qa_label"
IS_ERROR = "is_error"
ERROR_TYPE = "error_type"
SEVERITY = "severity"
ROOT_CAUSE = "root_cause"
SAMPLE_ID = "sample_id"
STRATUM = "stratum"
INCLUSION_PROB = "inclusion_prob"
WEIGHT = "weight"
IS_GOLDEN = "is_golden"

# --- calibration / golden -------------------------------------------------
SESSION_ID = "session_id"
ITEM_ID = "item_id"
RATER_ID = "rater_id"
RATER_GROUP = "rater_group"
GOLD_LABEL = "gold_label"

# --- actions / policy changes ---------------------------------------------
ACTION_ID = "action_id"
KIND = "kind"
STARTED_AT = "started_at"
OWNER = "owner"
TARGET_METRIC = "target_metric"
DESCRIPTION = "description"
CHANGED_AT = "changed_at"

# --- derived columns (added by io.audited_decisions) ----------------------
WEEK = "week"  # ISO week start (Monday, UTC) of decided_at, as a date
HOUR = "hour"  # hour of day of decided_at in the site's local time
SHIFT = "shift"  # day (07-15), evening (15-23), night (23-07), site local time
TENURE_BAND = "tenure_band"  # "<30d", "30-90d", "90-365d", ">365d"

# --- result columns (scoring / rca outputs) -------------------------------
N = "n"
ERRORS = "errors"
ACCURACY = "accuracy"
ERROR_RATE = "error_rate"
CI_LOW = "ci_low"
CI_HIGH = "ci_high"
P_VALUE = "p_value"
Q_VALUE = "q_value"

NO_VIOLATION = "no_violation"

# --- disputes / vendor QA (QA of QA) ---------------------------------------
DISPUTE_ID = "dispute_id"
RAISED_BY = "raised_by"
RAISED_AT = "raised_at"
REASON = "reason"
RESOLVED_AT = "resolved_at"
RESOLVED_BY = "resolved_by"
RESOLUTION_REASON = "resolution_reason"
CORRECTED_LABEL = "corrected_label"
VENDOR_AUDIT_ID = "vendor_audit_id"
VENDOR_AUDITOR_ID = "vendor_auditor_id"
VENDOR_QA_LABEL = "vendor_qa_label"
#: dispute statuses with a meaning in the code (the taxonomy lists them all)
STATUS_OPEN = "open"
STATUS_UPHELD = "upheld"
STATUS_OVERTURNED = "overturned"
STATUS_PARTIAL = "partially_overturned"
__all__ += [
    "CORRECTED_LABEL",
    "DISPUTE_ID",
    "RAISED_AT",
    "RAISED_BY",
    "REASON",
    "RESOLUTION_REASON",
    "RESOLVED_AT",
    "RESOLVED_BY",
    "STATUS",
    "STATUS_OPEN",
    "STATUS_OVERTURNED",
    "STATUS_PARTIAL",
    "STATUS_UPHELD",
    "VENDOR_AUDITOR_ID",
    "VENDOR_AUDIT_ID",
    "VENDOR_QA_LABEL",
]
# --- appeals (optional table) and transparency reporting -------------------
APPEALED_AT = "appealed_at"
OUTCOME = "outcome"  # reversed or upheld
APPEAL_OUTCOMES: tuple[str, ...] = ("reversed", "upheld")
SYSTEM = "system"  # automated system a decision belongs to (params/systems.yaml), derived
AUTOMATION = "automation"  # fully_automated, human_confirmed or human_only, derived from channel
__all__ += ["APPEALED_AT", "APPEAL_OUTCOMES", "AUTOMATION", "OUTCOME", "SYSTEM"]


@dataclass(frozen=True)
class Column:
    """One column of the contract.

    Attributes
    ----------
    name : str
    dtype : {"str", "int", "float", "bool", "datetime"}
        ``datetime`` means timezone-aware (naive timestamps are rejected).
    nullable : bool
    vocab : str or None
        Name of a taxonomy vocabulary the values must belong to
        (``"policies"``, ``"labels"``, ``"root_causes"``, ...).
    unique : bool
    min, max : float or None
        Inclusive bounds, except ``inclusion_prob`` which must lie in (0, 1].
    description : str
    required : bool
        False for an optional column: a file may leave it out, and it is then
        read as all-missing (it must still be nullable).
    """

    name: str
    dtype: str
    nullable: bool = False
    vocab: str | None = None
    unique: bool = False
    min: float | None = None
    max: float | None = None
    description: str = ""
    #: False for a column a file may leave out (it is then read as all-missing)
    required: bool = True


@dataclass(frozen=True)
class Table:
    """A table of the contract: its columns and primary key."""

    name: str
    columns: tuple[Column, ...]
    key: str | None = None
    description: str = ""

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


C = Column
TABLES: dict[str, Table] = {
    "decisions": Table(
        "decisions",
        (
            C(DECISION_ID, "str", unique=True, description="unique id of the decision"),
            C(CONTENT_ID, "str", description="id of the content item decided on"),
            C(CONTENT_TYPE, "str", vocab="content_types", description="video, livestream, comment, ..."),
            C(QUEUE, "str", description="work queue, e.g. 'BR-pt-livestream'"),
            C(MARKET, "str", description="market (country/region code)"),
            C(LANGUAGE, "str", description="content language (ISO 639-1)"),
            C(VENDOR, "str", description="BPO vendor, or 'Platform' for machine decisions"),
            C(SITE, "str", description="vendor site (city), or 'model' for machine decisions"),
            C(MODERATOR_ID, "str", nullable=True, description="moderator; empty for machine decisions"),
            C(MODERATOR_TENURE_DAYS, "int", nullable=True, min=0, description="moderator tenure at decision time"),
            C(DECIDED_AT, "datetime", description="decision time, timezone-aware"),
            C(CHANNEL, "str", vocab="channels", description="human, machine or hitl"),
            C(POLICY, "str", vocab="policies", description="policy area the case was routed under"),
            C(LABEL, "str", vocab="labels", description="decision: a policy code or no_violation"),
            C(ACTION, "str", vocab="actions", description="enforcement action taken"),
            C(MODEL_LABEL, "str", nullable=True, vocab="labels", description="model's proposed label"),
            C(MODEL_SCORE, "float", nullable=True, min=0.0, max=1.0, description="model violation score"),
            C(HANDLE_TIME_S, "float", nullable=True, min=0.0, description="handle time in seconds"),
            C(
                REPORTED_AT,
                "datetime",
                nullable=True,
                required=False,
                description="when the item entered the queue (optional column; for time to action and SLA)",
            ),
        ),
        key=DECISION_ID,
        description="one row per moderation decision",
    ),
    "audits": Table(
        "audits",
        (
            C(AUDIT_ID, "str", unique=True, description="unique id of the audit"),
            C(DECISION_ID, "str", description="decision re-reviewed (must exist in decisions)"),
            C(AUDITOR_ID, "str", description="QA auditor"),
            C(AUDITED_AT, "datetime", description="audit time, timezone-aware"),
            C(QA_LABEL, "str", vocab="labels", description="correct label according to QA"),
            C(IS_ERROR, "bool", description="decision label differs from the QA label"),
            C(
                ERROR_TYPE,
                "str",
                nullable=True,
                vocab="error_types",
                description="false_positive, false_negative or wrong_policy; empty when not an error",
            ),
            C(
                SEVERITY,
                "str",
                nullable=True,
                vocab="severities",
                description="critical, major, minor; empty when not an error",
            ),
            C(
                ROOT_CAUSE,
                "str",
                nullable=True,
                vocab="root_causes",
                description="root-cause code; required for errors",
            ),
            C(SAMPLE_ID, "str", description="sample plan the audit came from"),
            C(STRATUM, "str", description="sampling stratum"),
            C(INCLUSION_PROB, "float", min=0.0, max=1.0, description="first-order inclusion probability in (0, 1]"),
            C(WEIGHT, "float", min=1.0, description="design weight = 1 / inclusion_prob"),
            C(IS_GOLDEN, "bool", description="a golden (known-answer) item mixed into the worklist"),
        ),
        key=AUDIT_ID,
        description="one row per QA re-review",
    ),
    "calibration": Table(
        "calibration",
        (
            C(SESSION_ID, "str", description="calibration session"),
            C(ITEM_ID, "str", description="item rated (see golden)"),
            C(RATER_ID, "str", description="rater"),
            C(RATER_GROUP, "str", vocab="rater_groups", description="vendor_qa, internal_qa or policy"),
            C(LABEL, "str", vocab="labels", description="label given by the rater"),
        ),
        description="one row per rater vote in a calibration session",
    ),
    "golden": Table(
        "golden",
        (
            C(ITEM_ID, "str", unique=True, description="known-answer item"),
            C(GOLD_LABEL, "str", vocab="labels", description="the policy team's answer"),
            C(POLICY, "str", vocab="policies", description="policy area of the item"),
        ),
        key=ITEM_ID,
        description="known-answer items",
    ),
    "actions": Table(
        "actions",
        (
            C(ACTION_ID, "str", unique=True, description="unique id of the corrective action"),
            C(
                KIND,
                "str",
                vocab="action_kinds",
                description="retraining, sop_clarification, calibration, model_update, coaching",
            ),
            C(VENDOR, "str", nullable=True, description="scope: vendor (empty = all)"),
            C(SITE, "str", nullable=True, description="scope: site (empty = all)"),
            C(MARKET, "str", nullable=True, description="scope: market (empty = all)"),
            C(POLICY, "str", nullable=True, vocab="policies", description="scope: policy (empty = all)"),
            C(STARTED_AT, "datetime", description="when the action took effect"),
            C(OWNER, "str", description="who owns the action"),
            C(TARGET_METRIC, "str", description="metric it should move, e.g. accuracy"),
            C(DESCRIPTION, "str", nullable=True, description="free text"),
        ),
        key=ACTION_ID,
        description="corrective actions",
    ),
    "policy_changes": Table(
        "policy_changes",
        (
            C(CHANGED_AT, "datetime", description="when the change went live"),
            C(POLICY, "str", vocab="policies", description="policy changed"),
            C(DESCRIPTION, "str", description="what changed"),
        ),
        description="policy launches and guideline changes",
    ),
    "roster": Table(
        "roster",
        (
            C(MODERATOR_ID, "str", description="moderator (the id used in decisions)"),
            C(VENDOR, "str", description="vendor employing the moderator"),
            C(SITE, "str", description="site the moderator works at"),
            C(QUEUE, "str", description="queue the moderator is rostered on"),
            C(VALID_FROM, "datetime", description="start of the assignment"),
            C(VALID_TO, "datetime", nullable=True, description="end of the assignment (empty = open)"),
            C(STATUS, "str", vocab="roster_statuses", description="nesting (supervised ramp-up) or production"),
        ),
        description="moderators rostered on queues (for capacity and go-live readiness)",
    ),
    "training": Table(
        "training",
        (
            C(MODERATOR_ID, "str", description="moderator"),
            C(COURSE, "str", description="course code, e.g. 'livestream-policy-101'"),
            C(COMPLETED_AT, "datetime", description="when the course was completed"),
            C(SCORE, "float", nullable=True, min=0.0, max=1.0, description="assessment score in [0, 1]"),
            C(PASSED, "bool", description="whether the assessment was passed"),
        ),
        description="completed training courses per moderator",
    ),
    "disputes": Table(
        "disputes",
        (
            C(DISPUTE_ID, "str", unique=True, description="unique id of the dispute"),
            C(AUDIT_ID, "str", description="audit disputed (must exist in audits)"),
            C(RAISED_BY, "str", description="vendor that raised the dispute"),
            C(RAISED_AT, "datetime", description="when the dispute was raised"),
            C(REASON, "str", vocab="dispute_reasons", description="why the vendor disputes the QA verdict"),
            C(STATUS, "str", vocab="dispute_statuses", description="open, upheld, overturned, partially_overturned"),
            C(RESOLVED_AT, "datetime", nullable=True, description="when it was resolved; empty while open"),
            C(RESOLVED_BY, "str", nullable=True, description="who resolved it; empty while open"),
            C(
                RESOLUTION_REASON,
                "str",
                nullable=True,
                vocab="resolution_reasons",
                description="grader_error, not_grader_error, policy_unclear; empty while open",
            ),
            C(
                CORRECTED_LABEL,
                "str",
                nullable=True,
                vocab="labels",
                description="the label that replaces the QA label; required when overturned",
            ),
        ),
        key=DISPUTE_ID,
        description="one row per dispute of a QA verdict (optional)",
    ),
    "vendor_qa": Table(
        "vendor_qa",
        (
            C(VENDOR_AUDIT_ID, "str", unique=True, description="unique id of the vendor's own audit"),
            C(DECISION_ID, "str", description="decision audited by the vendor (must exist in decisions)"),
            C(VENDOR_AUDITOR_ID, "str", description="the vendor's QA auditor"),
            C(AUDITED_AT, "datetime", description="vendor audit time, timezone-aware"),
            C(VENDOR_QA_LABEL, "str", vocab="labels", description="correct label according to the vendor's QA"),
            C(IS_ERROR, "bool", description="decision label differs from the vendor QA label"),
        ),
        key=VENDOR_AUDIT_ID,
        description="the vendors' own QA results (optional)",
    ),
    "appeals": Table(
        "appeals",
        (
            C(DECISION_ID, "str", unique=True, description="decision appealed (must exist in decisions)"),
            C(APPEALED_AT, "datetime", description="when the user appealed, timezone-aware"),
            C(OUTCOME, "str", nullable=True, description="reversed or upheld; empty while pending"),
            C(DECIDED_AT, "datetime", nullable=True, description="when the appeal was decided; empty while pending"),
        ),
        key=DECISION_ID,
        description="optional: one row per appealed decision (DSA Art. 20 internal complaint)",
    ),
}
TABLE_NAMES: tuple[str, ...] = tuple(TABLES)
#: tables that must be present for ingest; the others are optional.
REQUIRED_TABLES: tuple[str, ...] = ("decisions", "audits")
__all__ += ["COMPLETED_AT", "COURSE", "PASSED", "REPORTED_AT", "REQUIRED_TABLES", "SCORE", "VALID_FROM"]
__all__ += ["VALID_TO"]


@dataclass(frozen=True)
class Taxonomy:
    """Controlled vocabularies loaded from ``params/taxonomy.yaml``."""

    policies: tuple[str, ...]
    critical_policies: frozenset[str]
    policy_names: dict[str, str] = field(hash=False)
    content_types: tuple[str, ...]
    channels: tuple[str, ...]
    actions: tuple[str, ...]
    error_types: tuple[str, ...]
    severities: tuple[str, ...]
    root_causes: tuple[str, ...]
    root_cause_names: dict[str, str] = field(hash=False)
    rater_groups: tuple[str, ...]
    action_kinds: tuple[str, ...]
    no_violation: str = NO_VIOLATION
    roster_statuses: tuple[str, ...] = ("nesting", "production")
    dispute_reasons: tuple[str, ...] = ("policy_interpretation", "missing_context", "guideline_changed", "other")
    dispute_statuses: tuple[str, ...] = (STATUS_OPEN, STATUS_UPHELD, STATUS_OVERTURNED, STATUS_PARTIAL)
    resolution_reasons: tuple[str, ...] = ("grader_error", "not_grader_error", "policy_unclear")

    @property
    def labels(self) -> tuple[str, ...]:
        """Decision labels: every policy plus ``no_violation``."""
        return self.policies + (self.no_violation,)

    def vocab(self, name: str) -> tuple[str, ...]:
        """Allowed values of a vocabulary by name (``"labels"``, ``"policies"``, ...)."""
        return tuple(getattr(self, name))


@lru_cache(maxsize=8)
def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """Read the taxonomy YAML.

    Parameters
    ----------
    path : path-like, optional
        Defaults to ``params/taxonomy.yaml``.

    Returns
    -------
    Taxonomy
    """
    from modqa_lib.errors import ConfigError

    p = Path(path) if path else PARAMS_DIR / "taxonomy.yaml"
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{p}: cannot read taxonomy ({exc})") from None
    from modqa_lib.contract.params_schema import check_params

    check_params(raw, "taxonomy", p)
    try:
        pol = raw["policies"]
        rc = raw["root_causes"]
        return Taxonomy(
            policies=tuple(x["code"] for x in pol),
            critical_policies=frozenset(x["code"] for x in pol if x.get("critical")),
            policy_names={x["code"]: x.get("name", x["code"]) for x in pol},
            content_types=tuple(raw["content_types"]),
            channels=tuple(raw["channels"]),
            actions=tuple(raw["actions"]),
            error_types=tuple(raw["error_types"]),
            severities=tuple(raw["severities"]),
            root_causes=tuple(x["code"] for x in rc),
            root_cause_names={x["code"]: x.get("name", x["code"]) for x in rc},
            rater_groups=tuple(raw["rater_groups"]),
            action_kinds=tuple(raw["action_kinds"]),
            no_violation=raw.get("no_violation_label", NO_VIOLATION),
            roster_statuses=tuple(raw.get("roster_statuses", ("nesting", "production"))),
            **{k: tuple(raw[k]) for k in ("dispute_reasons", "dispute_statuses", "resolution_reasons") if k in raw},
        )
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"{p}: taxonomy is missing key {exc}") from None


def _required_text(c: Column) -> str:
    if not c.required:
        return "no (the column may be left out)"
    return "no" if c.nullable else "yes"


def contract_markdown() -> str:
    """The data contract as Markdown tables (the README embeds this verbatim; a test checks it)."""
    out: list[str] = [
        "*required* `yes`: the column must be present and every cell filled; `no`: the column may be "
        "left out (it is then taken as empty, with a warning) and its cells may be empty.\n"
    ]
    for t in TABLES.values():
        key = f" (key `{t.key}`)" if t.key else ""
        out.append(f"#### `{t.name}`: {t.description}{key}\n")
        out.append("| column | type | required | rule | meaning |\n|---|---|---|---|---|")
        for c in t.columns:
            rule = []
            if c.vocab:
                rule.append(f"in taxonomy `{c.vocab}`")
            if c.unique:
                rule.append("unique")
            if c.name == INCLUSION_PROB:
                rule.append("in (0, 1]")
            elif c.name == WEIGHT:
                rule.append("= 1 / inclusion_prob")
            else:
                if c.min is not None:
                    rule.append(f">= {c.min:g}")
                if c.max is not None:
                    rule.append(f"<= {c.max:g}")
            if c.dtype == "datetime":
                rule.append("ISO 8601 with UTC offset")
            out.append(f"| `{c.name}` | {c.dtype} | {_required_text(c)} | {', '.join(rule)} | {c.description} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


__all__ += ["contract_markdown"]


def __getattr__(name: str):
    # require_columns and as_columns moved to modqa_lib.contract.checks (the one set of argument
    # checks); this keeps ``schema.require_columns`` working for code written before the move.
    if name in ("require_columns", "as_columns"):
        from modqa_lib.contract import checks

        return getattr(checks, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
