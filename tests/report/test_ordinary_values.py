"""Ordinary weeks that used to withhold or break a report (issue 12)."""

from __future__ import annotations

import pandas as pd
import pytest

from modqa_lib.contract import schema as S
from modqa_lib.data.scope import load_scope
from modqa_lib.errors import ConfigError
from modqa_lib.report.tables import actions_in_scope


def test_site_only_global_action_not_shown_to_other_vendors():
    acts = pd.DataFrame(
        {
            S.ACTION_ID: ["a1", "a2", "a3", "a4"],
            S.VENDOR: [None, None, "Vendor A", "Vendor B"],
            S.SITE: ["Manila", None, None, None],
            S.MARKET: [None] * 4,
        }
    )
    b = actions_in_scope(acts, vendor="Vendor B", sites=["Kuala Lumpur"])
    assert b[S.ACTION_ID].tolist() == ["a2", "a4"]  # not Vendor A's site: the privacy gate would withhold B's report
    a = actions_in_scope(acts, vendor="Vendor A", sites=["Manila", "Cebu"])
    assert a[S.ACTION_ID].tolist() == ["a1", "a2", "a3"]
    assert actions_in_scope(acts)[S.ACTION_ID].tolist() == ["a1", "a2", "a3", "a4"]


def test_vendor_with_decisions_but_no_audits_is_told_so():
    from valid_tables import make_valid_tables

    from modqa_lib.contract.validation import validate_tables

    raw = make_valid_tables(80)
    raw["decisions"].loc[79, S.VENDOR] = "Vendor E"  # decision 79 is not audited (audits cover the first half)
    raw["decisions"].loc[79, S.SITE] = "Porto"
    tables = validate_tables(raw)
    with pytest.raises(ConfigError, match=r"vendor 'Vendor E' has 1 decision\(s\) but no audits yet"):
        load_scope(tables=tables, vendor="Vendor E", period="all")
    with pytest.raises(ConfigError, match="not found in the data"):
        load_scope(tables=tables, vendor="Vendor Z", period="all")


def test_pseudonym_key_lives_beside_the_processed_data_used(tmp_path, monkeypatch):
    """Not in the repository's data/processed when the report read another folder."""
    from valid_tables import make_valid_tables, write_raw

    from modqa_lib.data.ingest import ingest
    from modqa_lib.report import privacy
    from modqa_lib.report.privacy import KEY_FILE_NAME, pseudonym_key
    from modqa_lib.report.tables import vendor_audits

    monkeypatch.delenv("MODQA_PSEUDONYM_KEY", raising=False)
    monkeypatch.delenv("MODQA_PSEUDONYM_KEY_FILE", raising=False)
    # the repository's data/processed, as privacy resolves it by default; a folder of this test's own,
    # so that other tests running at the same time (xdist) cannot create the key there meanwhile
    repo_processed = tmp_path / "repo" / "data" / "processed"
    monkeypatch.setattr(privacy, "PROCESSED_DIR", repo_processed)
    repo_key = repo_processed / KEY_FILE_NAME
    existed = False
    processed = tmp_path / "elsewhere"
    ingest(write_raw(make_valid_tables(), tmp_path / "raw"), processed)
    scope = load_scope(processed, vendor="Vendor A", period="all")
    assert scope.processed_dir == processed
    vendor_audits(scope, "Vendor A")
    assert (processed / KEY_FILE_NAME).exists()
    assert repo_key.exists() == existed  # no key created in the repository tree
    secret = tmp_path / "secret" / "key"
    monkeypatch.setenv("MODQA_PSEUDONYM_KEY_FILE", str(secret))
    pseudonym_key()
    assert secret.exists() and (secret.stat().st_mode & 0o077) == 0


def test_every_pseudonym_in_a_report_uses_the_key_beside_its_processed_data(tmp_path, monkeypatch):
    """Audits, decisions, golden audits and the explorer agree on a moderator's pseudonym when the
    report reads a processed folder other than the repository's (a batch with --processed): the
    operations table joins decisions to audits by pseudonym."""
    from valid_tables import make_valid_tables, write_raw

    from modqa_lib.data.ingest import ingest
    from modqa_lib.report import privacy
    from modqa_lib.report.operations import pseudonymised_decisions
    from modqa_lib.report.tables import vendor_audits
    from modqa_lib.report.widgets import RcaExplorer

    monkeypatch.delenv("MODQA_PSEUDONYM_KEY", raising=False)
    monkeypatch.delenv("MODQA_PSEUDONYM_KEY_FILE", raising=False)
    repo_processed = tmp_path / "repo" / "data" / "processed"
    monkeypatch.setattr(privacy, "PROCESSED_DIR", repo_processed)
    processed = tmp_path / "elsewhere"
    ingest(write_raw(make_valid_tables(), tmp_path / "raw"), processed)
    scope = load_scope(processed, vendor="Vendor A", period="all")
    own, _ = vendor_audits(scope, "Vendor A")
    dec = pseudonymised_decisions(scope.tables["decisions"], scope.processed_dir)
    explorer = RcaExplorer(scope.all_audits, processed_dir=scope.processed_dir)
    assert set(own[S.MODERATOR_ID]) <= set(dec[S.MODERATOR_ID])
    assert set(own[S.MODERATOR_ID]) <= set(explorer.audits[S.MODERATOR_ID])
    assert not (repo_processed / privacy.KEY_FILE_NAME).exists()
