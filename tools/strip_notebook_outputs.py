"""Strip outputs and execution counts from notebooks (the pre-commit hook).

Notebooks are committed without outputs (``tests/test_packaging.py`` checks it).
Run on the notebooks you pass, or on ``notebooks/*.ipynb`` without arguments::

    python tools/strip_notebook_outputs.py [--check] [NOTEBOOK ...]

Without ``--check`` it clears every code cell's ``outputs`` and
``execution_count`` in place (written as Jupyter writes notebooks: one-space
indent, sorted keys) and exits 1 if it changed a file, so pre-commit stops the
commit and you add the cleaned files. With ``--check`` it changes nothing and
exits 1 if a notebook has outputs. Standard library only; works offline.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def strip(nb: dict) -> bool:
    """Clear outputs and execution counts of ``nb``'s code cells in place; True if any were set."""
    changed = False
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        if cell.get("outputs"):
            cell["outputs"] = []
            changed = True
        if cell.get("execution_count") is not None:
            cell["execution_count"] = None
            changed = True
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report notebooks with outputs, change nothing")
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(Path(__file__).resolve().parent.parent.joinpath("notebooks").glob("*.ipynb"))
    dirty = []
    for path in paths:
        nb = json.loads(path.read_text(encoding="utf-8"))
        if not strip(nb):
            continue
        dirty.append(path)
        if not args.check:
            path.write_text(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    for path in dirty:
        print(f"{path}: {'has outputs: run tools/strip_notebook_outputs.py' if args.check else 'outputs stripped'}")
    return 1 if dirty else 0


if __name__ == "__main__":
    sys.exit(main())
