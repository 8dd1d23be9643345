r"""Reference solvers for the benchmark problems without a closed-form solution.

- [`diffusion_mol`][jaxlab.pig.diffusion_mol]: the nonlinear diffusion
  $u_t = \alpha \nabla\cdot(u \nabla u) = \tfrac{\alpha}{2}\Delta(u^2)$ on
  $[-1,1]^2$ with $u = 0$ on the boundary, by the method of lines: the five-point
  Laplacian of $u^2$ on a uniform grid (second order in space, conservative), integrated
  in time by diffrax (Tsit5, adaptive steps, tight tolerances).
- [`allen_cahn_etdrk4`][jaxlab.pig.allen_cahn_etdrk4]: $u_t = \varepsilon u_{xx} + 5u
  - 5u^3$, periodic on $[-1, 1)$, by a Fourier pseudo-spectral discretization in space
  and the exponential time differencing Runge-Kutta scheme of order four (ETDRK4; Cox &
  Matthews 2002) with the coefficients evaluated by contour integrals (Kassam &
  Trefethen 2005). The stiff linear part $\hat L_j = 5 - \varepsilon k_j^2$ is
  integrated exactly; the error is fourth order in the time step.

Both run on the host, outside any trace, in float64 (inside `jax.enable_x64`), and return
NumPy arrays.
"""

import functools
from collections.abc import Callable

import diffrax
import jax
import jax.numpy as jnp
import numpy as np

from .._experiment import require, require_integer


def diffusion_initial(x, y):
    """$u_0(x, y)$ of the nonlinear diffusion benchmark (works on NumPy or JAX arrays)."""
    xp = jnp if isinstance(x, jax.Array) else np
    return (
        0.25 * xp.exp(-((x - 0.3) ** 2 + (y - 0.2) ** 2) / 0.1)
        + 0.4 * xp.exp(-15 * ((x + 0.5) ** 2 + (y + 0.1) ** 2))
        + 0.3 * xp.exp(-20 * (x**2 + (y + 0.5) ** 2))
    )


@functools.lru_cache(maxsize=8)
def diffusion_mol(
    alpha: float = 0.05,
    n: int = 101,
    times: tuple[float, ...] = tuple(np.linspace(0, 1, 101)),
    rtol: float = 1e-9,
    atol: float = 1e-11,
) -> tuple[np.ndarray, np.ndarray]:
    """Solve the nonlinear diffusion on an `n` x `n` grid of $[-1, 1]^2$ (boundary
    included, held at 0) and return `(grid, u)` with `u` of shape `(len(times), n, n)`,
    `u[i, j, k]` at `(times[i], grid[j], grid[k])` ($x$ on axis 1, $y$ on axis 2)."""
    require_integer(n, "n", 5)
    require(alpha > 0, "alpha", "a positive number", alpha)
    grid = np.linspace(-1, 1, n)
    h = grid[1] - grid[0]
    x, y = np.meshgrid(grid, grid, indexing="ij")
    u0 = diffusion_initial(x, y)
    u0[[0, -1], :] = 0
    u0[:, [0, -1]] = 0
    with jax.enable_x64(True):

        def field(t, u, args):
            w = jnp.pad(u**2, 1)  # zero boundary values around the interior
            lap = (w[2:, 1:-1] + w[:-2, 1:-1] + w[1:-1, 2:] + w[1:-1, :-2] - 4 * u**2) / h**2
            return 0.5 * alpha * lap

        sol = diffrax.diffeqsolve(
            diffrax.ODETerm(field),
            diffrax.Tsit5(),
            t0=float(times[0]),
            t1=float(times[-1]),
            dt0=1e-4,
            y0=jnp.asarray(u0[1:-1, 1:-1]),
            saveat=diffrax.SaveAt(ts=jnp.asarray(times, dtype=jnp.float64)),
            stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
            max_steps=1_000_000,
        )
        inner = np.asarray(sol.ys)
    u = np.zeros((len(times), n, n))
    u[:, 1:-1, 1:-1] = inner
    return grid, u


def _etdrk4_coefficients(lin, h, contour=32):
    r = np.exp(1j * np.pi * (np.arange(1, contour + 1) - 0.5) / contour)
    lr = h * lin[:, None] + r[None, :]
    q = h * np.real(np.mean((np.exp(lr / 2) - 1) / lr, axis=1))
    f1 = h * np.real(np.mean((-4 - lr + np.exp(lr) * (4 - 3 * lr + lr**2)) / lr**3, axis=1))
    f2 = h * np.real(np.mean((2 + lr + np.exp(lr) * (-2 + lr)) / lr**3, axis=1))
    f3 = h * np.real(np.mean((-4 - 3 * lr - lr**2 + np.exp(lr) * (4 - lr)) / lr**3, axis=1))
    return np.exp(h * lin), np.exp(h * lin / 2), q, f1, f2, f3


@functools.lru_cache(maxsize=8)
def allen_cahn_etdrk4(
    epsilon: float = 1e-4,
    modes: int = 512,
    dt: float = 1e-4,
    t_end: float = 1.0,
    saves: int = 201,
    initial: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Solve $u_t = \\varepsilon u_{xx} + 5u - 5u^3$, $u(0, x) = x^2 \\cos \\pi x$,
    periodic on $[-1, 1)$ (or from `initial(x)`), with `modes` Fourier modes and ETDRK4
    steps of `dt`.

    **Returns:** `(t, x, u)`: `saves` times in $[0, t_\\text{end}]$, the `modes` grid
    points of $[-1, 1)$, and `u` of shape `(saves, modes)`."""
    require_integer(modes, "modes", 8)
    steps = round(t_end / dt)
    require(abs(steps * dt - t_end) < 1e-9 * t_end, "dt", "a divisor of t_end", dt)
    every = (steps // (saves - 1)) if saves > 1 else steps
    require(every * (saves - 1) == steps, "saves", "a count dividing the steps", saves)
    x = -1 + 2 * np.arange(modes) / modes
    k = np.pi * np.fft.fftfreq(modes, d=1 / modes)  # wavenumbers for period 2
    lin = 5 - epsilon * k**2
    with jax.enable_x64(True):
        e, e2, q, f1, f2, f3 = (jnp.asarray(c) for c in _etdrk4_coefficients(lin, dt))

        def nonlinear(v):
            u = jnp.fft.ifft(v).real
            return -5 * jnp.fft.fft(u**3)

        def step(v, _):
            nv = nonlinear(v)
            a = e2 * v + q * nv
            na = nonlinear(a)
            b = e2 * v + q * na
            nb = nonlinear(b)
            c = e2 * a + q * (2 * nb - nv)
            nc = nonlinear(c)
            return e * v + nv * f1 + 2 * (na + nb) * f2 + nc * f3, None

        def block(v, _):
            v, _ = jax.lax.scan(step, v, None, length=every)
            return v, jnp.fft.ifft(v).real

        u0 = x**2 * np.cos(np.pi * x) if initial is None else np.asarray(initial(x), float)
        require(u0.shape == x.shape, "initial", f"values of shape {x.shape}", u0.shape)
        v0 = jnp.fft.fft(jnp.asarray(u0))
        _, us = jax.jit(lambda v: jax.lax.scan(block, v, None, length=saves - 1))(v0)
        u = np.concatenate([np.asarray(jnp.fft.ifft(v0).real)[None], np.asarray(us)])
    return np.linspace(0, t_end, saves), x, u
