"""The reference solvers converge at their order."""

import numpy as np

from jaxlab import pig


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
