"""The measurements of issue 8: one error band for every rate, preconditioned baselines on
the over-parameterized problems, additive outliers, dense noise."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab import ConfigError, sensing


def test_rate_is_fitted_on_the_band_and_nan_when_the_band_is_not_crossed():
    t = np.arange(400)
    errors = np.exp(-0.05 * t)
    start, end = sensing.fit_window(errors, 1e-3, 1e-6)
    assert errors[start] <= 1e-3 < errors[start - 1] and errors[end] <= 1e-6 < errors[end - 1]
    np.testing.assert_allclose(sensing.convergence_rate(errors, 1e-3, 1e-6), -0.05, rtol=1e-9)
    # A slower curve that stops at 1e-4 has no rate on this band (no fallback window).
    slow = np.exp(-0.001 * t) * 1e-3
    assert sensing.fit_window(slow, 1e-3, 1e-6) is None
    assert np.isnan(sensing.convergence_rate(slow, 1e-3, 1e-6))
    assert np.isnan(sensing.convergence_rate(np.full(10, np.nan)))


def test_preconditioned_symmetric_step_matches_its_formula():
    with jax.enable_x64(True):
        k_problem, k_x = jax.random.split(jax.random.key(0))
        problem = sensing.symmetric_problem(k_problem, n=8, rank=2, m=100)
        x0 = sensing.small_init(k_x, 8, 3, 0.5)
        eta, lam, c = 0.3, 0.2, 0.7
        out = sensing.preconditioned_symmetric_gd(problem, x0, eta, 1, lam, c)
        residual = problem.residual(x0 @ x0.T)
        damping = lam + c * jnp.linalg.norm(residual)
        gradient = np.asarray(sensing.symmetric_gradient(problem, x0))
        expected = x0 - eta * gradient @ np.linalg.inv(x0.T @ x0 + damping * np.eye(3))
        np.testing.assert_allclose(out.factors[0], expected, rtol=1e-10)


def test_precgd_is_linear_and_independent_of_alpha_when_over_parameterized():
    # Plain GD on symmetric k > r is sublinear; PrecGD (damping = residual norm)
    # converges linearly to round-off, at a rate that does not depend on alpha.
    with jax.enable_x64(True):
        k_problem, k_x = jax.random.split(jax.random.key(1))
        problem = sensing.symmetric_problem(k_problem, n=10, rank=2, m=300, condition_number=2)
        rates = []
        for alpha in (0.1, 0.01):
            x0 = sensing.small_init(k_x, 10, 4, alpha)
            errors = sensing.preconditioned_symmetric_gd(problem, x0, 0.5, 300, 0.0, 1.0).errors
            assert float(errors[-1]) < 1e-13
            rates.append(sensing.convergence_rate(errors, 1e-3, 1e-10))
        plain = sensing.symmetric_gd(problem, sensing.small_init(k_x, 10, 4, 0.1), 0.5, 300)
    assert np.all(np.isfinite(rates)) and max(rates) < -0.05, rates
    np.testing.assert_allclose(rates[0], rates[1], rtol=0.25)
    assert float(plain.errors[-1]) > 1e-5  # plain GD is still far from it


@pytest.mark.parametrize("mode", ["add", "replace"])
def test_outliers_are_added_to_the_measurements_or_replace_them(mode):
    with jax.enable_x64(True):
        problem = sensing.symmetric_problem(jax.random.key(2), n=6, rank=1, m=4000)
        corrupted = sensing.add_outliers(problem, jax.random.key(3), 0.2, 10.0, mode=mode)
        again = sensing.add_outliers(problem, jax.random.key(3), 0.2, 10.0, mode="add")
    y, z = np.asarray(problem.observations), np.asarray(corrupted.observations)
    hit = z != y
    assert abs(hit.mean() - 0.2) < 0.03
    bound = 10.0 * np.abs(y).max()
    outliers = np.asarray(again.observations - problem.observations)[hit]
    if mode == "add":
        assert np.all(np.abs(z - y)[hit] <= bound)
        # The outlier does not depend on the clean value: uncorrelated with y.
        assert abs(np.corrcoef(y[hit], (z - y)[hit])[0, 1]) < 0.1
    else:
        np.testing.assert_allclose(z[hit], outliers, rtol=1e-12)  # the same draws, alone
    with pytest.raises(ConfigError, match="^mode: one of add, replace, got "):
        sensing.add_outliers(problem, jax.random.key(3), 0.2, mode="swap")
