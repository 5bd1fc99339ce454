"""Planning a batch: the family config and the list of units to run."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from modqa_lib.config import NOTEBOOKS_DIR, OUTPUTS_DIR, PARAMS_DIR, PROCESSED_DIR
from modqa_lib.contract import schema as S
from modqa_lib.contract.params_schema import FAMILY_SCHEMA, check_params
from modqa_lib.data.io import load_processed, load_yaml, processed_fingerprint
from modqa_lib.data.scope import parse_period
from modqa_lib.errors import ConfigError, ModqaError
from modqa_lib.run.batch._common import _RUN_ID, FAMILIES, _display_path, _one_line, _utcnow, unit_slug
from modqa_lib.run.batch.units import UnitSpec


# ------------------------------------------------------------------ planning
def load_family_config(by: str, params: str | os.PathLike | Mapping | None = None) -> dict:
    """The params YAML of a run family, with the family's section merged in.

    Parameters
    ----------
    by : {"vendor", "site", "market", "consolidated"}
    params : path-like or mapping, optional
        Default ``params/<family file>``; a mapping is used as the file's content.

    Returns
    -------
    dict
        ``notebook``, ``title``, ``parameters`` (dict), ``units`` (list, dict or
        None), ``exclude_units`` (list), ``source`` (where it came from).
    """
    if by not in FAMILIES:
        raise ConfigError(f"--by {by!r}: choose one of {', '.join(FAMILIES)}")
    fam = FAMILIES[by]
    if isinstance(params, Mapping):
        raw, source = dict(params), "<dict>"
    else:
        p = Path(params) if params else PARAMS_DIR / fam["params_file"]
        raw, source = load_yaml(p), _display_path(p)
        check_params(raw, FAMILY_SCHEMA, p)  # unknown keys, wrong types, out-of-range values
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    cfg = {k: v for k, v in raw.items() if not str(k).startswith("by_")}
    if fam["section"] and isinstance(raw.get(fam["section"]), Mapping):
        section = dict(raw[fam["section"]])
        cfg["parameters"] = {**(cfg.get("parameters") or {}), **(section.pop("parameters", None) or {})}
        cfg.pop("units", None)
        cfg.pop("exclude_units", None)
        cfg.update(section)
    if not cfg.get("notebook"):
        raise ConfigError(f"{source}: 'notebook:' is missing")
    params_ = cfg.get("parameters") or {}
    if not isinstance(params_, Mapping):
        raise ConfigError(f"{source}: 'parameters:' must be a mapping of notebook parameter to value")
    units = cfg.get("units")
    if units is not None and not isinstance(units, (list, Mapping)):
        raise ConfigError(f"{source}: 'units:' must be a list of units or a mapping unit -> overrides")
    return {
        "notebook": str(cfg["notebook"]),
        "title": str(cfg.get("title") or "{unit}"),
        "parameters": dict(params_),
        "units": units,
        "exclude_units": list(cfg.get("exclude_units", fam["exclude"]) or []),
        "source": source,
    }


def _data_context(processed: Path) -> Any:
    try:
        return load_processed(processed, tables=["decisions"])["decisions"]
    except ModqaError:
        return None


def _privacy_context(decisions, focus_vendor: str) -> dict:
    cols = [c for c in (S.VENDOR, S.SITE, S.MODERATOR_ID) if c in decisions.columns]
    d = decisions[cols].dropna(subset=[S.VENDOR])
    vendors = sorted(d[S.VENDOR].astype(str).unique())

    def owner(col: str) -> dict[str, str]:
        if col not in d.columns:
            return {}
        pairs = d[[col, S.VENDOR]].dropna().astype(str)
        top = (
            pairs.groupby([col, S.VENDOR])
            .size()
            .reset_index(name="n")
            .sort_values([col, "n"], ascending=[True, False])
            .drop_duplicates(col)
        )
        return dict(zip(top[col], top[S.VENDOR]))

    return {
        "focus_vendor": focus_vendor,
        "vendors": vendors,
        "sites": owner(S.SITE),
        "moderator_ids": owner(S.MODERATOR_ID),
    }


def _units_without_audits(processed: Path, col: str, units: list[str]) -> dict[str, int]:
    """Units with decisions but no audit at all in the processed data: unit -> its number of decisions."""
    try:
        t = load_processed(processed, tables=["decisions", "audits"])
    except ModqaError:
        return {}
    dec, aud = t.get("decisions"), t.get("audits")
    if dec is None or aud is None or col not in dec.columns:
        return {}
    audited = dec[col][dec[S.DECISION_ID].isin(aud[S.DECISION_ID])].dropna().astype(str).unique()
    counts = dec[col].dropna().astype(str).value_counts()
    return {u: int(counts[u]) for u in units if u in counts.index and u not in set(audited)}


def _unparsed_hint(nb_path: Path, names: list[str]) -> str:
    """Explain papermill's rule when a name is in the parameters cell but was not parsed."""
    import nbformat

    try:
        nb = nbformat.read(str(nb_path), as_version=4)
    except Exception:
        return ""
    src = "\n".join(c.source for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", []))
    bad = [
        n
        for n in names
        for line in src.splitlines()
        if re.match(rf"\s*{re.escape(n)}\s*[:=]", line) and line.count("=") > 1
    ]
    if not bad:
        return ""
    return (
        f". {', '.join(sorted(set(bad)))} is in the parameters cell, but papermill skips any line "
        "with more than one '=' (e.g. an '=' in the trailing comment): remove it"
    )


def plan_batch(
    by: str,
    only: Iterable[str] | None = None,
    period: str | None = None,
    run_id: str | None = None,
    timeout: float = 900,
    outputs: str | os.PathLike | None = None,
    processed: str | os.PathLike | None = None,
    *,
    units: Iterable[str] | None = None,
    params: str | os.PathLike | Mapping | None = None,
    notebooks_dir: str | os.PathLike | None = None,
    kernel_name: str = "python3",
) -> tuple[list[UnitSpec], dict]:
    """Build the :class:`UnitSpec` list of a batch without running anything.

    Validates the family, the params YAML (parameter keys against the
    notebook's parameters), the period, ``only`` against the valid units.
    Parameters as in :func:`run_batch`.

    Returns
    -------
    specs : list of UnitSpec
    info : dict
        ``run_id``, ``run_dir``, ``notebook``, ``period``, ``data_fingerprint``,
        ``params_source``, ``warnings``.
    """
    cfg = load_family_config(by, params)
    for name in ("targets", "sites"):  # the notebooks read these: check them before any kernel starts
        if (PARAMS_DIR / f"{name}.yaml").exists():
            load_yaml(name)
    fam = FAMILIES[by]
    outputs = Path(outputs or OUTPUTS_DIR)
    processed = Path(processed or PROCESSED_DIR)
    warnings: list[str] = []

    nb_path, declared = _notebook_and_parameters(cfg, notebooks_dir)
    base, period = _base_parameters(cfg, period, declared, processed)
    decisions = _data_context(processed) if (units is None or fam["vendor_facing"]) else None
    all_units, overrides = _unit_list(by, cfg, units, decisions, processed, only, warnings)
    col = fam["column"]
    no_audits = _units_without_audits(processed, col, all_units) if col in (S.VENDOR, S.SITE) else {}
    run_id = _check_run_id(by, run_id)
    run_dir = outputs / str(run_id)
    fingerprint = processed_fingerprint(processed)
    site_vendor = _site_vendors(decisions) if by == "site" else {}
    base_privacy = _privacy_context(decisions, "") if (fam["vendor_facing"] and decisions is not None) else None

    specs: list[UnitSpec] = []
    slugs: set[str] = set()
    for u in all_units:
        p = _unit_parameters(by, u, base, overrides.get(u, {}), site_vendor)
        _check_parameter_names(p, declared, cfg["source"], nb_path)
        slug = _unique_slug(u, slugs)
        privacy = None
        if fam["vendor_facing"]:
            if base_privacy is not None:
                privacy = {**base_privacy, "focus_vendor": p.get("vendor", u)}
            elif not any("privacy check" in w for w in warnings):
                warnings.append(
                    "privacy check reduced: no processed decisions to list other vendors' sites and moderators"
                )
        specs.append(
            UnitSpec(
                family=by,
                unit=u,
                slug=slug,
                notebook=str(nb_path.resolve()),
                parameters=p,
                run_dir=str(run_dir),
                title=_unit_title(cfg["title"], u, p),
                timeout=float(timeout),
                meta={"period": p.get("period", period), "data_fingerprint": fingerprint, "run_id": str(run_id)}
                | ({"no_audits": no_audits[u]} if u in no_audits else {}),
                privacy=privacy,
                kernel_name=kernel_name,
            )
        )
    info = {
        "run_id": str(run_id),
        "run_dir": run_dir,
        "notebook": _display_path(nb_path),
        "period": period,
        "data_fingerprint": fingerprint,
        "params_source": cfg["source"],
        "warnings": warnings,
    }
    return specs, info


def _notebook_and_parameters(cfg: dict, notebooks_dir) -> tuple[Path, dict]:
    """The family's notebook path and the parameters its ``parameters`` cell declares."""
    import papermill as pm

    nb_path = Path(cfg["notebook"])
    if not nb_path.is_absolute():
        nb_path = Path(notebooks_dir or NOTEBOOKS_DIR) / nb_path
    if not nb_path.exists():
        raise ConfigError(f"{cfg['source']}: notebook {_display_path(nb_path)} not found")
    try:
        declared = pm.inspect_notebook(str(nb_path))
    except Exception as exc:
        raise ConfigError(
            f"{_display_path(nb_path)}: cannot read its parameters ({type(exc).__name__}: {_one_line(exc, 160)})"
        ) from None
    return nb_path, declared


def _base_parameters(cfg: dict, period: str | None, declared: Mapping, processed: Path) -> tuple[dict, str]:
    """Parameters shared by all units (period and processed folder filled in) and the checked period."""
    base = dict(cfg["parameters"])
    period = period if period is not None else base.get("period", "last:12")
    parse_period(period)
    if "period" in declared or "period" in base:
        base["period"] = period
    if "processed_dir" in declared and processed.resolve() != PROCESSED_DIR.resolve():
        base["processed_dir"] = str(processed.resolve())
    return base, period


def _unit_list(by, cfg, units, decisions, processed: Path, only, warnings: list[str]) -> tuple[list[str], dict]:
    """The units to run (forced, from the YAML or from the data; filtered by ``only``) and per-unit overrides."""
    col = FAMILIES[by]["column"]
    overrides: dict[str, dict] = {}
    if isinstance(cfg["units"], Mapping):
        overrides = {str(k): dict(v or {}) for k, v in cfg["units"].items()}
    if col is None:
        all_units = [by]  # one-unit families: consolidated, transparency
    elif units is not None:
        all_units = [str(u) for u in units]
    elif isinstance(cfg["units"], list):
        all_units = [str(u) for u in cfg["units"]]
    else:
        if decisions is None:
            raise ConfigError(
                f"no processed decisions in {_display_path(processed)} to find the "
                f"{by} units: run 'modqa ingest' first (make run does it)"
            )
        excl = set(cfg["exclude_units"])
        all_units = sorted({str(v) for v in decisions[col].dropna().unique()} - excl)
        missing = sorted(set(overrides) - set(all_units) - excl)
        if missing:
            warnings.append(f"{cfg['source']}: overrides for unit(s) not in the data ignored: " + ", ".join(missing))
    if not all_units:
        raise ConfigError(f"no {by} units found in {_display_path(processed)}")
    if only:
        wanted = [str(u).strip() for u in only if str(u).strip()]
        unknown = [u for u in wanted if u not in all_units]
        if unknown:
            raise ConfigError(
                f"--only: unknown {by} unit(s) {', '.join(map(repr, unknown))}; valid: {', '.join(all_units)}"
            )
        all_units = [u for u in all_units if u in wanted]
    return all_units, overrides


def _check_run_id(by: str, run_id: str | None) -> str:
    """``run_id`` checked, or the default ``<UTC time>-<family>``."""
    if run_id is None:
        run_id = f"{_utcnow().strftime('%Y%m%dT%H%M%SZ')}-{by}"
    if not _RUN_ID.match(str(run_id)):
        raise ConfigError(f"--run-id {run_id!r}: use letters, digits, '.', '_' and '-' only")
    return str(run_id)


def _site_vendors(decisions) -> dict[str, str]:
    """Site -> its (main) vendor, from the decisions or else from ``params/sites.yaml``."""
    if decisions is not None and S.SITE in decisions.columns:
        return _privacy_context(decisions, "")["sites"]
    if (PARAMS_DIR / "sites.yaml").exists():  # sites.yaml also maps site -> vendor
        raw = load_yaml(PARAMS_DIR / "sites.yaml").get("sites") or {}
        return {str(k): str(v.get("vendor")) for k, v in raw.items() if isinstance(v, Mapping)}
    return {}


def _unit_parameters(by: str, u: str, base: dict, override: dict, site_vendor: dict[str, str]) -> dict:
    """One unit's notebook parameters: the shared ones, the unit's own, then its YAML overrides."""
    fam = FAMILIES[by]
    p = dict(base)
    if fam["unit_parameter"]:
        p[fam["unit_parameter"]] = u
    if by == "site":
        if u not in site_vendor:
            raise ConfigError(f"site {u!r}: its vendor is unknown (not in the decisions or params/sites.yaml)")
        p["vendor"] = site_vendor[u]
    p.update(override)
    if "period" in override:
        parse_period(p["period"])
    return p


def _check_parameter_names(p: Mapping, declared: Mapping, source: str, nb_path: Path) -> None:
    """Raise :class:`ConfigError` if a parameter is not declared by the notebook."""
    unknown = sorted(set(p) - set(declared))
    if unknown:
        raise ConfigError(
            f"{source}: parameter(s) {', '.join(unknown)} are not parameters of "
            f"{nb_path.name} (it declares: {', '.join(declared) or 'none'}); "
            "keys must match the notebook's parameters cell exactly" + _unparsed_hint(nb_path, unknown)
        )


def _unique_slug(u: str, slugs: set[str]) -> str:
    """The unit's folder name, made unique among ``slugs`` (which it is added to)."""
    slug = unit_slug(u)
    if slug in slugs:
        import hashlib

        slug = f"{slug}-{hashlib.sha256(u.encode()).hexdigest()[:6]}"
    slugs.add(slug)
    return slug


def _unit_title(template: str, u: str, p: Mapping) -> str:
    try:
        return template.format(unit=u, **p)
    except (KeyError, IndexError, ValueError):
        return f"{template} {u}"
