"""Convergence rates read off error curves (host side, NumPy)."""

import numpy as np


def convergence_rate(errors, upper: float = 1e-3, lower: float = 1e-10) -> float:
    r"""Least-squares slope of $\ln e_t$ against $t$ (negative when converging).

    The fit covers the stretch from the first iteration with $e_t \le$ `upper` to the
    first with $e_t \le$ `lower`. If the error never reaches `lower` (or reaches it in
    fewer than three iterations from `upper`), the fit covers the last half of the run.
    NaN if the curve is not finite (a diverged run).
    """
    errors = np.asarray(errors, dtype=float)
    if not np.all(np.isfinite(errors)) or np.any(errors <= 0):
        return float("nan")
    below_upper = np.flatnonzero(errors <= upper)
    below_lower = np.flatnonzero(errors <= lower)
    if below_lower.size and below_upper.size and below_lower[0] - below_upper[0] >= 2:
        start, stop = below_upper[0], below_lower[0] + 1
    else:
        start, stop = len(errors) // 2, len(errors)
    t = np.arange(start, stop)
    return float(np.polyfit(t, np.log(errors[start:stop]), 1)[0])


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
