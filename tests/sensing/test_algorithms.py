import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab import ConfigError, sensing


N, R, K, M = 10, 2, 4, 400

# Matrix sensing is run in float64 (its experiments declare `x64`): the problems are drawn
# in float64, and every test that uses them takes the `x64` fixture. One test checks the
# float32 path.


@pytest.fixture(scope="module")
def sym():
    with jax.enable_x64(True):
        return sensing.symmetric_problem(jax.random.key(0), N, R, M, 2.0)


@pytest.fixture(scope="module")
def asym():
    with jax.enable_x64(True):
        return sensing.asymmetric_problem(jax.random.key(1), N, N, R, M, 2.0)


def factors(key, alpha, width=K, imbalance=1 / 3):
    kf, kg = jax.random.split(key)
    return sensing.small_init(kf, N, width, alpha), sensing.small_init(
        kg, N, width, imbalance * alpha
    )


def test_gradients_match_autodiff(x64, sym, asym):
    x = jax.random.normal(jax.random.key(2), (N, K))
    np.testing.assert_allclose(
        sensing.symmetric_gradient(sym, x), jax.grad(sensing.symmetric_loss, 1)(sym, x), rtol=1e-10
    )
    f, g = jax.random.normal(jax.random.key(3), (2, N, K))
    expected = jax.grad(sensing.asymmetric_loss, (1, 2))(asym, f, g)
    for got, want in zip(sensing.asymmetric_gradient(asym, f, g), expected):
        np.testing.assert_allclose(got, want, rtol=1e-10)
    # The l1 loss is differentiable where no residual vanishes (almost surely here).
    u = jax.random.normal(jax.random.key(4), (N, K))
    np.testing.assert_allclose(
        sensing.l1_subgradient(sym, u), jax.grad(sensing.l1_loss, 1)(sym, u), rtol=1e-10
    )


def test_gradient_matches_finite_differences(x64, asym):
    f, g = jax.random.normal(jax.random.key(5), (2, N, K))
    direction = jax.random.normal(jax.random.key(6), (N, K))
    h = 1e-6
    fd = (
        sensing.asymmetric_loss(asym, f + h * direction, g)
        - sensing.asymmetric_loss(asym, f - h * direction, g)
    ) / (2 * h)
    analytic = jnp.vdot(sensing.asymmetric_gradient(asym, f, g)[0], direction)
    np.testing.assert_allclose(fd, analytic, rtol=1e-7)


def test_rebalance_preserves_product_and_balances(x64, asym):
    f, g = factors(jax.random.key(7), 0.3)
    for scale in (1.0, 2.5):
        f2, g2 = sensing.rebalance(f, g, scale)
        np.testing.assert_allclose(f2 @ g2.T, f @ g.T, atol=1e-12 * float(jnp.abs(f @ g.T).max()))
        np.testing.assert_allclose(f2.T @ f2, scale**2 * jnp.eye(K), atol=1e-12)


def test_imbalance_drift_is_first_order_in_step_size(x64, asym):
    """D_t = F^T F - G^T G is conserved by gradient flow: GD moves it by O(eta)."""
    f0, g0 = factors(jax.random.key(8), 0.2)
    d0 = f0.T @ f0 - g0.T @ g0
    horizon = 20.0  # same "time" eta * steps for both step sizes

    def drift(eta):
        f, g = sensing.asymmetric_gd(asym, f0, g0, eta, int(horizon / eta)).factors
        return float(jnp.linalg.norm(f.T @ f - g.T @ g - d0))

    coarse, fine = drift(0.1), drift(0.05)
    assert 1.6 < coarse / fine < 2.4
    assert fine < 0.05 * float(jnp.linalg.norm(d0))


def test_exact_parameterization_converges_linearly(x64, sym, asym):
    x0 = sensing.small_init(jax.random.key(9), N, R, 0.1)
    errors = sensing.symmetric_gd(sym, x0, 0.5, 600).errors
    assert errors[-1] < 1e-12
    window = np.log(np.asarray(errors[100:180]))
    fit = np.polyfit(np.arange(80), window, 1, full=True)
    residual = fit[1][0] / np.sum((window - window.mean()) ** 2)
    assert fit[0][0] < 0 and residual < 0.01  # straight line on a semilog plot: R^2 > 0.99
    errors = sensing.asymmetric_gd(asym, *factors(jax.random.key(9), 0.1, R), 0.5, 1500).errors
    assert errors[-1] < 1e-12


