r"""The paper's benchmark problems, posed with the public [`Problem`][jaxlab.pig.Problem]
API (exact definitions in the module docs)."""

import functools
import math

import jax.numpy as jnp
import numpy as np

from .._experiment import require, require_integer
from ._problem import Box, Periodic, Problem, dirichlet, initial
from ._solvers import allen_cahn_etdrk4, diffusion_initial, diffusion_mol


def helmholtz(
    a1: float = 4.0,
    a2: float = 1.0,
    k: float = 1.0,
    boundary_points: int = 2500,
    boundary_weight: float = 1.0,
) -> Problem:
    r"""2-D Helmholtz $u_{xx} + u_{yy} + k^2 u = q$ on $[-1, 1]^2$ with the exact solution
    $u = \sin(a_1 \pi y) \sin(a_2 \pi x)$, $q = (k^2 - (a_1\pi)^2 - (a_2\pi)^2)\,u$, and
    $u = 0$ on the boundary (the exact solution's values)."""

    def exact(p):
        return jnp.sin(a1 * math.pi * p[1]) * jnp.sin(a2 * math.pi * p[0])

    factor = k**2 - (a1 * math.pi) ** 2 - (a2 * math.pi) ** 2

    def residual(p, u):
        return u["xx"] + u["yy"] + k**2 * u.value - factor * exact(p)

    box = Box("xy", (-1.0, -1.0), (1.0, 1.0))
    bc = dirichlet(exact, points=boundary_points, weight=boundary_weight)
    return Problem(box, residual, (bc,), exact=exact, name=f"helmholtz({a1:g},{a2:g})")


def klein_gordon(k: float = 2.0, points: int = 256, ic_weight=1.0, bc_weight=1.0) -> Problem:
    r"""(2+1)-D Klein-Gordon $u_{tt} - (u_{xx} + u_{yy}) + u^2 = f$ on $t \in [0, 10]$,
    $x, y \in [-1, 1]$, exact $u = (x + y)\cos kt + xy \sin kt$, $f = u^2 - k^2 u$ (both
    $x + y$ and $xy$ are harmonic); initial and boundary values from the exact solution
    (the initial velocity is not imposed)."""

    def exact(p):
        t, x, y = p
        return (x + y) * jnp.cos(k * t) + x * y * jnp.sin(k * t)

    def residual(p, u):
        e = exact(p)
        return u["tt"] - u["xx"] - u["yy"] + u.value**2 - (e**2 - k**2 * e)

    box = Box("txy", (0.0, -1.0, -1.0), (10.0, 1.0, 1.0), time="t")
    conditions = (
        initial(exact, points=points, weight=ic_weight),
        dirichlet(exact, points=points, weight=bc_weight),
    )
    return Problem(box, residual, conditions, exact=exact, name="klein_gordon")


def flow_mixing(points: int = 900, v_max: float = 0.385) -> Problem:
    r"""(2+1)-D flow mixing $u_t + a u_x + b u_y = 0$ on $t \in [0, 4]$, $x, y \in [-4, 4]$:
    with $r = \sqrt{x^2 + y^2}$, $v_t = \mathrm{sech}^2(r)\tanh(r)$,
    $a = -\frac{v_t}{v_\max}\frac{y}{r}$, $b = \frac{v_t}{v_\max}\frac{x}{r}$,
    $\omega = \frac{v_t}{r v_\max}$; exact $u = -\tanh(\frac y2 \cos\omega t -
    \frac x2 \sin \omega t)$, initial and boundary values from it."""

    def rotation(x, y):
        r = jnp.sqrt(x**2 + y**2 + 1e-12)
        vt = jnp.tanh(r) / jnp.cosh(r) ** 2
        return vt / (r * v_max)  # omega; a = -omega * y, b = omega * x

    def exact(p):
        t, x, y = p
        w = rotation(x, y)
        return -jnp.tanh(y / 2 * jnp.cos(w * t) - x / 2 * jnp.sin(w * t))

    def residual(p, u):
        _, x, y = p
        w = rotation(x, y)
        return u["t"] - w * y * u["x"] + w * x * u["y"]

    box = Box("txy", (0.0, -4.0, -4.0), (4.0, 4.0, 4.0), time="t")
    conditions = (initial(exact, points=points), dirichlet(exact, points=points))
    return Problem(box, residual, conditions, exact=exact, name="flow_mixing")


@functools.lru_cache(maxsize=4)
def _diffusion_reference(alpha: float, n: int, times: int, solver_grid: int):
    grid, u = diffusion_mol(alpha, solver_grid, tuple(np.linspace(0, 1, times)))
    stride = (solver_grid - 1) // (n - 1)
    return (np.linspace(0, 1, times), grid[::stride], grid[::stride]), u[:, ::stride, ::stride]


