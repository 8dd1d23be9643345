"""The reference solvers converge at their order, and agree with references of their own:
a closed form, and the residual of the PDE by finite differences independent of the
solvers' discretizations."""

import functools

import numpy as np
import pytest

from jaxlab import ConfigError, pig


def test_diffusion_method_of_lines_is_second_order_in_space():
    times = (0.0, 0.1)
    fine_grid, fine = pig.diffusion_mol(0.05, 161, times)
    errors = []
    for n in (21, 41, 81):  # every grid is a subgrid of the finest
        grid, u = pig.diffusion_mol(0.05, n, times)
        step = (len(fine_grid) - 1) // (n - 1)
        errors.append(np.abs(u[-1] - fine[-1, ::step, ::step]).max())
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(orders > 1.7), (errors, orders)
    # Mass decreases only through the boundary; the solution stays positive and bounded.
    assert fine[-1].min() > -1e-10 and fine[-1].max() <= fine[0].max()


def test_allen_cahn_etdrk4_is_fourth_order_in_time():
    t, x, reference = pig.allen_cahn_etdrk4(1e-2, 64, 1e-4, 0.2, 2)
    errors = []
    for dt in (0.02, 0.01, 0.005):
        _, _, u = pig.allen_cahn_etdrk4(1e-2, 64, dt, 0.2, 2)
        errors.append(np.abs(u[-1] - reference[-1]).max())
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(orders > 3.5), (errors, orders)
    assert np.allclose(reference[0], x**2 * np.cos(np.pi * x))


