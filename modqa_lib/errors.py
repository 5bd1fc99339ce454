"""Typed errors. User errors carry a message a quality manager can act on.

The CLI turns any :class:`ModqaError` into one line on stderr and a non-zero
exit, without a traceback. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = [
    "BatchError",
    "ConcurrentRunError",
    "ConfigError",
    "DataContractError",
    "EstimationError",
    "InputFileError",
    "ModqaError",
    "SamplingError",
    "SourceError",
]


class ModqaError(Exception):
    """Base class of every user-facing modqa error (exit code 2)."""

    exit_code = 2


class InputFileError(ModqaError):
    """A raw file is missing, empty, unreadable, or has the wrong encoding or delimiter."""


class DataContractError(ModqaError):
    """Raw data breaks the data contract.

    Parameters
    ----------
    problems : list of dict
        One dict per broken rule with keys ``table``, ``file``, ``column``,
        ``rule``, ``rows`` (first offending 1-based data row numbers) and ``count``.
    """

    def __init__(self, problems: list[dict]):
        self.problems = list(problems)
        super().__init__(self._format())

    def _format(self) -> str:
        lines = [f"{len(self.problems)} data contract problem(s):"]
        for p in self.problems:
            rows = p.get("rows") or []
            count = int(p.get("count") or 0)
            if rows:
                more = f" (+{count - len(rows)} more)" if count > len(rows) else ""
                where = f"[{count} row(s); data rows {', '.join(map(str, rows))}{more}]"
            else:
                where = "[whole table]"
            column = p.get("column")
            col = f"column '{column}'" if column not in (None, "*") else "table"
            lines.append(f"  {p.get('file') or p.get('table')}: {col}: {p.get('rule')} {where}")
        return "\n".join(lines)


class ConfigError(ModqaError):
    """A ``params/*.yaml`` file or a CLI option is invalid."""


class SamplingError(ModqaError):
    """A sample plan cannot be drawn as asked (e.g. n larger than the population)."""


class EstimationError(ModqaError):
    """An estimate cannot be computed honestly from the data given (e.g. bad weights)."""


class ConcurrentRunError(ModqaError):
    """Another modqa process holds the lock on the folder this one would write (ingest, batch run)."""


class BatchError(ModqaError):
    """One or more units of a batch run failed; the manifest says which and why."""


class SourceError(InputFileError):
    """A database source cannot be read: connection refused, bad credentials, missing table or column."""


class TooLargeError(ModqaError):
    """More rows than a pandas-only function can hold; the message names the DuckDB path to use instead."""


__all__ += ["TooLargeError"]