def nonlinear_diffusion(
    alpha: float = 0.05,
    points: int = 256,
    reference_grid: int = 101,
    reference_times: int = 101,
    solver_grid: int = 201,
) -> Problem:
    r"""(2+1)-D nonlinear diffusion $u_t = \alpha(u_x^2 + u u_{xx} + u_y^2 + u u_{yy})$ on
    $t \in [0, 1]$, $x, y \in [-1, 1]$, three Gaussian bumps initially, $u = 0$ on the
    boundary. The reference is [`diffusion_mol`][jaxlab.pig.diffusion_mol] on a
    `solver_grid`$^2$ grid, restricted to a `reference_grid`$^2$ subgrid at
    `reference_times` times: the test set (the paper's is $101^3$). At the defaults its
    relative $L^2$ error is about $1.2 \times 10^{-4}$ (second order in space: a third
    of the $3.7 \times 10^{-4}$ between the 101 and 201 grids at $t = 1$)."""
    require(alpha > 0, "alpha", "a positive number", alpha)
    require_integer(reference_grid, "reference_grid", 2)
    require_integer(reference_times, "reference_times", 2)
    require_integer(solver_grid, "solver_grid", 2)
    require(
        (solver_grid - 1) % (reference_grid - 1) == 0,
        "solver_grid",
        f"an integer with solver_grid - 1 a multiple of reference_grid - 1 = {reference_grid - 1}",
        solver_grid,
    )

    def residual(p, u):
        lap = u["x"] ** 2 + u.value * u["xx"] + u["y"] ** 2 + u.value * u["yy"]
        return u["t"] - alpha * lap

    box = Box("txy", (0.0, -1.0, -1.0), (1.0, 1.0, 1.0), time="t")
    conditions = (
        initial(lambda p: diffusion_initial(p[1], p[2]), points=points),
        dirichlet(lambda p: jnp.zeros(()), points=points),
    )
    return Problem(
        box,
        residual,
        conditions,
        reference=lambda: _diffusion_reference(alpha, reference_grid, reference_times, solver_grid),
        name="nonlinear_diffusion",
    )


@functools.lru_cache(maxsize=4)
def _allen_cahn_reference(epsilon: float):
    t, x, u = allen_cahn_etdrk4(epsilon, 512, 1e-4, 1.0, 201)
    # jaxpi's grid includes x = 1 (periodic copy of x = -1).
    return (t, np.append(x, 1.0)), np.concatenate([u, u[:, :1]], axis=1)


def allen_cahn(epsilon: float = 1e-4, points: int = 256, ic_weight: float = 1.0) -> Problem:
    r"""1-D Allen-Cahn $u_t - \varepsilon u_{xx} + 5u^3 - 5u = 0$ on $t \in [0, 1]$,
    $x \in [-1, 1]$ (jaxpi's setting, $\varepsilon = 10^{-4}$), $u(0, x) = x^2\cos\pi x$,
    periodic in $x$ ($u$ and $u_x$). The reference is
    [`allen_cahn_etdrk4`][jaxlab.pig.allen_cahn_etdrk4] (512 modes, $\Delta t = 10^{-4}$)
    on jaxpi's 201 x 512 grid."""
    require(epsilon > 0, "epsilon", "a positive number", epsilon)

    def residual(p, u):
        return u["t"] - epsilon * u["xx"] + 5 * u.value**3 - 5 * u.value

    box = Box("tx", (0.0, -1.0), (1.0, 1.0), time="t")
    conditions = (
        initial(lambda p: p[1] ** 2 * jnp.cos(math.pi * p[1]), points=points, weight=ic_weight),
        Periodic("x", points=points),
    )
    return Problem(
        box,
        residual,
        conditions,
        reference=lambda: _allen_cahn_reference(epsilon),
        name="allen_cahn",
    )


PROBLEMS = {
    "helmholtz": helmholtz,
    "klein_gordon": klein_gordon,
    "flow_mixing": flow_mixing,
    "nonlinear_diffusion": nonlinear_diffusion,
    "allen_cahn": allen_cahn,
}


def problem(name: str, **kwargs) -> Problem:
    """A benchmark problem by name (`"helmholtz"`, `"klein_gordon"`, `"flow_mixing"`,
    `"nonlinear_diffusion"`, `"allen_cahn"`), with its keyword arguments."""
    require(name in PROBLEMS, "pde", f"one of {', '.join(PROBLEMS)}", name)
    return PROBLEMS[name](**kwargs)
