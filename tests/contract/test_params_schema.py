"""Params files are checked against a schema when loaded (issue 12, config typos)."""

from __future__ import annotations

import pytest
import yaml

from modqa_lib.config import PARAMS_DIR
from modqa_lib.contract.params_schema import SCHEMAS, check_params, load_params_file
from modqa_lib.data.io import load_site_timezones, load_targets
from modqa_lib.errors import ConfigError
from modqa_lib.run.batch.plan import load_family_config


@pytest.mark.parametrize("stem", sorted(SCHEMAS))
def test_shipped_params_files_pass(stem):
    p = PARAMS_DIR / f"{stem}.yaml"
    if p.exists():
        load_params_file(p)


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_misspelt_target_key_names_the_closest(tmp_path):
    """'critical_polices' used to relax the critical target from 0.99 to 0.95 silently."""
    p = _write(tmp_path, "targets.yaml", "accuracy:\n  default: 0.95\n  critical_polices: 0.99\n")
    with pytest.raises(
        ConfigError,
        match=r"targets.yaml: key 'accuracy.critical_polices': unknown key; did you mean 'critical_policies'\?",
    ):
        load_targets(p)


def test_unknown_time_zone(tmp_path):
    p = _write(tmp_path, "sites.yaml", "sites:\n  Manila: {vendor: Vendor A, timezone: Asia/Manilla}\n")
    with pytest.raises(
        ConfigError, match=r"sites.Manila.timezone': unknown time zone 'Asia/Manilla'; did you mean 'Asia/Manila'"
    ):
        load_site_timezones(p)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"accuracy": {"default": "0.95"}}, "'accuracy.default': wrong type, expected a number"),
        ({"accuracy": {"default": 95}}, "'accuracy.default': out of range, must be in [0, 1]"),
        ({"critical_error_rate_max": 1}, "must be in [0, 1)"),
        ({"accuracy": {"by_vendor": ["Vendor A"]}}, "'accuracy.by_vendor': wrong type, expected a mapping"),
        ({"model": {"recal": 0.8}}, "did you mean 'recall'"),
    ],
)
def test_targets_types_and_ranges(data, fragment):
    with pytest.raises(ConfigError) as e:
        check_params(data, "targets", "params/targets.yaml")
    assert fragment in str(e.value) and "targets.yaml" in str(e.value)


def test_family_config_checked_before_any_kernel(tmp_path):
    cfg = yaml.safe_load((PARAMS_DIR / "vendors.yaml").read_text())
    cfg["parameters"]["alpha"] = 5
    cfg["exclude_unit"] = ["Platform"]
    p = _write(tmp_path, "my_family.yaml", yaml.safe_dump(cfg))
    with pytest.raises(ConfigError) as e:
        load_family_config("vendor", p)
    msg = str(e.value)
    assert "2 problems in my_family.yaml" in msg
    assert "'exclude_unit': unknown key; did you mean 'exclude_units'?" in msg
    assert "'parameters.alpha': out of range, must be in (0, 0.5), got 5" in msg


def test_ingest_params_bad_values(tmp_path):
    p = _write(tmp_path, "ingest.yaml", "earliest_date: '2015-13-01'\nfuture_tolerance_hours: -1\n")
    with pytest.raises(ConfigError) as e:
        load_params_file(p)
    assert "earliest_date" in str(e.value) and "future_tolerance_hours" in str(e.value)


def test_impossible_yaml_date_is_a_config_error_not_a_traceback(tmp_path):
    p = _write(tmp_path, "ingest.yaml", "earliest_date: 2015-13-01\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_params_file(p)
