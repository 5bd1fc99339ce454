"""The package keeps its layers: contract -> data -> stats -> report -> run, and no private imports across them.

Every module of ``modqa_lib`` is parsed with :mod:`ast` (nothing is imported), so
a lazy import inside a function counts as much as one at the top.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import modqa_lib

PACKAGE = Path(modqa_lib.__file__).resolve().parent
#: layers in order: a module may import from its own layer and the layers before it
LAYERS = ("contract", "data", "stats", "report", "run")
#: root modules every layer may import
SHARED = {"modqa_lib", "modqa_lib.config", "modqa_lib.errors"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, imported module, imported names) for every import in a module, made absolute."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    this = _module_name(path)
    package = this if path.name == "__init__.py" else this.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, a.name, []) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names = [a.name for a in node.names]
            if module == "modqa_lib":  # root re-exports: check the module each name comes from
                for n in names:
                    target = modqa_lib._MODULES.get(n) or modqa_lib._EXPORTS.get(n)
                    out.append((node.lineno, f"modqa_lib.{target}" if target else module, [n]))
            else:
                out.append((node.lineno, module, names))
    return out


def _layer(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "modqa_lib" or len(parts) < 2 or parts[1] not in LAYERS:
        return None
    return LAYERS.index(parts[1])


def _subpackage(module: str, is_package: bool) -> str:
    """The package a module belongs to (a package's __init__ belongs to itself)."""
    return module if is_package else module.rpartition(".")[0]


MODULES = sorted(PACKAGE.rglob("*.py"))


def _problems(path: Path) -> list[str]:
    this = _module_name(path)
    own_package = _subpackage(this, path.name == "__init__.py")
    own_layer = _layer(this)
    problems = []
    for line, module, names in _imports(path):
        if not module.startswith("modqa_lib"):
            continue
        where = f"{path.relative_to(PACKAGE.parent)}:{line}"
        # (b) the layer order
        target_layer = _layer(module)
        if module not in SHARED and target_layer is not None:
            if own_layer is None and this not in SHARED:
                pass  # modules outside the layers (none today) are not checked
            elif own_layer is None or target_layer > own_layer:
                problems.append(
                    f"{where}: {this} ({'root' if own_layer is None else LAYERS[own_layer]}) imports "
                    f"{module} ({LAYERS[target_layer]}), against contract -> data -> stats -> report -> run"
                )
        # (a) private names only from the same subpackage
        private = [n for n in names if n.startswith("_") and not n.startswith("__")]
        if module.rpartition(".")[2].startswith("_") and not module.rpartition(".")[2].startswith("__"):
            private = private or ["(private module)"]
            target_package = module.rpartition(".")[0]
        else:
            target_package = _subpackage(module, (PACKAGE.parent / module.replace(".", "/") / "__init__.py").exists())
        # a layer folder (modqa_lib.stats) is not a subpackage: its flat modules are separate modules
        same_subpackage = target_package == own_package and own_package.count(".") >= 2
        if private and not same_subpackage:
            problems.append(f"{where}: {this} imports private {private} from {module} (outside its subpackage)")
    return problems


def test_the_package_has_modules():
    assert len(MODULES) > 40


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_follow_the_layers_and_keep_private_names_private(path):
    assert _problems(path) == []


def test_the_checker_catches_both_kinds_of_import(tmp_path, monkeypatch):
    """A test that cannot fail is a defect: feed the checker modules that break each rule."""
    root = tmp_path / "modqa_lib"
    for sub in ("stats/rca", "stats/sampling", "contract", "report"):
        (root / sub).mkdir(parents=True, exist_ok=True)
        (root / sub / "__init__.py").write_text("")
    (root / "__init__.py").write_text("")
    bad_layer = root / "contract" / "bad.py"
    bad_layer.write_text("from modqa_lib.report.format import rate_text\n")
    bad_private = root / "stats" / "rca" / "bad.py"
    bad_private.write_text(
        "from modqa_lib.stats.sampling._common import _rng\nfrom modqa_lib.stats.scoring import _x\n"
    )
    flat = root / "stats" / "model_eval.py"
    flat.write_text("from modqa_lib.stats.scoring import _require\n")
    fine = root / "stats" / "rca" / "fine.py"
    fine.write_text(
        "from modqa_lib.stats.rca._common import _bh\nfrom modqa_lib.contract.checks import bh_qvalues\n"
        "from modqa_lib.errors import ConfigError\nfrom . import _common\n"
    )
    lazy = root / "report" / "lazy.py"
    lazy.write_text("def f():\n    from modqa_lib.run.cli import main\n    return main\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", root)
    assert len(_problems(bad_layer)) == 1 and "against contract" in _problems(bad_layer)[0]
    got = _problems(bad_private)
    assert len(got) == 2 and all("private" in g for g in got)
    assert _problems(fine) == []
    assert len(_problems(flat)) == 1
    assert len(_problems(lazy)) == 1


#: file access a statistics module must not do itself (the data layer loads, the caller passes data in)
_FILE_ACCESS = {"open", "read_text", "read_bytes", "read_csv", "read_parquet", "load_yaml", "load_targets", "safe_load"}


#: the scoring package's modules (scoring.py became a package) and model_eval
_NO_FILE_MODULES = sorted(str(p.relative_to(PACKAGE)) for p in (PACKAGE / "stats" / "scoring").glob("*.py")) + [
    "stats/model_eval.py"
]


@pytest.mark.parametrize("module", _NO_FILE_MODULES)
def test_scoring_and_model_eval_read_no_files(module):
    path = PACKAGE / module
    tree = ast.parse(path.read_text(encoding="utf-8"))
    calls = {
        (n.func.attr if isinstance(n.func, ast.Attribute) else getattr(n.func, "id", ""))
        for n in ast.walk(tree)
        if isinstance(n, ast.Call)
    }
    assert not (calls & _FILE_ACCESS), f"{module} reads a file: {sorted(calls & _FILE_ACCESS)}"
    assert not [m for _, m, _ in _imports(path) if m.startswith("modqa_lib.data")], f"{module} imports the data layer"