def test_allen_cahn_etdrk4_is_second_order_in_space():
    # x^2 cos(pi x) has a kink as a periodic function (u_x is -2 at x = 1, 2 at x = -1):
    # its grid interpolant, and so the solution, converges at second order in the modes.
    _, _, fine = pig.allen_cahn_etdrk4(0.1, 128, 1e-3, 0.2, 2)
    errors = []
    for modes in (16, 32, 64):
        _, _, u = pig.allen_cahn_etdrk4(0.1, modes, 1e-3, 0.2, 2)
        errors.append(np.abs(u[-1] - fine[-1, :: 128 // modes]).max())
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(orders > 1.8), (errors, orders)


def test_diffusion_reference_is_the_solver_on_a_subgrid():
    problem = pig.nonlinear_diffusion(reference_grid=6, reference_times=3, solver_grid=21)
    points, values, shape = problem.test_set(0)
    grid, u = pig.diffusion_mol(0.05, 21, (0.0, 0.5, 1.0))
    assert shape == (3, 6, 6)
    np.testing.assert_allclose(points[:, 1].reshape(shape)[0, :, 0], grid[::4], atol=1e-7)
    np.testing.assert_allclose(values.reshape(shape), u[:, ::4, ::4], rtol=1e-6, atol=1e-7)


# Independent checks, from the maths: finite differences of the saved frames in time and
# of the grid values in space, none of them the solvers' own discretization.


def _d_dt(u, step):
    """Fourth-order centred time derivative of frames `u[i]` spaced `step` apart (frames
    2 to -3)."""
    return (u[:-4] - 8 * u[1:-3] + 8 * u[3:-1] - u[4:]) / (12 * step)


def _d_dt_second_order(u, step):
    """Second-order centred time derivative (frames 1 to -2)."""
    return (u[2:] - u[:-2]) / (2 * step)


def _d_xx_periodic(u, h):
    """Fourth-order periodic finite-difference second derivative along the last axis."""
    shift = lambda k: np.roll(u, k, axis=-1)
    return (-shift(2) + 16 * shift(1) - 30 * u + 16 * shift(-1) - shift(-2)) / (12 * h**2)


def _laplacian_interior(w, h):
    """Fourth-order 9-point (cross) Laplacian over the last two axes, on the points at
    least two away from the edges (the result is 4 shorter along each)."""
    c = w[..., 2:-2, 2:-2]
    wxx = -w[..., 4:, 2:-2] + 16 * w[..., 3:-1, 2:-2] - 30 * c + 16 * w[..., 1:-3, 2:-2]
    wyy = -w[..., 2:-2, 4:] + 16 * w[..., 2:-2, 3:-1] - 30 * c + 16 * w[..., 2:-2, 1:-3]
    wxx, wyy = wxx - w[..., :-4, 2:-2], wyy - w[..., 2:-2, :-4]
    return (wxx + wyy) / (12 * h**2)


@functools.cache
def _constant(value):
    """`x -> value` everywhere, one function per value (the solver's cache key)."""
    return lambda x: np.full_like(x, value)


def test_allen_cahn_etdrk4_uniform_state_follows_the_closed_form():
    # A spatially uniform u0 stays uniform and solves u' = 5u(1 - u^2): v = u^2 is
    # logistic, v' = 10 v (1 - v), so u(t)^2 = u0^2 e^{10t} / (1 - u0^2 + u0^2 e^{10t}),
    # with the sign of u0. It covers growth from near 0 (0.1), the approach to -1 and to
    # 1 from below, and decay from above (1.3); 9 modes.
    errors = {}
    for dt in (1e-3, 5e-4):
        errors[dt] = []
        for u0 in (0.1, -0.5, 0.9, 1.3):
            t, x, u = pig.allen_cahn_etdrk4(1e-2, 9, dt, 1.0, 101, initial=_constant(u0))
            assert u.dtype == np.float64
            np.testing.assert_allclose(u[0], u0, rtol=1e-15, atol=0)
            assert np.ptp(u, axis=1).max() < 1e-12  # stays uniform (measured 9e-16)
            growth = u0**2 * np.exp(10 * t)
            exact = np.sign(u0) * np.sqrt(growth / (1 - u0**2 + growth))
            errors[dt].append(np.abs(u - exact[:, None]).max())
    # Max over the 101 output times in [0, 1], measured at dt = 1e-3: 1.9e-11, 1.9e-11,
    # 9.9e-12, 1.1e-10 (u0 = 1.3: the largest |5u - 5u^3|); at dt = 5e-4: 1.1e-12, 1.1e-12,
    # 6.0e-13, 7.0e-12.
    assert max(errors[1e-3]) < 4e-10, errors
    assert max(errors[5e-4]) < 3e-11, errors
    # Fourth order in dt against the exact solution: measured orders 4.01 to 4.05.
    orders = np.log2(np.array(errors[1e-3]) / np.array(errors[5e-4]))
    assert np.all(orders > 3.7), (errors, orders)


def test_allen_cahn_etdrk4_solves_the_pde_by_finite_differences():
    # The residual u_t - eps u_xx - 5u + 5u^3 of the reference (the benchmark's initial
    # condition x^2 cos(pi x)) by finite differences that are not the solver's Fourier
    # derivatives: u_t from the saved frames, u_xx by the fourth-order periodic stencil.
    # eps = 1e-2 keeps the interfaces (width ~ sqrt(eps / 5) = 0.045) resolved by the
    # stencil; frames from t = 0.1, after diffusion has smoothed the initial condition's
    # kink at x = +-1. The residual is then the check's own truncation error, and shrinks
    # at the check's order as its steps halve.
    epsilon = 1e-2
    t, x, u = pig.allen_cahn_etdrk4(epsilon, 512, 1e-3, 1.0, 201)
    assert u.dtype == np.float64
    late = t >= 0.1 - 1e-12

    def residual(frames, space, eps=epsilon, rate=5.0, second_order=False):
        """max |residual| on the grid points common to all the checks (every 4th), at
        the frames from t = 0.1, with every `frames`-th frame and `space`-th point."""
        v = u[::frames, ::space]
        step, h = t[frames] - t[0], 2 / v.shape[1]
        if second_order:
            ut, mid, times = _d_dt_second_order(v, step), v[1:-1], t[::frames][1:-1]
        else:
            ut, mid, times = _d_dt(v, step), v[2:-2], t[::frames][2:-2]
        r = ut - eps * _d_xx_periodic(mid, h) - rate * mid + rate * mid**3
        r = r[times >= 0.1 - 1e-12][:, :: 4 // space]
        return np.abs(r).max()

    uxx = _d_xx_periodic(u, 2 / 512)
    size = max(np.abs(epsilon * uxx[late]).max(), np.abs(5 * u[late] - 5 * u[late] ** 3).max())
    # Space: h = 2/128, 2/256, 2/512 (time: fourth order, frames 0.005 apart). Measured
    # 3.5e-3, 2.4e-4, 1.5e-5 (size 1.92, the largest |5u - 5u^3|: 7.9e-6 of it), ratios
    # 14.6 and 15.6.
    space = np.array([residual(1, s) for s in (4, 2, 1)])
    assert space[-1] < 5e-5 * size, (space, size)
    assert np.all(space[:-1] / space[1:] > 12), space
    # Time: the second-order centred difference over 0.01 and 0.005 (h = 2/512). Measured
    # 1.60e-3 and 4.00e-4: ratio 4.00.
    time = np.array([residual(k, 1, second_order=True) for k in (2, 1)])
    assert 3.6 < time[0] / time[1] < 4.4, time
    # A different equation leaves a residual of the size of the term changed: eps doubled
    # 1.72 (1.1e5 times the residual), the reaction 4u - 4u^3 for 5u - 5u^3 0.38 (2.5e4).
    assert residual(1, 1, eps=2 * epsilon) > 1e4 * space[-1]
    assert residual(1, 1, rate=4.0) > 1e4 * space[-1]


def test_diffusion_method_of_lines_solves_the_pde_by_finite_differences():
    # The residual u_t - (alpha/2) Laplacian(u^2) of the method-of-lines solution, with
    # u_t from the frames (fourth order, 0.01 apart) and the Laplacian by the fourth-order
    # 9-point stencil (not the solver's 5-point one), on the points of the 41 grid with
    # |x|, |y| <= 0.8: away from the boundary, where the initial condition jumps (it is
    # 0.01 at x = -1 before it is set to 0) and the layer is a grid cell thick. The
    # residual is the solver's own truncation error, (alpha/2)(h^2/12) ((u^2)_xxxx +
    # (u^2)_yyyy), so it shrinks 4 times per halving of h.
    alpha, times = 0.05, tuple(np.linspace(0, 0.5, 51))
    step = times[1] - times[0]
    residuals, wrong, sizes = [], [], []
    for n in (41, 81, 161):
        grid, u = pig.diffusion_mol(alpha, n, times)
        assert u.dtype == np.float64
        h, every = grid[1] - grid[0], (n - 1) // 40
        ut = _d_dt(u, step)[:, 2:-2, 2:-2]
        lap = _laplacian_interior(u[2:-2] ** 2, h)
        inner = grid[2:-2]
        keep = (np.abs(inner) <= 0.8 + 1e-12) & (np.arange(2, n - 2) % every == 0)
        keep = keep[:, None] & keep[None, :]
        residuals.append(np.abs((ut - 0.5 * alpha * lap)[:, keep]).max())
        wrong.append(np.abs((ut - alpha * lap)[:, keep]).max())
        sizes.append(np.abs(ut[:, keep]).max())

        # Mass: M = h^2 sum(u) changes only through the boundary, by the flux
        # (alpha/2) dn(u^2) ~ -(alpha/2) u^2 / h on each face between an interior point
        # and the zero boundary (the scheme is conservative: interior fluxes cancel).
        mass = h**2 * u.sum(axis=(1, 2))
        w = u**2
        faces = w[:, 1, 1:-1].sum(1) + w[:, -2, 1:-1].sum(1)
        faces = faces + w[:, 1:-1, 1].sum(1) + w[:, 1:-1, -2].sum(1)
        flux = -0.5 * alpha * faces
        # Measured |dM/dt - flux| up to 2.6e-13, 1.9e-13, 4.1e-11 against |flux| up to
        # 8.9e-5, 7.2e-5, 9.1e-5 (4.5e-7 of it on the 161 grid: the fast early boundary
        # layer in the time differences).
        balance = np.abs(_d_dt(mass, step) - flux[2:-2]).max()
        assert balance < 1e-5 * np.abs(flux).max(), (n, balance)
        assert np.all(np.diff(mass) < 0)  # u > 0 inside, 0 on the boundary: mass leaves
        assert u.min() > -1e-12 and u[-1].max() <= u[0].max()
    residuals, wrong, sizes = map(np.array, (residuals, wrong, sizes))
    # Measured 1.30e-2, 3.49e-3, 8.9e-4 (|u_t| up to 0.43: 2.1e-3 of it): ratios 3.73, 3.92.
    ratios = residuals[:-1] / residuals[1:]
    assert np.all((ratios > 3.4) & (ratios < 4.6)), (residuals, ratios)
    assert residuals[-1] < 4e-3 * sizes[-1], (residuals, sizes)
    # alpha doubled leaves a residual of the size of u_t: measured 0.44, 0.43, 0.43 (34,
    # 124, 481 times the residual).
    assert np.all(wrong > 20 * residuals) and wrong[-1] > 200 * residuals[-1], wrong


def test_allen_cahn_etdrk4_refuses_an_initial_condition_of_the_wrong_shape():
    with pytest.raises(ConfigError, match=r"^initial: values of shape \(9,\), got \(\)$"):
        pig.allen_cahn_etdrk4(1e-2, 9, 1e-3, 0.01, 2, initial=lambda x: 1.0)
