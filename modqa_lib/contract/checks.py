"""The one set of argument checks every layer uses.

One function per small job, so a bad input gets the same exception type and the
same kind of message wherever it is passed: :func:`require_columns` (a frame has
the columns a function needs), :func:`as_columns` (``by``/``dims`` arguments to
a list), :func:`check_alpha` (a significance level) and :func:`bh_qvalues` (the
one Benjamini-Hochberg adjustment every flag uses).
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from modqa_lib.errors import ConfigError, DataContractError

__all__ = ["as_columns", "bh_qvalues", "check_alpha", "holm_pvalues", "require_columns"]

#: a bare function name such as ``p_chart`` or ``rca.drilldown`` (written ``p_chart()`` in messages)
_FUNCTION_NAME = re.compile(r"[A-Za-z_][\w.]*")
#: the hint added to a missing-column message when the frame is the audits table
AUDITS_HINT = "build the frame with modqa_lib.data.io.audited_decisions(tables)"


def _who(what: str) -> str:
    return f"{what}()" if _FUNCTION_NAME.fullmatch(what) else what


def require_columns(
    frame: Any, columns: Iterable[str], what: str, table: str = "audits", hint: str | None = None
) -> None:
    """Raise a clear error when ``frame`` is not a DataFrame or lacks columns ``what`` needs.

    Parameters
    ----------
    frame : Any
        The argument to check.
    columns : iterable of str
        Columns the caller needs (duplicates are reported once).
    what : str
        Who needs them: a function name (``"rca.drilldown"``, written ``rca.drilldown()``)
        or a short phrase.
    table : str, default "audits"
        What the frame holds, as the message names it (``"audits"``, ``"decisions"``, ``"golden"``).
    hint : str, optional
        How to fix it; for ``table="audits"`` the default says to build the frame with
        :func:`modqa_lib.data.io.audited_decisions`.

    Returns
    -------
    None

    Raises
    ------
    ConfigError
        ``frame`` is not a pandas DataFrame.
    DataContractError
        One problem per missing column, naming who needs it.

    Examples
    --------
    >>> import pandas as pd
    >>> require_columns(pd.DataFrame({"n": [1]}), ["n"], "accuracy_table")
    """
    who = _who(what)
    if not isinstance(frame, pd.DataFrame):
        raise ConfigError(f"{who}: expected a pandas DataFrame of {table}, got {type(frame).__name__}")
    missing = [c for c in dict.fromkeys(columns) if c not in frame.columns]
    if missing:
        if hint is None and table == "audits":
            hint = AUDITS_HINT
        rule = f"required by {who} but missing" + (f" ({hint})" if hint else "")
        raise DataContractError([{"table": table, "column": c, "rule": rule, "count": len(frame)} for c in missing])


def as_columns(by: Any, what: str = "by") -> list[str]:
    """Normalise a ``by``/``dims`` argument (None, one column name, or a sequence) to a list.

    Parameters
    ----------
    by : None, str or iterable of str
    what : str, default "by"
        The argument's name, as the message names it.

    Returns
    -------
    list of str
        ``[]`` for None, ``[by]`` for one name, else ``list(by)``.

    Raises
    ------
    ConfigError
        ``by`` is neither None, a string nor iterable.

    Examples
    --------
    >>> as_columns("vendor"), as_columns(None), as_columns(("vendor", "site"))
    (['vendor'], [], ['vendor', 'site'])
    """
    if by is None:
        return []
    if isinstance(by, str):
        return [by]
    try:
        return list(by)
    except TypeError:
        raise ConfigError(f"{what} must be a column name or a list of column names, got {by!r}") from None


def check_alpha(alpha: Any, what: str | None = None) -> float:
    """Check a significance level and return it as a float.

    Parameters
    ----------
    alpha : float
        Must lie strictly between 0 and 1 (0.05 gives 95% intervals).
    what : str, optional
        The function that takes it, named at the start of the message.

    Returns
    -------
    float

    Raises
    ------
    ConfigError
        ``alpha`` is not a number (booleans are not) strictly between 0 and 1.

    Examples
    --------
    >>> check_alpha(0.1)
    0.1
    """
    ok = isinstance(alpha, numbers.Real) and not isinstance(alpha, bool) and 0 < float(alpha) < 1
    if not ok or math.isnan(float(alpha)):
        where = f"{_who(what)}: " if what else ""
        raise ConfigError(
            f"{where}alpha must be a number strictly between 0 and 1 (e.g. 0.05 for a 95% interval), got {alpha!r}"
        )
    return float(alpha)


def bh_qvalues(p_values: Any) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values); missing p-values stay NaN and are not counted.

    Parameters
    ----------
    p_values : array_like
        p-values; NaN (or ±inf) for the tests that were not run.

    Returns
    -------
    ndarray
        Same shape as ``p_values``: the q-value of each finite p-value, NaN elsewhere.

    Notes
    -----
    Uses :func:`statsmodels.stats.multitest.multipletests` with ``method="fdr_bh"``
    on the finite p-values (tested equal to it), so the number of tests is the
    number of tests actually run.

    References
    ----------
    1. Benjamini, Y., Hochberg, Y. (1995). Controlling the false discovery rate: a
       practical and powerful approach to multiple testing. JRSS B 57, 289-300.

    Examples
    --------
    >>> bh_qvalues([0.01, 0.04, float("nan")]).round(3).tolist()
    [0.02, 0.04, nan]
    """
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(p_values, dtype=float)
    q = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        q[ok] = multipletests(p[ok], method="fdr_bh")[1]
    return q


def holm_pvalues(p_values: Any) -> np.ndarray:
    """Holm step-down adjusted p-values; missing p-values stay NaN and are not counted.

    Parameters
    ----------
    p_values : array_like
        p-values; NaN (or ±inf) for the tests that were not run.

    Returns
    -------
    ndarray
        Same shape as ``p_values``: the Holm-adjusted p-value of each finite p-value
        (reject at family-wise level alpha where it is < alpha), NaN elsewhere.

    Notes
    -----
    p̃_(i) = max_{j ≤ i} min(1, (m − j + 1) p_(j)) over the m finite p-values sorted
    ascending [1]_; tested equal to ``statsmodels.stats.multitest.multipletests(...,
    method="holm")``, which this replaces in simulation loops because it runs a full
    garbage collection on every call.

    References
    ----------
    .. [1] Holm, S. (1979). A simple sequentially rejective multiple test procedure.
       *Scandinavian Journal of Statistics* 6(2), 65–70.

    Examples
    --------
    >>> holm_pvalues([0.01, 0.04, float("nan"), 0.03]).round(3).tolist()
    [0.03, 0.06, nan, 0.06]
    """
    p = np.asarray(p_values, dtype=float)
    q = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    m = int(ok.sum())
    if m:
        v = p[ok]
        order = np.argsort(v, kind="mergesort")
        adj = np.minimum(1.0, np.maximum.accumulate(v[order] * np.arange(m, 0, -1)))
        out = np.empty(m)
        out[order] = adj
        q[ok] = out
    return q
