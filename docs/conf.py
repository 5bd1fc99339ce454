"""Sphinx configuration for the modqa API reference (``make docs``).

Builds offline: no intersphinx, no downloads. Warnings are errors in ``make docs``
(``-W --keep-going``), so a broken docstring fails the build.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.abspath(".."))  # the worktree's modqa_lib, not an installed copy

import modqa_lib

project = "modqa"
author = "modqa contributors"
copyright = "2026, modqa contributors"
release = version = modqa_lib.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
]

exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path: list[str] = []
html_title = f"modqa {release} API reference"

# Document what each module defines (not the names it re-exports through __all__,
# which would describe every object twice).
autodoc_default_options = {"members": True, "ignore-module-all": True, "member-order": "bysource"}
autodoc_typehints = "none"  # numpydoc's Parameters section already gives the types
autosummary_generate = False  # the layer pages list modules by hand; no generated stubs

numpydoc_show_class_members = False  # autodoc already documents the members
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# notebooks and the CLI do not run at import; keep matplotlib headless
os.environ.setdefault("MPLBACKEND", "Agg")
