"""The Examples in the docstrings run, and the report/IO docstrings stay complete.

Every module under :mod:`modqa_lib.stats` (and the data contract,
:mod:`modqa_lib.contract.schema`) is run through :mod:`doctest`: an Example whose
output no longer matches fails here, so the API reference never shows a number
the code does not give. The main estimators must carry an Example.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil
import types

import pandas as pd
import pytest
from numpydoc.docscrape import FunctionDoc

import modqa_lib.stats

OPTIONFLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE

#: modules whose docstring Examples are run
DOCTEST_MODULES = sorted(
    {"modqa_lib.contract.schema", "modqa_lib.stats"}
    | {m.name for m in pkgutil.walk_packages(modqa_lib.stats.__path__, "modqa_lib.stats.")}
)

#: the main estimators: each must show a runnable Example
MUST_HAVE_EXAMPLES = [
    ("modqa_lib.stats.scoring", "accuracy_table"),
    ("modqa_lib.stats.scoring", "proportion_ci"),
    ("modqa_lib.stats.rca.pareto", "pareto"),
    ("modqa_lib.stats.sampling.sizes", "sample_size"),
]

#: modules whose public functions must document every parameter and what they return
COMPLETE_DOCSTRING_MODULES = [
    "modqa_lib.report.tables",
    "modqa_lib.report.plots",
    "modqa_lib.report.chart_style",
    "modqa_lib.report.ops_plots",
    "modqa_lib.data.io",
    "modqa_lib.data.raw_files",
]


def run_doctests(module: types.ModuleType) -> tuple[int, int, str]:
    """Run every docstring Example of ``module``; return (failed, attempted, report)."""
    report: list[str] = []
    runner = doctest.DocTestRunner(optionflags=OPTIONFLAGS)
    with pd.option_context("display.width", 80, "display.max_columns", 20):
        for test in doctest.DocTestFinder().find(module, module.__name__):
            runner.run(test, out=report.append)
    failed, attempted = runner.summarize(verbose=False)
    return failed, attempted, "".join(report)


def test_the_module_list_covers_the_statistics_layer():
    assert "modqa_lib.stats.scoring" in DOCTEST_MODULES
    assert "modqa_lib.stats.rca.pareto" in DOCTEST_MODULES
    assert "modqa_lib.stats.sampling.sizes" in DOCTEST_MODULES
    assert len(DOCTEST_MODULES) >= 25


@pytest.mark.parametrize("name", DOCTEST_MODULES)
def test_docstring_examples_run(name):
    failed, _, report = run_doctests(importlib.import_module(name))
    assert failed == 0, f"{name}: {failed} docstring example(s) failed\n{report}"


@pytest.mark.parametrize(("module", "func"), MUST_HAVE_EXAMPLES)
def test_main_estimators_have_a_runnable_example(module, func):
    obj = getattr(importlib.import_module(module), func)
    tests = doctest.DocTestFinder().find(obj, func, globs=vars(importlib.import_module(module)))
    assert sum(len(t.examples) for t in tests) >= 1, f"{module}.{func} has no Example"
    assert "Examples\n" in inspect.getdoc(obj), f"{module}.{func}: put the Example in a numpydoc Examples section"


def test_a_wrong_example_fails_the_harness():
    """The harness reports a failing Example (so the tests above can fail)."""
    bad = types.ModuleType("modqa_fake_doctest")
    exec(
        'def f():\n    """Two.\n\n    >>> f()\n    3\n    """\n    return 2\n',
        bad.__dict__,
    )
    failed, attempted, report = run_doctests(bad)
    assert (failed, attempted) == (1, 1)
    assert "Expected:\n    3\nGot:\n    2" in report


def _public_functions(name: str):
    module = importlib.import_module(name)
    for attr, obj in sorted(vars(module).items()):
        if not attr.startswith("_") and inspect.isfunction(obj) and obj.__module__ == name:
            yield attr, obj


@pytest.mark.parametrize("name", COMPLETE_DOCSTRING_MODULES)
def test_report_and_io_docstrings_document_parameters_and_returns(name):
    problems = []
    for attr, obj in _public_functions(name):
        doc = FunctionDoc(obj)
        documented = {part.strip().lstrip("*") for p in doc["Parameters"] for part in p.name.split(",")}
        missing = [p for p in inspect.signature(obj).parameters if p not in documented]
        if missing:
            problems.append(f"{attr}: parameters not documented: {missing}")
        if not (doc["Returns"] or doc["Yields"]):
            problems.append(f"{attr}: no Returns section")
    assert not problems, f"{name}:\n" + "\n".join(problems)
    assert any(True for _ in _public_functions(name))
