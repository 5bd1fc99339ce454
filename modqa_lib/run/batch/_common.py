"""Run families, statuses and small helpers shared by the batch package."""

from __future__ import annotations

import os
import re
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modqa_lib.config import PROJ_ROOT
from modqa_lib.contract import schema as S

STATUSES = ("ok", "failed", "timeout", "pending")
_TIMEOUT_ENAME = "UnitTimeout"

#: How each run family finds its units; what it runs comes from its params YAML.
FAMILIES: dict[str, dict[str, Any]] = {
    "vendor": {
        "params_file": "vendors.yaml",
        "section": None,
        "column": S.VENDOR,
        "unit_parameter": "vendor",
        "exclude": ("Platform",),
        "vendor_facing": True,
    },
    "site": {
        "params_file": "vendors.yaml",
        "section": "by_site",
        "column": S.SITE,
        "unit_parameter": "site",
        "exclude": ("model",),
        "vendor_facing": True,
    },
    "market": {
        "params_file": "markets.yaml",
        "section": None,
        "column": S.MARKET,
        "unit_parameter": "market",
        "exclude": (),
        "vendor_facing": False,
    },
    "consolidated": {
        "params_file": "consolidated.yaml",
        "section": None,
        "column": None,
        "unit_parameter": None,
        "exclude": (),
        "vendor_facing": False,
    },
    "transparency": {
        "params_file": "transparency.yaml",
        "section": None,
        "column": None,
        "unit_parameter": None,
        "exclude": (),
        "vendor_facing": False,
    },
}
#: held (:func:`modqa_lib.data.locks.folder_lock`) in the run folder while a batch writes it
LOCK_NAME = ".batch.lock"
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


# ------------------------------------------------------------------- helpers
def unit_slug(unit: str) -> str:
    """Filesystem-safe folder name of a unit: ``"Vendor B"`` -> ``"vendor-b"``.

    Examples
    --------
    >>> unit_slug("Kuala Lumpur"), unit_slug("São Paulo / BR")
    ('kuala-lumpur', 'sao-paulo-br')
    """
    text = unicodedata.normalize("NFKD", str(unit)).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60].strip("-")
    if not slug:
        import hashlib

        slug = "unit-" + hashlib.sha256(str(unit).encode()).hexdigest()[:8]
    return slug


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _rel(path: Path, base: Path) -> str:
    try:
        return Path(os.path.relpath(path, base)).as_posix()
    except ValueError:  # pragma: no cover - other drive on Windows
        return Path(path).as_posix()


def _display_path(path: str | os.PathLike) -> str:
    p = Path(path).resolve()
    try:
        return p.relative_to(PROJ_ROOT.resolve()).as_posix()
    except ValueError:
        return p.as_posix()


def _one_line(text: Any, limit: int = 300) -> str:
    line = " ".join(str(text).strip().splitlines()[:1]) if str(text).strip() else ""
    line = re.sub(r"\x1b\[[0-9;]*m", "", line)
    return line if len(line) <= limit else line[: limit - 1] + "…"
