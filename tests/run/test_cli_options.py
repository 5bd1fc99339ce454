"""Nonsense option values are rejected up front; --only takes names with commas (issue 12)."""

from __future__ import annotations

import pytest

from modqa_lib.run.cli import _split_only, build_parser, main


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["batch", "--by", "vendor", "--timeout", "0"], "argument --timeout: must be in [1, 604800], got 0"),
        (["batch", "--by", "vendor", "--timeout", "-5"], "argument --timeout: must be in [1, 604800], got -5"),
        (["batch", "--by", "vendor", "--timeout", "ten"], "argument --timeout: expected an integer, got 'ten'"),
        (["batch", "--by", "vendor", "--workers", "0"], "argument --workers: must be in [1, 256], got 0"),
        (["sample", "--week", "latest", "--margin", "0"], "argument --margin: must be in (0, 0.5], got 0"),
        (["sample", "--week", "latest", "--confidence", "95"], "argument --confidence: must be in (0, 1), got 95"),
        (["sample", "--week", "latest", "--golden-share", "1"], "argument --golden-share: must be in [0, 1), got 1"),
        (["sample", "--week", "latest", "--expected-rate", "nan"], "argument --expected-rate: must be in (0, 1)"),
        (["demo-data", "--decisions", "-1"], "argument --decisions: must be in [1, inf], got -1"),
    ],
)
def test_nonsense_option_values_rejected(argv, fragment, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    assert fragment in capsys.readouterr().err


def test_only_splits_quotes_and_repeats():
    assert _split_only(None) is None
    assert _split_only(["Vendor A,Vendor B"]) == ["Vendor A", "Vendor B"]
    assert _split_only(["Vendor A", "Vendor B"]) == ["Vendor A", "Vendor B"]
    assert _split_only(['"Acme, Inc.",Vendor B']) == ["Acme, Inc.", "Vendor B"]
    a = build_parser().parse_args(["batch", "--by", "vendor", "--only", '"Acme, Inc."', "--only", "Vendor B"])
    assert _split_only(a.only) == ["Acme, Inc.", "Vendor B"]
