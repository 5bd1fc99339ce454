"""The package root re-exports every module's public API (lazily)."""

import importlib

import modqa_lib


def test_every_export_resolves_to_its_module():
    for name, module in modqa_lib._EXPORTS.items():
        mod = importlib.import_module(f"modqa_lib.{module}")
        assert name in mod.__all__, f"{name} not in modqa_lib.{module}.__all__"
        assert getattr(modqa_lib, name) is getattr(mod, name)


def test_public_functions_of_analysis_modules_are_exported():
    for module in [
        "stats.scoring",
        "stats.moderators",
        "stats.model_eval",
        "stats.agreement",
        "stats.rca",
        "stats.drift",
        "stats.effects",
        "stats.sampling",
        "stats.ranking",
        "data.scope",
        "report.tables",
    ]:
        mod = importlib.import_module(f"modqa_lib.{module}")
        leaf = module.rpartition(".")[2]
        missing = [
            n for n in mod.__all__ if not n.isupper() and n not in modqa_lib._EXPORTS and n != leaf
        ]  # a function named like its module stays reachable as modqa_lib.<module>.<name>
        assert not missing, f"modqa_lib.{module} exports {missing} but the package root does not"


def test_notebook_style_import():
    from modqa_lib import (
        load_scope,  # noqa: F401
    )


def test_unknown_name_raises_attribute_error():
    import pytest

    with pytest.raises(AttributeError):
        modqa_lib.no_such_function  # noqa: B018
