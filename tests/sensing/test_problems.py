import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab import ConfigError
from jaxlab.sensing import (
    add_gaussian_noise,
    add_outliers,
    asymmetric_problem,
    symmetric_problem,
)


# Identities checked to 1e-12 run in float64 (the `x64` fixture, and problems drawn in
# float64); the statistical checks run in float32.


@pytest.fixture(scope="module")
def problems():
    key = jax.random.key(0)
    with jax.enable_x64(True):
        return (
            symmetric_problem(key, 8, 2, 300, condition_number=4.0),
            asymmetric_problem(key, 6, 9, 2, 300, condition_number=4.0),
        )


def test_adjoint_identity(x64, problems):
    for problem in problems:
        kx, kv = jax.random.split(jax.random.key(1))
        x = jax.random.normal(kx, problem.target.shape)
        v = jax.random.normal(kv, problem.observations.shape)
        lhs = jnp.vdot(problem.apply(x), v)
        rhs = jnp.vdot(x, problem.adjoint(v))
        np.testing.assert_allclose(lhs, rhs, rtol=1e-12)


def test_ground_truth_rank_and_spectrum(x64, problems):
    sym, asym = problems
    for problem, rank in ((sym, 2), (asym, 2)):
        s = np.linalg.svd(np.asarray(problem.target), compute_uv=False)
        np.testing.assert_allclose(s[:rank], [1.0, 0.25], rtol=1e-12)
        assert np.all(s[rank:] < 1e-12)
    np.testing.assert_allclose(sym.target, sym.target.T, atol=1e-15)
    assert np.linalg.eigvalsh(np.asarray(sym.target)).min() > -1e-12


def test_symmetric_measurements_are_symmetric(x64, problems):
    sym, _ = problems
    a = np.asarray(sym.measurements).reshape(-1, 8, 8)
    np.testing.assert_allclose(a, np.swapaxes(a, 1, 2), atol=0)


def test_operator_is_isotropic_on_average():
    """E[A*A] = I on symmetric (resp. all) matrices: check <A(X), A(X)> ~ ||X||^2."""
    key = jax.random.key(3)
    for problem in (
        symmetric_problem(key, 5, 1, 20000),
        asymmetric_problem(key, 5, 4, 1, 20000),
    ):
        x = jax.random.normal(jax.random.key(4), problem.target.shape)
        if problem.symmetric:
            x = x + x.T
        ratio = jnp.sum(problem.apply(x) ** 2) / jnp.sum(x**2)
        assert abs(float(ratio) - 1) < 0.05


def test_observations_are_clean_measurements(x64, problems):
    for problem in problems:
        np.testing.assert_allclose(problem.residual(problem.target), 0, atol=1e-12)
        assert float(problem.relative_error(problem.target)) == 0


def test_outliers_fraction_and_gaussian_noise(problems):
    sym, _ = problems
    big = symmetric_problem(jax.random.key(5), 6, 1, 20000)
    corrupted = add_outliers(big, jax.random.key(6), 0.2, mode="replace")
    changed = np.mean(np.asarray(corrupted.observations != big.observations))
    assert abs(changed - 0.2) < 0.02
    assert np.max(np.abs(corrupted.observations)) > 5 * np.max(np.abs(big.observations))
    noisy = add_gaussian_noise(big, jax.random.key(7), 0.5)
    scaled = (noisy.observations - big.observations) * np.sqrt(20000)
    assert abs(float(jnp.std(scaled)) - 0.5) < 0.02
    # Measurements and ground truth untouched.
    assert noisy.measurements is big.measurements


@pytest.mark.parametrize(
    "call, field",
    [
        (lambda: symmetric_problem(jax.random.key(0), 5, 6, 10), "rank"),
        (lambda: symmetric_problem(jax.random.key(0), 5, 2, 0), "m"),
        (lambda: asymmetric_problem(jax.random.key(0), 5, -1, 1, 10), "n2"),
        (lambda: symmetric_problem(jax.random.key(0), 5, 2, 10, 0.5), "condition_number"),
    ],
)
def test_bad_sizes_name_the_field(call, field):
    with pytest.raises(ConfigError, match=f"^{field}: .*, got ") as info:
        call()
    assert "\n" not in str(info.value)
