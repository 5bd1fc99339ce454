"""Regenerate docs/api/<layer>.rst from the package tree (run by `make docs`), so every module is documented."""

from __future__ import annotations

import pkgutil
import re
from pathlib import Path

import modqa_lib

API = Path(__file__).parent / "api"


def modules(package: str) -> list[str]:
    mod = __import__(package, fromlist=["_"])
    out = [package]
    for info in pkgutil.walk_packages(mod.__path__, package + "."):
        if not info.name.rsplit(".", 1)[1].startswith("_"):
            out.append(info.name)
    return out


def page(path: Path, names: list[str]) -> None:
    text = path.read_text(encoding="utf-8")
    head = text.split(".. autosummary::", 1)[0]
    body = [head.rstrip("\n") + "\n\n.. autosummary::\n\n"] + [f"   {n}\n" for n in names] + ["\n"]
    for n in names:
        title = f"``{n}``"
        body.append(f"{title}\n{'-' * len(title)}\n\n.. automodule:: {n}\n\n")
    path.write_text("".join(body).rstrip("\n") + "\n", encoding="utf-8")


if __name__ == "__main__":
    for layer in ("contract", "data", "stats", "report", "run"):
        page(API / f"{layer}.rst", modules(f"modqa_lib.{layer}"))
    assert re.match(r"\d", modqa_lib.__version__)
