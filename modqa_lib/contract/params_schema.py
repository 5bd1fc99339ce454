"""Schemas of the ``params/*.yaml`` files, checked when a file is loaded (before any kernel starts).

A misspelt key (``critical_polices``) would otherwise be ignored and silently
relax a KPI target; a misspelt time zone (``Asia/Manilla``) would put a site's
shifts in UTC. :func:`check_params` reports every problem of a file at once in
one :class:`~modqa_lib.errors.ConfigError`: one line per problem naming the
file, the key (dotted path), what is wrong, and for an unknown key the closest
valid key (:func:`difflib.get_close_matches`).

Schemas are plain Python objects: :class:`Num`, :class:`Str`, :class:`Bool`,
:class:`TimeZone`, :class:`Date`, :class:`Keys` (a mapping with known keys),
:class:`MapOf` (free keys, typed values), :class:`ListOf`, :class:`OneOf` and
:data:`ANY`. :data:`SCHEMAS` maps a params file's stem to its schema.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from modqa_lib.errors import ConfigError

__all__ = [
    "FAMILY_SCHEMA",
    "SCHEMAS",
    "Bool",
    "Date",
    "Keys",
    "ListOf",
    "MapOf",
    "Num",
    "OneOf",
    "Str",
    "TimeZone",
    "check_params",
    "load_params_file",
]


class _Spec:
    def check(self, v: Any, path: str, out: list[str]) -> None:  # pragma: no cover - interface
        raise NotImplementedError


@dataclass(frozen=True)
class _Any(_Spec):
    def check(self, v, path, out):
        return None


ANY = _Any()


def _kind(v) -> str:
    return "nothing" if v is None else type(v).__name__.replace("str", "text").replace("dict", "mapping")


@dataclass(frozen=True)
class Num(_Spec):
    """A number in [lo, hi] (``lo_open``/``hi_open`` make a bound exclusive); ``integer`` requires an int."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    integer: bool = False

    def check(self, v, path, out):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (self.integer and not isinstance(v, int)):
            out.append(f"'{path}': wrong type, expected {'an integer' if self.integer else 'a number'}, got {v!r}")
            return
        lo_bad = self.lo is not None and (v <= self.lo if self.lo_open else v < self.lo)
        hi_bad = self.hi is not None and (v >= self.hi if self.hi_open else v > self.hi)
        if lo_bad or hi_bad:
            lo = "-inf" if self.lo is None else f"{self.lo:g}"
            hi = "inf" if self.hi is None else f"{self.hi:g}"
            rng = f"{'(' if self.lo_open else '['}{lo}, {hi}{')' if self.hi_open else ']'}"
            out.append(f"'{path}': out of range, must be in {rng}, got {v!r}")


