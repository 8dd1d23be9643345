"""Convergence rates read off error curves (host side, NumPy)."""

import numpy as np


def fit_window(errors, upper: float = 1e-3, lower: float = 1e-6) -> tuple[int, int] | None:
    r"""The iterations `(start, end)` of the error band: `start` is the first $t$ with
    $e_t \le$ `upper`, `end` the first with $e_t \le$ `lower`. None if the curve never
    reaches `lower`, spans fewer than three iterations, or is not finite."""
    errors = np.asarray(errors, dtype=float)
    if not np.all(np.isfinite(errors)) or np.any(errors <= 0):
        return None
    below_upper = np.flatnonzero(errors <= upper)
    below_lower = np.flatnonzero(errors <= lower)
    if not (below_lower.size and below_upper.size) or below_lower[0] - below_upper[0] < 2:
        return None
    return int(below_upper[0]), int(below_lower[0])


def convergence_rate(errors, upper: float = 1e-3, lower: float = 1e-6) -> float:
    r"""Least-squares slope of $\ln e_t$ against $t$ over the error band from `upper` down
    to `lower` ([`fit_window`][jaxlab.sensing.fit_window]): negative when converging. Every
    curve of one comparison is fitted on the same band; NaN if the curve does not cross
    the band (too slow, or diverged)."""
    window = fit_window(errors, upper, lower)
    if window is None:
        return float("nan")
    start, end = window
    t = np.arange(start, end + 1)
    return float(np.polyfit(t, np.log(np.asarray(errors, dtype=float)[start : end + 1]), 1)[0])


def loglog_slope(errors) -> float:
    r"""Least-squares slope of $\ln e_t^2$ against $\ln t$ over the last half of the run:
    about $-2$ for the $\Omega(1/T^2)$ regime of symmetric over-parameterized GD."""
    errors = np.asarray(errors, dtype=float)
    if not np.all(np.isfinite(errors)) or np.any(errors <= 0):
        return float("nan")
    t = np.arange(max(len(errors) // 2, 1), len(errors))
    return float(np.polyfit(np.log(t), np.log(errors[t] ** 2), 1)[0])


def power_law_exponent(scales, rates) -> float:
    r"""Slope of $\ln|\text{rate}|$ against $\ln\alpha$: 2 when the rate scales like $\alpha^2$."""
    rates = np.abs(np.asarray(rates, dtype=float))
    if not np.all(np.isfinite(rates)) or np.any(rates <= 0):
        return float("nan")
    return float(np.polyfit(np.log(np.asarray(scales, dtype=float)), np.log(rates), 1)[0])
