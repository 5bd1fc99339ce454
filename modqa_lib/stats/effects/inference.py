"""Few-cluster inference for a difference-in-differences: the two-step cluster-level t test and the
restricted wild cluster bootstrap (used by :func:`modqa_lib.stats.effects.did.diff_in_diff`)."""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__: list[str] = []

# ------------------------------------------------- wild cluster bootstrap
#: Webb's six-point weights: ±√(1/2), ±1, ±√(3/2), each with probability 1/6 (mean 0, variance 1).
_WEBB = np.array([-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)])


def _webb_weights(n_clusters: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(draws, clusters) Webb weights: every combination when 6^G <= n_boot, else n_boot random draws."""
    if 6**n_clusters <= n_boot:
        grid = np.meshgrid(*[_WEBB] * n_clusters, indexing="ij")
        return np.stack([g.ravel() for g in grid], axis=1)
    return rng.choice(_WEBB, size=(int(n_boot), n_clusters))


class _WildCluster:
    """Restricted (null-imposed) wild cluster bootstrap-t of one OLS coefficient (WCR).

    Works on cluster sums only (X_g'X_g and X_g'y), so one p-value costs O(B·G·k²)
    whatever the number of audits, as in Roodman et al.'s ``boottest``.
    """

    def __init__(self, y: np.ndarray, X: np.ndarray, groups: np.ndarray, j: int, weights: np.ndarray):
        n, k = X.shape
        G = int(groups.max()) + 1
        self.j, self.W = j, weights
        self.A = np.linalg.inv(X.T @ X)
        self.XgX = np.zeros((G, k, k))
        np.add.at(self.XgX, groups, X[:, :, None] * X[:, None, :])
        self.Xgy = np.zeros((G, k))
        np.add.at(self.Xgy, groups, X * y[:, None])
        self.c = G / (G - 1) * (n - 1) / (n - k)  # CR1 small-sample factor (cancels in t vs t*)
        self.keep = [i for i in range(k) if i != j]
        XtX = X.T @ X
        self.Ar = np.linalg.inv(XtX[np.ix_(self.keep, self.keep)])
        self.XtX = XtX
        self.b = self.A @ self.Xgy.sum(0)
        S = self.Xgy - self.XgX @ self.b
        self.se = float(np.sqrt(max(self.c * (self.A[j] @ S.T @ S @ self.A[j]), 0.0)))

    def _theta(self, delta: float) -> np.ndarray:
        """Coefficients of the restricted fit with beta_j = delta."""
        k = len(self.b)
        rhs = self.Xgy.sum(0)[self.keep] - delta * self.XtX[self.keep, self.j]
        th = np.empty(k)
        th[self.keep] = self.Ar @ rhs
        th[self.j] = delta
        return th

    def p_value(self, delta: float = 0.0) -> float:
        """Bootstrap p-value of H0: beta_j = delta (two-sided, symmetric)."""
        a, j = self.A[self.j], self.j
        t = (self.b[j] - delta) / self.se if self.se > 0 else np.inf
        th = self._theta(delta)
        P = self.XgX @ th  # X_g' (restricted fit)
        U = self.Xgy - P  # X_g' (restricted residuals)
        bs = (P.sum(0)[None, :] + self.W @ U) @ self.A.T  # (B, k) bootstrap coefficients
        Ss = P[None] + self.W[:, :, None] * U[None] - np.einsum("gkl,bl->bgk", self.XgX, bs)
        v = self.c * ((Ss @ a) ** 2).sum(1)
        with np.errstate(divide="ignore", invalid="ignore"):
            ts = np.abs(bs[:, j] - delta) / np.sqrt(v)
        ts = np.where(np.isnan(ts), np.inf, ts)
        return float(np.mean(ts >= abs(t) * (1 - 1e-10)))

    def interval(self, alpha: float, bound: float = 2.0) -> tuple[float, float]:
        """Test-inversion interval {delta : p(delta) >= alpha}, searched within b ± 2·bound."""
        b = float(self.b[self.j])
        step = max(self.se, 1e-4)
        ends = []
        for side in (-1.0, 1.0):
            inside, d = 0.0, step
            while d < 2 * bound and self.p_value(b + side * d) >= alpha:
                inside, d = d, 2 * d
            if d >= 2 * bound:
                ends.append(b + side * 2 * bound)  # the bootstrap cannot bound this side
                continue
            lo_d, hi_d = inside, d
            for _ in range(40):
                mid = 0.5 * (lo_d + hi_d)
                if self.p_value(b + side * mid) >= alpha:
                    lo_d = mid
                else:
                    hi_d = mid
                if hi_d - lo_d < 1e-6:
                    break
            ends.append(b + side * 0.5 * (lo_d + hi_d))
        return float(np.clip(ends[0], -bound, bound)), float(np.clip(ends[1], -bound, bound))


# ------------------------------------------------------- two-step (cluster-level) DiD
def _two_step(y, tr, po, groups, est: float, alpha: float) -> dict | None:
    """Cluster-level inference for the DiD ``est`` (Donald & Lang's two-step with a random site effect).

    Each cluster × arm with audits before and after is one unit with its accuracy change
    d_u and binomial variance v_u; d_u = arm effect (+ a cluster effect when the cluster is
    in both arms) + a between-cluster shock (variance τ², moment estimate) + sampling
    error. The DiD is Σ c_u d_u with c_u = ± the unit's share of its arm's audits; its
    variance Σ c_u² (τ² + v_u) is scaled by the Knapp–Hartung factor (at least 1) and
    referred to t with (units − parameters) degrees of freedom. None when no df is left.
    """
    G = int(groups.max()) + 1
    rows = []
    for g in range(G):
        for a in (1.0, 0.0):
            m = (groups == g) & (tr == a)
            mb, ma = m & (po == 0), m & (po == 1)
            nb, na = float(mb.sum()), float(ma.sum())
            if nb == 0 or na == 0:
                continue
            xb, xa = float(y[mb].sum()), float(y[ma].sum())
            qb, qa = (xb + 0.5) / (nb + 1), (xa + 0.5) / (na + 1)
            rows.append((g, a, xa / na - xb / nb, qb * (1 - qb) / nb + qa * (1 - qa) / na, nb + na))
    if not rows:
        return None
    gi, arm, d, v, n = (np.array(c) for c in zip(*rows))
    if not ((arm == 1).any() and (arm == 0).any()):
        return None
    paired = [c for c in np.unique(gi) if len(np.unique(arm[gi == c])) == 2]
    single = ~np.isin(gi, paired)
    Z = np.column_stack([arm] + ([single.astype(float)] if single.any() else []) + [(gi == c) * 1.0 for c in paired])
    df = len(d) - int(np.linalg.matrix_rank(Z))
    if df < 1:
        return None

    def wls(w):
        zw = Z * w[:, None]
        inv = np.linalg.pinv(zw.T @ Z)
        return d - Z @ (inv @ zw.T @ d), inv

    w = 1.0 / v
    r, inv = wls(w)
    trace = w.sum() - np.trace(inv @ (Z * (w**2)[:, None]).T @ Z)
    tau2 = max(0.0, (float(np.sum(w * r**2)) - df) / trace) if trace > 0 else 0.0
    ws = 1.0 / (v + tau2)
    r2, _ = wls(ws)
    scale = max(1.0, float(np.sum(ws * r2**2)) / df)
    c = np.where(arm == 1, n / n[arm == 1].sum(), -n / n[arm == 0].sum())
    se = float(np.sqrt(scale * np.sum(c**2 * (v + tau2))))
    q = float(stats.t.isf(alpha / 2, df))
    return {
        "se": se,
        "p": float(2 * stats.t.sf(abs(est) / se, df)) if se > 0 else float(est == 0),
        "lo": est - q * se,
        "hi": est + q * se,
        "df": df,
        "tau2": tau2,
    }