@dataclass(frozen=True)
class Str(_Spec):
    """Text, optionally one of ``choices``."""

    choices: tuple[str, ...] = ()

    def check(self, v, path, out):
        if not isinstance(v, str):
            out.append(f"'{path}': wrong type, expected text, got {_kind(v)} {v!r}")
        elif self.choices and v not in self.choices:
            close = difflib.get_close_matches(v, self.choices, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f" (allowed: {', '.join(self.choices)})"
            out.append(f"'{path}': unknown value {v!r}{hint}")


@dataclass(frozen=True)
class Bool(_Spec):
    def check(self, v, path, out):
        if not isinstance(v, bool):
            out.append(f"'{path}': wrong type, expected true or false, got {v!r}")


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    import zoneinfo

    return frozenset(zoneinfo.available_timezones())


@dataclass(frozen=True)
class TimeZone(_Spec):
    """An IANA time zone name (``Asia/Manila``)."""

    def check(self, v, path, out):
        if not isinstance(v, str):
            out.append(f"'{path}': wrong type, expected an IANA time zone name, got {v!r}")
            return
        if v in _zones():
            return
        close = difflib.get_close_matches(v, sorted(_zones()), n=1, cutoff=0.6)
        hint = f"; did you mean '{close[0]}'?" if close else " (use an IANA name such as 'Asia/Manila')"
        out.append(f"'{path}': unknown time zone {v!r}{hint}")


@dataclass(frozen=True)
class Date(_Spec):
    """An ISO date (``2015-01-01``), as text or a YAML date."""

    def check(self, v, path, out):
        import datetime as dt

        if isinstance(v, dt.date):
            return
        try:
            dt.date.fromisoformat(str(v))
        except ValueError:
            out.append(f"'{path}': not an ISO date (YYYY-MM-DD), got {v!r}")


@dataclass(frozen=True)
class Keys(_Spec):
    """A mapping with known keys; unknown keys are errors naming the closest valid key."""

    keys: Mapping[str, _Spec]
    required: tuple[str, ...] = ()

    def check(self, v, path, out):
        if v is None:
            v = {}
        if not isinstance(v, Mapping):
            out.append(f"'{path or '(top level)'}': wrong type, expected a mapping of keys, got {_kind(v)} {v!r}")
            return
        for k, val in v.items():
            sub = f"{path}.{k}" if path else str(k)
            if k not in self.keys:
                close = difflib.get_close_matches(str(k), list(self.keys), n=1, cutoff=0.6)
                hint = f"; did you mean '{close[0]}'?" if close else f" (valid keys: {', '.join(self.keys)})"
                out.append(f"'{sub}': unknown key{hint}")
                continue
            self.keys[k].check(val, sub, out)
        for k in self.required:
            if k not in v:
                out.append(f"'{path + '.' if path else ''}{k}': required key missing")


@dataclass(frozen=True)
class MapOf(_Spec):
    """A mapping with free keys (e.g. vendor names) and values of one schema."""

    value: _Spec = ANY
    key_choices: tuple[str, ...] = ()

    def check(self, v, path, out):
        if v is None:
            return
        if not isinstance(v, Mapping):
            out.append(f"'{path}': wrong type, expected a mapping, got {_kind(v)} {v!r}")
            return
        for k, val in v.items():
            sub = f"{path}.{k}"
            if self.key_choices and k not in self.key_choices:
                close = difflib.get_close_matches(str(k), self.key_choices, n=1, cutoff=0.6)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                out.append(f"'{sub}': unknown key{hint}")
                continue
            self.value.check(val, sub, out)


@dataclass(frozen=True)
class ListOf(_Spec):
    item: _Spec = ANY

    def check(self, v, path, out):
        if v is None:
            return
        if not isinstance(v, list):
            out.append(f"'{path}': wrong type, expected a list, got {_kind(v)} {v!r}")
            return
        for i, x in enumerate(v):
            self.item.check(x, f"{path}[{i}]", out)


@dataclass(frozen=True)
class OneOf(_Spec):
    """The first alternative whose type fits is checked (e.g. a list of units or a mapping)."""

    options: tuple[_Spec, ...] = field(default_factory=tuple)
    what: str = ""

    def check(self, v, path, out):
        for o in self.options:
            trial: list[str] = []
            o.check(v, path, trial)
            if not trial:
                return
        fits = [o for o in self.options if _fits(o, v)]
        if fits:
            fits[0].check(v, path, out)
        else:
            out.append(f"'{path}': wrong type, expected {self.what}, got {_kind(v)} {v!r}")


def _fits(spec: _Spec, v) -> bool:
    if isinstance(spec, (Keys, MapOf)):
        return isinstance(v, Mapping)
    if isinstance(spec, ListOf):
        return isinstance(v, list)
    if isinstance(spec, (Str, TimeZone)):
        return isinstance(v, str)
    return False


_PROB = Num(0, 1)
_ALPHA = Num(0, 0.5, lo_open=True, hi_open=True)

TARGETS_SCHEMA = Keys(
    {
        "accuracy": Keys(
            {
                "default": _PROB,
                "critical_policies": _PROB,
                "by_vendor": MapOf(_PROB),
                "by_policy": MapOf(_PROB),
            }
        ),
        "model": Keys({"precision": _PROB, "recall": _PROB}),
        "critical_error_rate_max": Num(0, 1, hi_open=True),
        # QA of QA: days from raised_at to resolved_at
        "disputes": Keys({"resolution_days_median": Num(0), "resolution_days_p90": Num(0)}),
        # operations: SLA by content type, handle-time ceilings, productivity
        "operations": Keys(
            {
                "sla": MapOf(Keys({"minutes": Num(0, lo_open=True), "share": _PROB}, required=("minutes", "share"))),
                "aht_s": MapOf(Num(0, lo_open=True)),
                "decisions_per_hour": Num(0, lo_open=True),
            }
        ),
    }
)

_PRICE = Keys(
    {"basis": Str(choices=("per_decision", "per_hour")), "price": Num(0, lo_open=True)}, required=("basis", "price")
)
RATES_SCHEMA = Keys({"currency": Str(), "vendors": MapOf(_PRICE), "sites": MapOf(_PRICE)})

GOLIVE_SCHEMA = Keys(
    {
        "queues": MapOf(
            Keys(
                {
                    "vendor": Str(),
                    "site": Str(),
                    "content_type": Str(),
                    "policies": ListOf(Str()),
                    "forecast_weekly_volume": Num(0, lo_open=True),
                    "productive_hours_per_week": Num(0, lo_open=True),
                    "required_courses": ListOf(Str()),
                    "nesting_accuracy_target": Num(0, 1, lo_open=True, hi_open=True),
                },
                required=(
                    "vendor",
                    "content_type",
                    "policies",
                    "forecast_weekly_volume",
                    "productive_hours_per_week",
                    "required_courses",
                    "nesting_accuracy_target",
                ),
            )
        )
    }
)

SITES_SCHEMA = Keys(
    {
        "sites": MapOf(
            OneOf(
                (Keys({"vendor": Str(), "timezone": TimeZone()}, required=("timezone",)), TimeZone()),
                what="{vendor: ..., timezone: ...} or a time zone name",
            )
        )
    }
)

#: notebook parameters whose values modqa knows how to check (others are checked against the notebook)
_PARAMETERS = MapOf(ANY)
_KNOWN_PARAMETERS = {"alpha": _ALPHA, "period": Str(), "processed_dir": Str(), "site": Str(), "vendor": Str()}

_UNITS = OneOf(
    (ListOf(Str()), MapOf(OneOf((Keys({}), MapOf(ANY)), what="a mapping of overrides"))), "a list or mapping"
)
_FAMILY_KEYS = {
    "notebook": Str(),
    "title": Str(),
    "parameters": _PARAMETERS,
    "exclude_units": ListOf(Str()),
    "units": _UNITS,
}
#: a run family's params file (vendors.yaml, markets.yaml, consolidated.yaml); ``by_<family>`` sections nest
FAMILY_SCHEMA = Keys(
    {
        **_FAMILY_KEYS,
        "by_site": Keys(_FAMILY_KEYS),
        "by_vendor": Keys(_FAMILY_KEYS),
        "by_market": Keys(_FAMILY_KEYS),
    }
)

INGEST_SCHEMA = Keys({"earliest_date": Date(), "future_tolerance_hours": Num(0, 24 * 31)})

_POLICY = Keys({"code": Str(), "name": Str(), "critical": Bool()}, required=("code",))
_CODE = Keys({"code": Str(), "name": Str()}, required=("code",))
TAXONOMY_SCHEMA = Keys(
    {
        "policies": ListOf(_POLICY),
        "no_violation_label": Str(),
        "content_types": ListOf(Str()),
        "channels": ListOf(Str()),
        "actions": ListOf(Str()),
        "error_types": ListOf(Str()),
        "severities": ListOf(Str()),
        "root_causes": ListOf(_CODE),
        "rater_groups": ListOf(Str()),
        "action_kinds": ListOf(Str()),
        "dispute_reasons": ListOf(Str()),
        "dispute_statuses": ListOf(Str()),
        "resolution_reasons": ListOf(Str()),
        "roster_statuses": ListOf(Str()),
    }
)

#: params file stem -> schema
SCHEMAS: dict[str, _Spec] = {
    "targets": TARGETS_SCHEMA,
    "sites": SITES_SCHEMA,
    "vendors": FAMILY_SCHEMA,
    "markets": FAMILY_SCHEMA,
    "consolidated": FAMILY_SCHEMA,
    "ingest": INGEST_SCHEMA,
    "taxonomy": TAXONOMY_SCHEMA,
    "rates": RATES_SCHEMA,
    "golive": GOLIVE_SCHEMA,
}


def check_params(data: Any, schema: _Spec | str, source: str | os.PathLike) -> Any:
    """Check one params file's content against its schema; return it unchanged.

    Parameters
    ----------
    data : object
        The parsed YAML.
    schema : schema object or str
        A schema, or a key of :data:`SCHEMAS`.
    source : path-like
        Named in the message.

    Raises
    ------
    ConfigError
        Every problem of the file, one per line: ``<file>: key '<a.b>': <what>``.
    """
    spec = SCHEMAS[schema] if isinstance(schema, str) else schema
    out: list[str] = []
    spec.check(data, "", out)
    if isinstance(spec, Keys) and spec is FAMILY_SCHEMA and isinstance(data, Mapping):
        for sec_path, sec in [("", data)] + [(k + ".", v) for k, v in data.items() if str(k).startswith("by_")]:
            params = sec.get("parameters") if isinstance(sec, Mapping) else None
            if isinstance(params, Mapping):
                for k, val in params.items():
                    if k in _KNOWN_PARAMETERS:
                        _KNOWN_PARAMETERS[k].check(val, f"{sec_path}parameters.{k}", out)
    if out:
        src = Path(source).name if str(source) != "<dict>" else "<dict>"
        lines = [f"{src}: key {p}" for p in out]
        msg = lines[0] if len(lines) == 1 else f"{len(lines)} problems in {src}:\n  " + "\n  ".join(lines)
        raise ConfigError(msg)
    return data


def load_params_file(path: str | os.PathLike, schema: _Spec | str | None = None) -> dict:
    """Read a params YAML file and check it (schema by the file's stem when not given)."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read ({exc.strerror})") from None
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: a YAML date such as 2015-13-01
        raise ConfigError(f"{p}: invalid YAML ({exc})") from None
    data = data or {}
    spec = schema if schema is not None else SCHEMAS.get(p.stem)
    if spec is not None:
        check_params(data, spec, p)
    return data
