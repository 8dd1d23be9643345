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
