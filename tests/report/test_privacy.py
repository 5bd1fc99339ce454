"""Tests for modqa_lib.report.privacy: keyed pseudonyms, anonymous peers, the leak guard."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pandas as pd
import pytest

from modqa_lib.contract import schema as S
from modqa_lib.errors import ConfigError, ModqaError
from modqa_lib.report.privacy import (
    KEY_ENV,
    KEY_FILE_NAME,
    PrivacyLeakError,
    anonymise_peers,
    assert_no_foreign_names,
    find_foreign_names,
    peer_labels,
    pseudonym_key,
    pseudonymise,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "notebooks"
KEY = "test-key-0d1f3b5e7a9c"


@pytest.fixture(autouse=True)
def no_env_key(monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)


@pytest.fixture()
def frame():
    return pd.DataFrame(
        {
            S.VENDOR: ["Vendor A", "Vendor B", "Vendor C", "Platform", "Vendor B", "Vendor A", "Vendor D"],
            S.SITE: ["Manila", "Kuala Lumpur", "Lisbon", "model", "Penang", "Cebu", "Pune"],
            S.MODERATOR_ID: ["a-01", "b-01", "c-01", None, "b-02", "a-02", "d-01"],
            S.IS_ERROR: [False, True, True, False, False, True, False],
        }
    )


# ------------------------------------------------------------------ pseudonyms
def test_pseudonyms_are_stable_keyed_and_shaped():
    ids = ["a-01", "a-02", "a-01"]
    first = pseudonymise(ids, key=KEY)
    assert first[0] == first[2] != first[1]
    assert all(re.fullmatch(r"M-[0-9a-f]{8}", p) for p in first)
    assert pseudonymise(ids, key=KEY) == first  # next week: same pseudonyms
    assert pseudonymise("a-01", key=KEY) == first[0]
    assert pseudonymise(ids, key="another key") != first
    assert pseudonymise(["a-01"], key=KEY, prefix="R", length=12)[0].startswith("R-")


def test_pseudonymise_series_keeps_index_and_missing():
    s = pd.Series(["x", None, float("nan"), "x"], index=[10, 11, 12, 13], name=S.MODERATOR_ID)
    out = pseudonymise(s, key=KEY)
    assert list(out.index) == [10, 11, 12, 13] and out.name == S.MODERATOR_ID
    assert out[10] == out[13] and out[11] is None and out[12] is None


def test_pseudonym_collisions_are_detected():
    with pytest.raises(ConfigError, match="collision"):
        pseudonymise([f"m{i}" for i in range(3000)], key=KEY, length=4)
    with pytest.raises(ConfigError, match="4..64"):
        pseudonymise(["a"], key=KEY, length=2)


def test_key_from_env_wins_over_file(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    assert pseudonym_key(processed_dir=tmp_path) == KEY.encode()
    assert not (tmp_path / KEY_FILE_NAME).exists()  # nothing written when the env gives the key
    assert pseudonymise(["a"], processed_dir=tmp_path) == pseudonymise(["a"], key=KEY)


def test_per_install_key_file_is_created_private_and_reused(tmp_path):
    first = pseudonymise(["a-01"], processed_dir=tmp_path)
    f = tmp_path / KEY_FILE_NAME
    assert f.exists() and stat.S_IMODE(f.stat().st_mode) == 0o600
    assert re.fullmatch(r"[0-9a-f]{64}", f.read_text().strip())
    assert pseudonymise(["a-01"], processed_dir=tmp_path) == first
    f.write_text("")
    with pytest.raises(ConfigError, match="key file is empty"):
        pseudonym_key(processed_dir=tmp_path)


def test_key_never_appears_in_pseudonyms_or_errors(tmp_path):
    out = pseudonymise([f"m{i}" for i in range(50)], key=KEY)
    assert not any(KEY in p for p in out)
    try:
        pseudonymise([f"m{i}" for i in range(3000)], key=KEY, length=4)
    except ConfigError as exc:
        assert KEY not in str(exc)


# ---------------------------------------------------------------------- peers
def test_peers_anonymised_focus_and_platform_kept(frame):
    out = anonymise_peers(frame, "Vendor A", key=KEY)
    assert set(out[S.VENDOR]) == {"Vendor A", "Platform", "Peer A", "Peer B", "Peer C"}
    text = out.to_csv()
    for name in (
        "Vendor B",
        "Vendor C",
        "Vendor D",
        "Kuala Lumpur",
        "Penang",
        "Lisbon",
        "Pune",
        "b-01",
        "b-02",
        "c-01",
        "d-01",
    ):
        assert name not in text, name
    own = out[S.VENDOR] == "Vendor A"
    assert list(out.loc[own, S.SITE]) == ["Manila", "Cebu"]
    assert list(out.loc[own, S.MODERATOR_ID]) == ["a-01", "a-02"]
    assert out.loc[out[S.VENDOR].str.startswith("Peer"), S.MODERATOR_ID].isna().all()
    assert out.loc[3, S.SITE] == "model"
    # both sites of one peer stay distinct and belong to the same peer label
    b = out.loc[[1, 4]]
    assert b[S.VENDOR].nunique() == 1 and b[S.SITE].nunique() == 2
    assert set(b[S.SITE]) == {f"{b[S.VENDOR].iloc[0]} site 1", f"{b[S.VENDOR].iloc[0]} site 2"}
    assert frame.loc[1, S.VENDOR] == "Vendor B"  # input not modified


def test_peer_order_is_stable_and_ignores_performance(frame):
    labels = peer_labels(frame[S.VENDOR], "Vendor A", key=KEY)
    shuffled = frame.sample(frac=1, random_state=3).assign(**{S.IS_ERROR: True})
    out = anonymise_peers(shuffled, "Vendor A", key=KEY)
    mapping = dict(zip(shuffled[S.VENDOR], out[S.VENDOR]))
    assert {v: mapping[v] for v in labels} == labels
    assert anonymise_peers(frame, "Vendor A", key=KEY).equals(anonymise_peers(frame, "Vendor A", key=KEY))


def test_peer_order_by_name_and_keyed_per_focus(frame):
    assert peer_labels(frame[S.VENDOR], "Vendor A", order="name") == {
        "Vendor B": "Peer A",
        "Vendor C": "Peer B",
        "Vendor D": "Peer C",
    }
    many = [f"V{i:02d}" for i in range(30)]
    keyed = [peer_labels(many, focus, key=KEY) for focus in ("V00", "V01")]
    common = sorted(set(keyed[0]) & set(keyed[1]))
    assert [keyed[0][v] for v in common] != [keyed[1][v] for v in common]  # letters differ per focus
    assert "Peer AC" in peer_labels(many, "V00", order="name").values()  # beyond Z: AA, AB, ...
    with pytest.raises(ConfigError, match="order"):
        peer_labels(many, "V00", order="performance")


def test_anonymise_needs_the_vendor_column(frame):
    with pytest.raises(ConfigError, match="column 'bpo'"):
        anonymise_peers(frame, "Vendor A", column="bpo", key=KEY)


# --------------------------------------------------------------------- guard
ALL_VENDORS = ["Vendor A", "Vendor B", "Platform"]
SITES = {"Manila": "Vendor A", "Kuala Lumpur": "Vendor B", "model": "Platform"}
MODS = {"a-01": "Vendor A", "b-01": "Vendor B"}


def test_guard_passes_clean_reports():
    page = "<html><body><p>Vendor A in Manila, moderator a-01; Peer A site 1; Platform model</p></body></html>"
    assert_no_foreign_names(page, "Vendor A", ALL_VENDORS, SITES, MODS)


@pytest.mark.parametrize(
    "page, kind, name",
    [
        ("<html><body><p>vendor&nbsp;b is worse</p></body></html>", "vendors", "Vendor B"),
        ("<html><body><td title='Kuala  Lumpur'>x</td></body></html>", "sites", "Kuala Lumpur"),
        ("<html><body><pre>moderator b-01</pre></body></html>", "moderator_ids", "b-01"),
        ("plain text mentioning VENDOR B", "vendors", "Vendor B"),
    ],
)
def test_guard_finds_foreign_names(page, kind, name):
    with pytest.raises(PrivacyLeakError) as info:
        assert_no_foreign_names(page, "Vendor A", ALL_VENDORS, SITES, MODS)
    assert info.value.found[kind] == [name]
    assert name in str(info.value) and isinstance(info.value, (ModqaError, AssertionError))


def test_guard_ignores_css_data_uris_and_word_parts():
    page = (
        "<html><head><style>.b-01 { color: red }</style></head><body>"
        '<img src="data:image/png;base64,QUJD+Vendor/B+b-01==">'
        "<p>Vendor Bx and xb-01 are other words</p></body></html>"
    )
    assert find_foreign_names(page, "Vendor A", ALL_VENDORS, SITES, MODS) == {
        "vendors": [],
        "sites": [],
        "moderator_ids": [],
    }


def test_guard_plain_iterables_are_all_foreign():
    with pytest.raises(PrivacyLeakError):
        assert_no_foreign_names(
            "<html><body><p>Manila</p></body></html>", "Vendor A", ALL_VENDORS, all_sites=["Manila"]
        )


# ------------------------------------------- the guard and the key in a real run
def test_vendor_report_run_is_anonymised_and_key_free(tmp_path, monkeypatch):
    from modqa_lib.run.batch import run_batch

    monkeypatch.setenv(KEY_ENV, KEY)  # the kernel inherits it
    processed = tmp_path / "processed"
    processed.mkdir()
    rows = [
        {S.VENDOR: v, S.SITE: s, S.MODERATOR_ID: m}
        for v, s, m in [
            ("Vendor A", "Manila", "amod-7"),
            ("Vendor A", "Cebu", "amod-8"),
            ("Vendor B", "Kuala Lumpur", "bmod-1"),
            ("Vendor C", "Lisbon", "cmod-1"),
            ("Platform", "model", None),
        ]
    ]
    pd.DataFrame(rows).to_parquet(processed / "decisions.parquet", index=False)
    res = run_batch(
        "vendor",
        only=["Vendor A"],
        workers=1,
        timeout=180,
        outputs=tmp_path / "out",
        processed=processed,
        progress=False,
        params={"notebook": str(FIXTURES / "privacy_fixture.ipynb"), "parameters": {"period": "last:12"}},
    )
    (u,) = res.units
    assert u.status == "ok", u.error
    page = (res.run_dir / u.outputs["html"]).read_text()
    assert "Peer A" in page and "Peer B" in page and "Vendor A" in page
    expected = pseudonymise(["amod-7", "amod-8"], key=KEY)
    assert all(p in page for p in expected)
    assert "amod-7" not in page
    assert u.headline == {"decisions": 2, "peers": 2}
    # the key is nowhere in what the run wrote, and no key file was created
    for f in res.run_dir.rglob("*"):
        if f.is_file():
            assert KEY not in f.read_text(errors="replace"), f
    assert not (processed / KEY_FILE_NAME).exists()
    assert KEY not in json.dumps(json.loads((res.run_dir / "manifest.json").read_text()))
