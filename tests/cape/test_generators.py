"""The finite-volume generators against exact solutions and the scheme's invariants."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab import ConfigError, cape


def sine_averages(nx, shift=0.0):
    """Exact cell averages of sin(2 pi (x - shift))."""
    x = np.arange(nx + 1) / nx
    edges = np.cos(2 * np.pi * (x - shift))
    return ((edges[:-1] - edges[1:]) / (2 * np.pi / nx)).astype(np.float32)


def test_advection_matches_the_exact_shift_with_second_order_convergence():
    errors = []
    for nx in (64, 128, 256):
        u = cape.solve_advection(jnp.asarray(sine_averages(nx)), 0.4, t_end=1.0, dt_save=0.25)
        assert u.shape == (5, nx)
        errors.append(np.mean(np.abs(np.asarray(u[-1]) - sine_averages(nx, 0.4))))
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert errors[-1] < 3e-4, errors
    assert np.all(orders > 1.8), orders


def test_advection_of_a_random_condition_is_a_shift_and_conserves_the_mean():
    nx = 256
    u0 = cape.initial_condition(jax.random.key(3), nx)
    # beta * t = 0.5: exactly half the domain, i.e. a roll by nx/2 cells.
    u = np.asarray(cape.solve_advection(u0, 2.0, t_end=0.25, dt_save=0.05))
    exact = np.roll(np.asarray(u0), nx // 2)
    assert np.sqrt(np.mean((u[-1] - exact) ** 2)) < 0.05 * np.sqrt(np.mean(exact**2)) + 1e-3
    scale = np.max(np.abs(u0)) + 1
    np.testing.assert_allclose(u.mean(axis=1), float(np.mean(u0)), atol=2e-6 * scale)


@pytest.fixture(scope="module")
def burgers_batch():
    config = cape.BurgersData(nu=0.001, nx=256, t_end=0.5, dt_save=0.05)
    return np.asarray(cape.generate(config, jax.random.key(0), 6))


def test_burgers_conserves_the_mean_and_does_not_grow_total_variation(burgers_batch):
    u = burgers_batch
    assert np.all(np.isfinite(u))
    scale = np.max(np.abs(u[:, 0]), axis=1, keepdims=True) + 1
    assert np.all(np.abs(u.mean(axis=2) - u[:, :1].mean(axis=2)) < 2e-6 * scale)
    tv = np.sum(np.abs(np.diff(u, axis=2, append=u[:, :, :1])), axis=2)
    assert np.all(np.diff(tv, axis=1) <= 1e-4 * tv[:, :1]), np.diff(tv, axis=1).max()


def cole_hopf(x, t, kappa, fine=4096):
    """Burgers u_t + u u_x = kappa u_xx from u0 = sin(2 pi x), by Cole-Hopf with the
    heat equation solved spectrally on a fine periodic grid."""
    xf = np.arange(fine) / fine
    phi0 = np.exp((np.cos(2 * np.pi * xf) - 1) / (4 * np.pi * kappa))
    k = np.fft.rfftfreq(fine, 1 / fine)
    phi_hat = np.fft.rfft(phi0) * np.exp(-kappa * (2 * np.pi * k) ** 2 * t)
    # Evaluate the Fourier series at x (exactly, not by interpolation).
    modes = np.exp(2j * np.pi * np.outer(x, k))
    weights = np.where((k == 0) | (k == fine // 2), 1.0, 2.0) / fine
    phi = np.real(modes @ (phi_hat * weights))
    phi_x = np.real(modes @ (2j * np.pi * k * phi_hat * weights))
    return -2 * kappa * phi_x / phi


def test_burgers_matches_cole_hopf():
    nu, t_end = 0.1, 0.3
    errors = []
    for nx in (128, 256):
        x = np.asarray(cape.cell_centres(nx), np.float64)
        u0 = jnp.asarray(np.sin(2 * np.pi * x), jnp.float32)
        u = np.asarray(cape.solve_burgers(u0, nu, t_end=t_end, dt_save=0.1))
        errors.append(np.max(np.abs(u[-1] - cole_hopf(x, t_end, nu / np.pi))))
    assert errors[1] < 5e-3 and errors[1] < errors[0] / 2.5, errors


def test_diffusion_reaction_without_diffusion_is_the_logistic_ode():
    u0 = cape.initial_condition(jax.random.key(1), 128, normalize=True)
    rho = 5.0
    u = np.asarray(cape.solve_diffusion_reaction(u0, 0.0, rho, t_end=1.0, dt_save=0.1))
    t = np.arange(11)[:, None] * 0.1
    u0 = np.asarray(u0, np.float64)
    exact = u0 * np.exp(rho * t) / (1 - u0 + u0 * np.exp(rho * t))
    np.testing.assert_allclose(u, exact, atol=2e-6)


def test_diffusion_reaction_stays_in_the_unit_interval_and_diffuses_like_the_heat_kernel():
    config = cape.DiffusionReactionData(nu=2.0, rho=10.0, nx=128, t_end=0.5, dt_save=0.1)
    u = np.asarray(cape.generate(config, jax.random.key(2), 4))
    assert u.min() >= 0.0 and u.max() <= 1.0
    # rho = 0: each Fourier mode decays like exp(-nu (2 pi k)^2 t), to O(dx^2).
    nx, nu = 128, 0.01
    x = np.asarray(cape.cell_centres(nx))
    u0 = jnp.asarray(0.5 + 0.25 * np.sin(2 * np.pi * 3 * x), jnp.float32)
    u = np.asarray(cape.solve_diffusion_reaction(u0, nu, 0.0, t_end=1.0, dt_save=0.5))
    exact = 0.5 + 0.25 * np.exp(-nu * (6 * np.pi) ** 2) * np.sin(6 * np.pi * x)
    np.testing.assert_allclose(u[-1], exact, atol=2e-4)


def test_initial_conditions_follow_pdebench_and_are_deterministic():
    keys = jax.random.split(jax.random.key(0), 64)
    draw = jax.jit(jax.vmap(lambda k: cape.initial_condition(k, 256)))
    u, again = draw(keys), draw(keys)
    np.testing.assert_array_equal(np.asarray(u), np.asarray(again))
    assert np.max(np.abs(u)) <= 4.0 and np.std(np.asarray(u)) > 0.1
    normalized = jax.jit(jax.vmap(lambda k: cape.initial_condition(k, 256, normalize=True)))(keys)
    np.testing.assert_allclose(normalized.min(axis=1), 0.0, atol=1e-6)
    np.testing.assert_allclose(normalized.max(axis=1), 1.0, atol=1e-6)


def test_generate_is_deterministic_and_compiles_once_per_pde():
    config = cape.AdvectionData(beta=0.7, nx=64, t_end=0.1, dt_save=0.05)
    a = cape.generate(config, jax.random.key(5), 5, batch_size=2)
    b = cape.generate(config, jax.random.key(5), 4, batch_size=2)
    assert a.shape == (5, 3, 64) and a.dtype == np.float32
    np.testing.assert_allclose(a[:4], b, atol=1e-6)
    solver = cape._generators._COMPILED[
        cape.AdvectionData(beta=1.0, nx=64, t_end=0.1, dt_save=0.05)
    ]
    size = solver._cache_size()
    cape.generate(
        cape.AdvectionData(beta=3.0, nx=64, t_end=0.1, dt_save=0.05),
        jax.random.key(6),
        2,
        batch_size=2,
    )
    assert solver._cache_size() == size  # a new beta is an argument, not a recompile


def test_solvers_survive_jit_vmap_and_grad():
    u0 = jnp.asarray(sine_averages(32))
    solve = lambda u, beta: cape.solve_advection(u, beta, t_end=0.05, dt_save=0.05)[-1]
    betas = jnp.array([0.2, 0.5, 1.0])
    batched = jax.jit(jax.vmap(solve, in_axes=(None, 0)))(u0, betas)
    np.testing.assert_allclose(batched[1], jax.jit(solve)(u0, 0.5), atol=1e-5)
    f = jax.jit(lambda u: jnp.sum(solve(u, 0.5) ** 2))
    grad = jax.jit(jax.grad(f))(u0)
    # The limited advection scheme is positively homogeneous of degree one in u, so
    # f(lambda u) = lambda^2 f(u) and the derivative along u is exactly 2 f(u).
    np.testing.assert_allclose(jnp.vdot(grad, u0), 2 * f(u0), rtol=1e-4)
    direction = jax.random.normal(jax.random.key(0), u0.shape)
    _, forward = jax.jit(lambda u, d: jax.jvp(f, (u,), (d,)))(u0, direction)
    np.testing.assert_allclose(jnp.vdot(grad, direction), forward, rtol=1e-4, atol=1e-6)
    heat = jax.jit(jax.grad(lambda u: jnp.sum(cape.heat_flow(u, 1e-3) ** 2)))(u0)
    assert np.all(np.isfinite(heat))


def test_downsample_strides_or_averages():
    u = np.arange(2 * 11 * 16, dtype=np.float32).reshape(2, 11, 16)
    s = cape.downsample(u, space=4, time=5)
    assert s.shape == (2, 3, 4)
    np.testing.assert_array_equal(s[0, 1], u[0, 5, ::4])
    m = cape.downsample(jnp.asarray(u), space=4, time=5, mode="mean")
    np.testing.assert_allclose(m[0, 1], u[0, 5].reshape(4, 4).mean(axis=1))


@pytest.mark.parametrize(
    "call, field",
    [
        (lambda: cape.solve_advection(jnp.zeros(64), 1.0, cfl=0.6), "cfl"),
        (lambda: cape.solve_burgers(jnp.zeros(64), 0.0), "nu"),
        (lambda: cape.solve_burgers(jnp.zeros(64), -1.0), "nu"),
        (lambda: cape.AdvectionData(nx=2), "nx"),
        (lambda: cape.BurgersData(cfl=1.0), "cfl"),
        (lambda: cape.DiffusionReactionData(nu=0.0), "nu"),
        (lambda: cape.AdvectionData(t_end=0.015), "t_end"),
        (lambda: cape.data_config("heat"), "PDE"),
        (lambda: cape.downsample(np.zeros((3, 10)), space=3), "space"),
    ],
)
def test_bad_input_is_a_one_line_error(call, field):
    with pytest.raises(ConfigError) as info:
        call()
    message = str(info.value)
    assert message.startswith(field) and "\n" not in message
