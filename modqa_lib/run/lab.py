"""JupyterLab that leaves the repository clean: a pre-save hook that strips outputs from tracked notebooks.

``make lab`` starts JupyterLab with ``.jupyter/jupyter_server_config.py``, which [1]_
registers :func:`strip_outputs_hook`. Exploring a report in the browser keeps
its outputs on screen, but every save (autosave included) of a notebook under
``notebooks/`` writes it without outputs, execution counts or widget state, so
the committed notebooks stay as the project's tests require (committed without
outputs) however long a quality manager explores. Notebooks elsewhere (a copy
saved under ``outputs/``, a scratch notebook) are saved as they are.

References
----------
.. [1] Jupyter Server documentation, "Configuring the contents manager:
   pre-save hooks" (``ContentsManager.register_pre_save_hook``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modqa_lib import config

__all__ = ["clear_outputs", "is_tracked_notebook", "strip_outputs_hook"]


def clear_outputs(notebook: dict[str, Any]) -> dict[str, Any]:
    """Remove outputs, execution counts and saved widget state from a notebook (nbformat JSON), in place.

    Parameters
    ----------
    notebook : dict
        The notebook as nbformat JSON (``{"cells": [...], "metadata": {...}}``).

    Returns
    -------
    dict
        The same dict, for chaining.
    """
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    notebook.get("metadata", {}).pop("widgets", None)
    return notebook


def is_tracked_notebook(path: str | Path, root_dir: str | Path, notebooks_dir: str | Path | None = None) -> bool:
    """Whether ``path`` (relative to the server's ``root_dir``) is a notebook in the project's ``notebooks/`` folder.

    Parameters
    ----------
    path : str or Path
        The API path of the file, relative to ``root_dir``.
    root_dir : str or Path
        The Jupyter server's root directory.
    notebooks_dir : str or Path, optional
        The tracked notebooks folder (default: the project's ``notebooks/``).

    Returns
    -------
    bool
        True for ``notebooks/*.ipynb`` (resolved, so links and ``..`` cannot dodge it).
    """
    tracked = Path(config.NOTEBOOKS_DIR if notebooks_dir is None else notebooks_dir).resolve()
    full = (Path(root_dir) / str(path).lstrip("/")).resolve()
    return full.suffix == ".ipynb" and full.parent == tracked


def strip_outputs_hook(model: dict[str, Any], path: str, contents_manager: Any = None, **kwargs: Any) -> None:
    """Jupyter Server pre-save hook: save tracked notebooks without outputs.

    Parameters
    ----------
    model : dict
        The contents model being saved (``model["type"] == "notebook"`` for notebooks).
    path : str
        Its API path, relative to the server's root directory.
    contents_manager : ContentsManager, optional
        The server's contents manager (its ``root_dir`` locates the file).
    **kwargs
        Ignored (the hook API may pass more in future).
    """
    if model.get("type") != "notebook" or not isinstance(model.get("content"), dict):
        return
    root = getattr(contents_manager, "root_dir", ".")
    if is_tracked_notebook(path, root):
        clear_outputs(model["content"])
