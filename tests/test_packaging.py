"""The two install routes (pip via pyproject.toml, conda via environment.yml) list the same packages."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[ ;]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject_names() -> set[str]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(meta["dependencies"])
    for extra in meta.get("optional-dependencies", {}).values():
        reqs += extra
    return {_name(r) for r in reqs}


def _conda_names() -> set[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    names = set()
    for dep in env["dependencies"]:
        if isinstance(dep, str):
            names.add(_name(dep))
    return names - {"python", "pip"}


def test_environment_yml_lists_same_packages_as_pyproject():
    py, conda = _pyproject_names(), _conda_names()
    assert py - conda == set(), f"in pyproject.toml but not environment.yml: {sorted(py - conda)}"
    assert conda - py == set(), f"in environment.yml but not pyproject.toml: {sorted(conda - py)}"


def test_environment_yml_installs_the_package_itself():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_parts = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert pip_parts and "-e ." in pip_parts[0]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make test" in ci
    assert "make test" in readme and "make run" in readme


def test_layout_matches_design_card():
    for d in ["notebooks", "modqa_lib", "params", "data/raw", "data/processed", "outputs", "tests", "bench"]:
        assert (ROOT / d).is_dir(), d
    for f in ["environment.yml", "README.md", "pyproject.toml", "Makefile"]:
        assert (ROOT / f).is_file(), f


def test_readme_documents_the_current_data_contract():
    from modqa_lib.contract.schema import contract_markdown

    assert contract_markdown() in (ROOT / "README.md").read_text(), (
        "README's data contract is stale: paste modqa_lib.contract.schema.contract_markdown() into it"
    )


def test_committed_notebooks_have_no_outputs():
    import json

    for nb_path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = json.loads(nb_path.read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert not cell.get("outputs") and not cell.get("execution_count"), (
                    f"{nb_path.name} is committed with outputs: clear them"
                )