def test_symmetric_overparameterized_is_sublinear(x64, sym):
    x0 = sensing.small_init(jax.random.key(10), N, K, 0.3)
    errors = np.asarray(sensing.symmetric_gd(sym, x0, 0.5, 4000).errors)
    slope = sensing.loglog_slope(errors)
    assert -2.3 < slope < -1.6
    # t^2 * error^2 levels off (the 1/T^2 law): it changes by < 25% over the last half.
    t = np.array([2000, 4000])
    level = t**2 * errors[t] ** 2
    assert abs(level[1] / level[0] - 1) < 0.25


def test_asymmetric_rate_scales_like_alpha_squared(x64, asym):
    """Asymmetric over-parameterized GD converges linearly at a rate proportional to
    alpha^2 (Xiong, Ding & Du 2024); after the one-step rebalancing the rate no longer
    depends on alpha.

    Each seed scales one initial direction by every alpha, so the exponent of a seed is
    the least-squares slope of ln|rate| against ln(alpha) over the grid; every rate is
    fitted on one error band (1e-3 to 1e-6), which every curve crosses within the run.
    Measured here: median exponent 2.07 (per seed 1.85 to 2.42); over six problem draws
    the median ranged from 1.97 to 2.20. So |p - 2| < 0.3, which exponent 1 or 3 fails.
    One-step: exponent -0.08 here, -0.05 to -0.08 over four draws.
    """
    alphas = np.array([0.6, 0.45, 0.3])
    band = (1e-3, 1e-6)
    keys = jax.random.split(jax.random.key(11), 8)

    def errors(key, alpha, tol):
        return sensing.asymmetric_gd(
            asym, *factors(key, alpha), 0.5, 3000, rebalance_tol=tol
        ).errors

    # Plain (tolerance 0 never rebalances) and one-step runs: one program, (2, alphas, seeds).
    grid = jax.vmap(jax.vmap(jax.vmap(errors, (0, None, None)), (None, 0, None)), (None, None, 0))
    curves = np.asarray(jax.jit(grid)(keys, jnp.asarray(alphas), jnp.array([0.0, 1e-2])))
    assert np.all(curves.min(axis=-1) <= band[1])  # every curve crosses the band
    rates = np.abs(np.apply_along_axis(sensing.convergence_rate, -1, curves, *band))
    assert np.all(np.isfinite(rates))
    plain, onestep = np.log(rates)
    exponents = np.polyfit(np.log(alphas), plain, 1)[0]  # one per seed
    assert abs(np.median(exponents) - 2) < 0.3, exponents
    onestep_exponent = np.polyfit(np.log(alphas), np.median(onestep, axis=1), 1)[0]
    assert abs(onestep_exponent) < 0.3, onestep_exponent
    # and much faster than plain GD at the smallest alpha.
    assert np.median(onestep[-1]) > np.log(3) + np.median(plain[-1])


def test_preconditioned_methods_converge_fast(x64, asym):
    f0, g0 = factors(jax.random.key(12), 0.05)
    for method in (sensing.scaled_gd, sensing.prec_gd):
        errors = method(asym, f0, g0, 0.5, 1500).errors
        assert errors[-1] < 1e-10, method.__name__
    # Undamped ScaledGD on over-parameterized factors: G^T G is singular, and only the
    # floor on the damping (the resolution of G^T G) keeps the solve finite.
    errors = sensing.scaled_gd(asym, f0, g0, 0.5, 1500, damping=0.0).errors
    assert errors[-1] < 1e-10


