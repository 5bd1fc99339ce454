"""Go-live readiness: the planted not-ready queue fails for the right reason, the ready one passes; bad config is clear."""

from __future__ import annotations

import pytest

from modqa_lib.data import io
from modqa_lib.errors import ConfigError
from modqa_lib.stats import readiness as R


@pytest.fixture(scope="module")
def demo_checks(demo60k):
    audits = io.audited_decisions(demo60k.tables)
    golive, targets = io.load_yaml("golive"), io.load_targets()

    def check(queue):
        cfg = R.golive_config(golive, queue)
        return R.readiness_checklist(
            queue, cfg, demo60k.tables["roster"], demo60k.tables["training"], audits, targets
        ).set_index("check")

    return check, demo60k.truth["operations"]


def test_ready_queue_passes_every_check(demo_checks):
    check, truth = demo_checks
    c = check(truth["golive"]["ready"])
    assert c.attrs["ready"] and (c["status"] == "pass").all()


def test_not_ready_queue_fails_on_training_only_naming_the_moderators(demo_checks):
    check, truth = demo_checks
    c = check(truth["golive"]["not_ready"])
    assert not c.attrs["ready"]
    assert c["status"].to_dict() == {
        "capacity": "pass",
        "training": "fail",
        "nesting quality": "pass",
        "targets and reports configured": "pass",
    }
    for m in truth["realised"]["nesting_moderators_lacking_training"]:
        assert m in c.loc["training", "evidence"]
    assert "9 of 12" in c.loc["training", "evidence"]


def test_capacity_fails_when_the_forecast_outgrows_the_roster(demo60k):
    cfg = dict(R.golive_config(io.load_yaml("golive"), "PH-live-shopping"), forecast_weekly_volume=100_000)
    c = R.readiness_checklist(
        "PH-live-shopping",
        cfg,
        demo60k.tables["roster"],
        demo60k.tables["training"],
        io.audited_decisions(demo60k.tables),
        io.load_targets(),
    ).set_index("check")
    assert c.loc["capacity", "status"] == "fail" and "needed 100,000 decisions" in c.loc["capacity", "evidence"]


@pytest.mark.parametrize(
    ("golive", "message"),
    [
        ({"queues": {}}, "not configured for go-live"),
        ({"queues": {"Q": {"vendor": "V"}}}, "missing key"),
        ({"queues": {"Q": {**dict.fromkeys(R.READINESS_KEYS, 1), "polices": []}}}, "unknown key"),
        (
            {
                "queues": {
                    "Q": {
                        "vendor": "V",
                        "content_type": "video",
                        "policies": ["x"],
                        "forecast_weekly_volume": 10,
                        "productive_hours_per_week": 30,
                        "required_courses": [],
                        "nesting_accuracy_target": 95,
                    }
                }
            },
            "nesting_accuracy_target must be in",
        ),
    ],
)
def test_bad_golive_config_is_one_clear_error(golive, message):
    with pytest.raises(ConfigError, match=message):
        R.golive_config(golive, "Q")