def test_float32_runs_reach_float32_precision():
    """Without x64 every method stays in float32 and converges to float32's error floor
    (measured 5e-8 to 1e-7; the bound is 10 eps = 1.2e-6). ScaledGD(1e-8) on
    over-parameterized factors needs the damping floor: without it, it turns to NaN near
    error 1e-6, symmetric or not (and PrecGD did on two of fifteen problems tried)."""

    @jax.jit  # one program: problems, initializations and the four runs
    def float32_runs():
        sym32 = sensing.symmetric_problem(jax.random.key(0), N, R, M, 2.0)
        asym32 = sensing.asymmetric_problem(jax.random.key(1), N, N, R, M, 2.0)
        x_exact = sensing.small_init(jax.random.key(9), N, R, 0.1)
        x_over = sensing.small_init(jax.random.key(10), N, K, 0.3)
        return {
            "symmetric exact": sensing.symmetric_gd(sym32, x_exact, 0.5, 600),
            # plain asymmetric GD, then the rebalancing step (an eigendecomposition)
            "one-step": sensing.asymmetric_gd(
                asym32, *factors(jax.random.key(9), 0.3), 0.5, 1500, rebalance_tol=1e-2
            ),
            "scaledgd": sensing.scaled_gd(asym32, *factors(jax.random.key(12), 0.05), 0.5, 1500),
            "symmetric scaledgd": sensing.preconditioned_symmetric_gd(
                sym32, x_over, 0.5, 1500, damping=1e-8
            ),
        }

    runs = float32_runs()
    eps = float(jnp.finfo(jnp.float32).eps)
    for name, run in runs.items():
        errors = np.asarray(run.errors)
        assert errors.dtype == np.float32 and run.factors[0].dtype == jnp.float32, name
        assert np.all(np.isfinite(errors)), name
        assert errors[-1] < 10 * eps, (name, errors[-1])


def test_subgradient_method_is_robust_to_outliers(x64):
    clean = sensing.symmetric_problem(jax.random.key(13), N, R, 800, 2.0)
    corrupted = sensing.add_outliers(clean, jax.random.key(14), 0.2)
    u0 = sensing.small_init(jax.random.key(15), N, 2 * R, 1e-3)
    l1 = sensing.subgradient_method(corrupted, u0, 0.3, 0.995, 2000).errors
    l2 = sensing.symmetric_gd(corrupted, u0, 0.5, 2000).errors
    assert l1[-1] < 1e-3
    assert l2[-1] > 100 * l1[-1]
    # Error decreases over windows (sub-gradient steps are not monotone step to step).
    windows = np.asarray(l1[201:]).reshape(-1, 200).mean(axis=1)
    assert np.all(np.diff(windows) < 0)


def test_jit_vmap_grad(x64, asym):
    f0, g0 = factors(jax.random.key(16), 0.3)

    def final_error(step_size):
        return sensing.asymmetric_gd(asym, f0, g0, step_size, 50).errors[-1]

    jitted = jax.jit(final_error)
    np.testing.assert_allclose(jitted(0.3), final_error(0.3), rtol=1e-12)
    batched = jax.vmap(final_error)(jnp.array([0.2, 0.3]))
    np.testing.assert_allclose(batched[1], final_error(0.3), rtol=1e-10)
    h = 1e-6
    fd = (final_error(0.3 + h) - final_error(0.3 - h)) / (2 * h)
    np.testing.assert_allclose(jax.grad(final_error)(0.3), fd, rtol=1e-5)


def test_no_recompilation_on_second_call(x64, asym):
    traces = []

    @jax.jit
    def run(f0, g0, step_size):
        traces.append(1)
        return sensing.asymmetric_gd(asym, f0, g0, step_size, 20).errors

    f0, g0 = factors(jax.random.key(17), 0.3)
    run(f0, g0, 0.3)
    run(f0 * 2, g0, 0.4)  # new values, same shapes: no retrace
    assert len(traces) == 1


@pytest.mark.parametrize(
    "call, field",
    [
        (lambda s, a: sensing.symmetric_gd(s, jnp.ones((N + 1, K)), 0.1, 5), "x0"),
        (
            lambda s, a: sensing.asymmetric_gd(a, jnp.ones((N, K)), jnp.ones((N, K + 1)), 0.1, 5),
            "g0",
        ),
        (lambda s, a: sensing.scaled_gd(a, jnp.ones((N - 1, K)), jnp.ones((N, K)), 0.1, 5), "f0"),
        (lambda s, a: sensing.symmetric_gd(a, jnp.ones((N, K)), 0.1, 5), "problem"),
        (lambda s, a: sensing.symmetric_gd(s, jnp.ones((N, K)), 0.1, -1), "steps"),
        (lambda s, a: sensing.symmetric_gd(s, jnp.ones((N, K)), 0.1, 0), "steps"),
    ],
)
def test_bad_inputs_name_the_argument(x64, sym, asym, call, field, as_user):
    with pytest.raises(ConfigError, match=f"^{field}: .*, got ") as info:
        call(sym, asym)
    assert "\n" not in str(info.value)
