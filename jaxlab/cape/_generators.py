r"""Finite-volume generators of PDEBench's 1-D data sets, in JAX.

The grid is periodic, with $n_x$ cells of width $\Delta x = 1/n_x$ on $[0, 1]$ and cell
centres $x_i = (i + \tfrac12)\Delta x$. Each solver takes ONE initial condition; batches
come from `jax.vmap` outside (see [`generate`][jaxlab.cape.generate]).

**Reconstruction (MUSCL).** With $a_i = u_i - u_{i-1}$, $b_i = u_{i+1} - u_i$ and
$c_i = (a_i + b_i)/2$, the limited slope is the monotonized-central one,

$$s_i = \operatorname{sign}(c_i)\,[a_i b_i > 0]\,\min(2|a_i|, 2|b_i|, |c_i|),$$

and the states either side of face $i + \tfrac12$ are
$u^L = u_i + s_i/2$, $u^R = u_{i+1} - s_{i+1}/2$.

**Fluxes.** Advection $u_t + \beta u_x = 0$ takes the upwind flux
$F = \tfrac12\beta(u^L + u^R) - \tfrac12|\beta|(u^R - u^L)$; Burgers
$u_t + (u^2/2)_x = (\nu/\pi) u_{xx}$ the local Lax-Friedrichs flux
$F = \tfrac12(f^L + f^R) - \tfrac12\max(|u^L|, |u^R|)(u^R - u^L)$ with $f = u^2/2$.
The update is conservative: $\dot u_i = -(F_{i+1/2} - F_{i-1/2})/\Delta x$, so
$\sum_i u_i$ changes only by round-off.

**Time stepping.** Two-stage strong-stability-preserving Runge-Kutta (Heun):
$u^{(1)} = u + \Delta t\,L(u)$,
$u \leftarrow \tfrac12 u + \tfrac12(u^{(1)} + \Delta t\,L(u^{(1)}))$.
A forward-Euler step of the limited scheme is total-variation diminishing for
Courant number $\le \tfrac12$ (the MC slopes change the upwind difference by a factor in
$[0, 2]$), and SSP stages keep that; hence `cfl` in $(0, \tfrac12]$. Each save interval
$\Delta t_s$ is cut into $n = \lceil \Delta t_s\,v/(\mathrm{cfl}\,\Delta x)\rceil$ equal
steps ($v$ the largest wave speed at the start of the interval), so steps land exactly
on the save times.

**Diffusion and reaction, exactly.** The periodic grid makes the discrete Laplacian
$(\Delta_h u)_i = (u_{i+1} - 2u_i + u_{i-1})/\Delta x^2$ diagonal in Fourier space, with
eigenvalues $\lambda_k = -(4/\Delta x^2)\sin^2(\pi k/n_x)$. Its flow
$e^{t\kappa\Delta_h}$ is applied exactly by FFT: it keeps the mean ($\lambda_0 = 0$), is
a convolution with a positive kernel of unit sum (so it keeps $[0, 1]$ and does not
increase the total variation), and has no step-size limit. Burgers is Strang-split as
$D(\Delta t/2)\,A(\Delta t)\,D(\Delta t/2)$, so its steps are limited by advection
only. Diffusion-reaction $u_t = \nu u_{xx} + \rho u(1 - u)$ is split as
$R(\Delta t/2)\,D(\Delta t)\,R(\Delta t/2)$ with the exact logistic flow
$R(t)u = u / (u + (1 - u)e^{-\rho t})$; with $\nu = 0$ it reproduces the logistic ODE
exactly, whatever the step.

Departures from PDEBench, on purpose: Heun instead of the midpoint predictor-corrector
(so TVD holds), local Lax-Friedrichs instead of the Roe speed for Burgers (no
entropy-violating expansion shocks), exact Fourier diffusion instead of explicit
central differences (PDEBench's step shrinks like $\Delta x^2$), and initial conditions
exactly periodic on $[0, 1]$ (PDEBench's wavenumbers use length $1 - \Delta x$).
"""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from .._experiment import require, require_integer


# ----------------------------------------------------------------------------- grid


def cell_centres(nx: int) -> Float[Array, " nx"]:
    """Cell centres $x_i = (i + \\tfrac12)/n_x$ of the periodic grid on $[0, 1]$."""
    _check_nx(nx)
    return (jnp.arange(nx) + 0.5) / nx


def save_times(t_end: float, dt_save: float) -> Float[Array, " frames"]:
    """The saved times $0, \\Delta t_s, \\dots, t_\\mathrm{end}$."""
    return jnp.arange(_n_frames(t_end, dt_save)) * dt_save


def _check_nx(nx):
    require(isinstance(nx, int) and nx >= 4, "nx", "an integer >= 4 (number of cells)", nx)


def _check_cfl(cfl):
    require(0 < cfl <= 0.5, "cfl", "a number in (0, 0.5] (the scheme's TVD stability limit)", cfl)


def _n_frames(t_end, dt_save) -> int:
    require(dt_save > 0, "dt_save", "a positive number", dt_save)
    require(t_end > 0, "t_end", "a positive number", t_end)
    n = round(t_end / dt_save)
    require(
        n >= 1 and abs(n * dt_save - t_end) <= 1e-9 * max(1.0, t_end),
        "t_end",
        f"a whole multiple of dt_save={dt_save}",
        t_end,
    )
    return n + 1


# ------------------------------------------------------------------ building blocks


def limited_slopes(u: Float[ArrayLike, " nx"]) -> Float[Array, " nx"]:
    """Monotonized-central limited slopes $s_i$ of periodic cell values (module docs)."""
    b = jnp.roll(u, -1) - u
    a = jnp.roll(b, 1)
    c = 0.5 * (a + b)
    magnitude = jnp.minimum(2 * jnp.minimum(jnp.abs(a), jnp.abs(b)), jnp.abs(c))
    return jnp.where(a * b > 0, jnp.sign(c) * magnitude, 0.0)


def _face_states(u):
    s = limited_slopes(u)
    return u + 0.5 * s, jnp.roll(u - 0.5 * s, -1)


def _divergence(flux, dx):
    return -(flux - jnp.roll(flux, 1)) / dx


def _advection_rhs(u, beta, dx):
    left, right = _face_states(u)
    flux = 0.5 * beta * (left + right) - 0.5 * jnp.abs(beta) * (right - left)
    return _divergence(flux, dx)


def _burgers_rhs(u, dx):
    left, right = _face_states(u)
    speed = jnp.maximum(jnp.abs(left), jnp.abs(right))
    flux = 0.25 * (left**2 + right**2) - 0.5 * speed * (right - left)
    return _divergence(flux, dx)


def _heun(u, rhs, dt):
    u1 = u + dt * rhs(u)
    return 0.5 * u + 0.5 * (u1 + dt * rhs(u1))


def _laplacian_eigenvalues(nx, dtype):
    k = jnp.arange(nx // 2 + 1, dtype=dtype)
    return -4.0 * nx**2 * jnp.sin(jnp.pi * k / nx) ** 2


def heat_flow(u: Float[ArrayLike, " nx"], kappa_t: Float[ArrayLike, ""]) -> Float[Array, " nx"]:
    """$e^{\\kappa t \\Delta_h} u$: the exact flow of the periodic discrete heat equation
    over time $t$ with diffusivity $\\kappa$ (argument `kappa_t` $= \\kappa t$)."""
    nx = u.shape[-1]
    factor = jnp.exp(kappa_t * _laplacian_eigenvalues(nx, u.dtype))
    return jnp.fft.irfft(jnp.fft.rfft(u) * factor, n=nx).astype(u.dtype)


def logistic_flow(
    u: Float[ArrayLike, "*shape"], rho_t: Float[ArrayLike, ""]
) -> Float[Array, "*shape"]:
    """Exact flow of $\\dot u = \\rho u(1 - u)$ over time $t$ (argument `rho_t`
    $= \\rho t$): $u/(u + (1 - u)e^{-\\rho t})$."""
    return u / (u + (1 - u) * jnp.exp(-rho_t))


def _march(u0, t_end, dt_save, n_sub, substep):
    """Save every `dt_save`: `n_sub(u)` equal substeps `substep(u, dt)` per interval."""
    frames = _n_frames(t_end, dt_save)

    def interval(u, _):
        n = n_sub(u)
        dt = jnp.asarray(dt_save, u.dtype) / n
        u = jax.lax.fori_loop(0, n, lambda _, v: substep(v, dt), u)
        return u, u

    _, saved = jax.lax.scan(interval, u0, None, length=frames - 1)
    return jnp.concatenate([u0[None], saved])


def _steps(speed_dt_over_dx, cfl):
    """Number of equal substeps: concrete (a differentiable scan) when possible."""
    if isinstance(speed_dt_over_dx, jax.core.Tracer):
        return jnp.maximum(1, jnp.ceil(speed_dt_over_dx / cfl - 1e-6)).astype(jnp.int32)
    return max(1, math.ceil(float(speed_dt_over_dx) / cfl - 1e-6))


# ------------------------------------------------------------------------- solvers


def solve_advection(
    u0: Float[ArrayLike, " nx"],
    beta: float | Float[ArrayLike, ""],
    *,
    t_end: float = 2.0,
    dt_save: float = 0.01,
    cfl: float = 0.4,
) -> Float[Array, "frames nx"]:
    """Linear advection $u_t + \\beta u_x = 0$ from cell values `u0` (module docs).

    **Returns:** the saved frames at $t = 0, \\Delta t_s, \\dots, t_\\mathrm{end}$.
    """
    nx = u0.shape[-1]
    _check_nx(nx)
    _check_cfl(cfl)
    require(u0.ndim == 1, "u0", "one initial condition of shape (nx,) (vmap for more)", u0.shape)
    dx = 1.0 / nx
    n = _steps(abs(beta) * dt_save / dx, cfl)

    def substep(u, dt):
        return _heun(u, lambda v: _advection_rhs(v, beta, dx), dt)

    return _march(u0, t_end, dt_save, lambda u: n, substep)


def solve_burgers(
    u0: Float[ArrayLike, " nx"],
    nu: float | Float[ArrayLike, ""],
    *,
    t_end: float = 2.0,
    dt_save: float = 0.01,
    cfl: float = 0.4,
) -> Float[Array, "frames nx"]:
    """Viscous Burgers $u_t + (u^2/2)_x = (\\nu/\\pi) u_{xx}$ (PDEBench's $\\nu/\\pi$
    convention) from cell values `u0`; steps limited by advection only (module docs).

    **Returns:** the saved frames at $t = 0, \\Delta t_s, \\dots, t_\\mathrm{end}$.
    """
    nx = u0.shape[-1]
    _check_nx(nx)
    _check_cfl(cfl)
    require(nu > 0, "nu", "a positive viscosity", nu)
    require(u0.ndim == 1, "u0", "one initial condition of shape (nx,) (vmap for more)", u0.shape)
    dx = 1.0 / nx
    kappa = nu / jnp.pi

    def n_sub(u):
        speed = jnp.max(jnp.abs(u))
        return jnp.maximum(1, jnp.ceil(speed * dt_save / (cfl * dx))).astype(jnp.int32)

    def substep(u, dt):
        u = heat_flow(u, 0.5 * kappa * dt)
        u = _heun(u, lambda v: _burgers_rhs(v, dx), dt)
        return heat_flow(u, 0.5 * kappa * dt)

    return _march(u0, t_end, dt_save, n_sub, substep)


def solve_diffusion_reaction(
    u0: Float[ArrayLike, " nx"],
    nu: float | Float[ArrayLike, ""],
    rho: float | Float[ArrayLike, ""],
    *,
    t_end: float = 1.0,
    dt_save: float = 0.01,
    reaction_step: float = 0.05,
) -> Float[Array, "frames nx"]:
    """Diffusion-reaction $u_t = \\nu u_{xx} + \\rho u(1 - u)$ from cell values `u0` in
    $[0, 1]$, Strang-split into exact logistic and exact (Fourier) diffusion flows.
    Substeps are the largest with $\\rho\\,\\Delta t \\le$ `reaction_step`.

    **Returns:** the saved frames at $t = 0, \\Delta t_s, \\dots, t_\\mathrm{end}$.
    """
    nx = u0.shape[-1]
    _check_nx(nx)
    require(nu >= 0, "nu", "a diffusivity >= 0", nu)
    require(rho >= 0, "rho", "a reaction rate >= 0", rho)
    require(reaction_step > 0, "reaction_step", "a positive number (rho * dt bound)", reaction_step)
    require(u0.ndim == 1, "u0", "one initial condition of shape (nx,) (vmap for more)", u0.shape)
    n = _steps(rho * dt_save, reaction_step)

    diffuse = isinstance(nu, jax.core.Tracer) or float(nu) != 0.0

    def substep(u, dt):
        u = logistic_flow(u, 0.5 * rho * dt)
        u = heat_flow(u, nu * dt) if diffuse else u  # nu = 0: no FFT round-off at all
        return logistic_flow(u, 0.5 * rho * dt)

    return _march(u0, t_end, dt_save, lambda u: n, substep)


# ------------------------------------------------------------- initial conditions


def initial_condition(
    key: PRNGKeyArray,
    nx: int = 1024,
    *,
    modes: int = 4,
    picks: int = 2,
    p_abs: float = 0.1,
    p_window: float = 0.1,
    normalize: bool = False,
) -> Float[Array, " nx"]:
    """One random initial condition of PDEBench's kind, at the cell centres.

    $u_0(x) = \\sum_{m=1}^{M} A_m \\sin(2\\pi m c_m x + \\phi_m)$ with $A_m \\sim U[0, 1]$,
    $\\phi_m \\sim U[0, 2\\pi]$ and $c_m$ the number of times mode $m$ was drawn in
    `picks` draws with replacement from $\\{1, \\dots, M\\}$ (a mode drawn twice doubles
    its wavenumber; an undrawn one adds the constant $A_m \\sin\\phi_m$, as in PDEBench).
    Then, with probability `p_abs`, $u_0 \\leftarrow |u_0|$; a random sign; with
    probability `p_window`, the window
    $\\tfrac12(\\tanh((x - x_L)/0.01) - \\tanh((x - x_R)/0.01))$,
    $x_L \\sim U[0.1, 0.45]$, $x_R \\sim U[0.55, 0.9]$; with `normalize`, a min-max
    rescaling to $[0, 1]$ (diffusion-reaction).
    """
    _check_nx(nx)
    keys = jax.random.split(key, 9)
    x = cell_centres(nx)
    drawn = jax.random.randint(keys[0], (picks,), 0, modes)
    counts = jnp.sum(jax.nn.one_hot(drawn, modes), axis=0)
    amplitude = jax.random.uniform(keys[1], (modes,))
    phase = jax.random.uniform(keys[2], (modes,), maxval=2 * jnp.pi)
    wavenumber = 2 * jnp.pi * jnp.arange(1, modes + 1) * counts
    u = jnp.sum(amplitude[:, None] * jnp.sin(wavenumber[:, None] * x + phase[:, None]), axis=0)
    u = jnp.where(jax.random.uniform(keys[3]) < p_abs, jnp.abs(u), u)
    u = u * jnp.where(jax.random.uniform(keys[4]) < 0.5, -1.0, 1.0)
    x_left = jax.random.uniform(keys[5], minval=0.1, maxval=0.45)
    x_right = jax.random.uniform(keys[6], minval=0.55, maxval=0.9)
    window = 0.5 * (jnp.tanh((x - x_left) / 0.01) - jnp.tanh((x - x_right) / 0.01))
    u = jnp.where(jax.random.uniform(keys[7]) < p_window, u * window, u)
    if normalize:
        low, high = jnp.min(u), jnp.max(u)
        u = (u - low) / jnp.maximum(high - low, 1e-12)
    return u


# ------------------------------------------------------------------ configurations


@dataclasses.dataclass(frozen=True)
class AdvectionData:
    """Settings of the advection data set: speed `beta`, `nx` cells, frames every
    `dt_save` up to `t_end` (201 frames by default), Courant number `cfl`."""

    beta: float = 0.4
    nx: int = 1024
    t_end: float = 2.0
    dt_save: float = 0.01
    cfl: float = 0.4

    pde = "advection"
    param_names = ("beta",)

    def __post_init__(self):
        require(math.isfinite(self.beta), "beta", "a finite speed", self.beta)
        _check_nx(self.nx)
        _check_cfl(self.cfl)
        _n_frames(self.t_end, self.dt_save)

    @property
    def params(self) -> dict[str, float]:
        return {"beta": float(self.beta)}

    def solve(self, u0, values=None):
        beta = self.beta if values is None else values[0]
        return solve_advection(u0, beta, t_end=self.t_end, dt_save=self.dt_save, cfl=self.cfl)

    def initial(self, key):
        return initial_condition(key, self.nx)


@dataclasses.dataclass(frozen=True)
class BurgersData:
    """Settings of the Burgers data set: viscosity `nu` (the PDE's is $\\nu/\\pi$), `nx`
    cells, frames every `dt_save` up to `t_end` (201 frames), Courant number `cfl`."""

    nu: float = 0.01
    nx: int = 1024
    t_end: float = 2.0
    dt_save: float = 0.01
    cfl: float = 0.4

    pde = "burgers"
    param_names = ("Nu",)

    def __post_init__(self):
        require(self.nu > 0, "nu", "a positive viscosity", self.nu)
        _check_nx(self.nx)
        _check_cfl(self.cfl)
        _n_frames(self.t_end, self.dt_save)

    @property
    def params(self) -> dict[str, float]:
        return {"Nu": float(self.nu)}

    def solve(self, u0, values=None):
        nu = self.nu if values is None else values[0]
        return solve_burgers(u0, nu, t_end=self.t_end, dt_save=self.dt_save, cfl=self.cfl)

    def initial(self, key):
        return initial_condition(key, self.nx)


@dataclasses.dataclass(frozen=True)
class DiffusionReactionData:
    """Settings of the diffusion-reaction data set: diffusivity `nu`, rate `rho`, `nx`
    cells, frames every `dt_save` up to `t_end` (101 frames), substeps with
    $\\rho\\,\\Delta t \\le$ `reaction_step`; initial conditions min-max normalized."""

    nu: float = 0.5
    rho: float = 1.0
    nx: int = 1024
    t_end: float = 1.0
    dt_save: float = 0.01
    reaction_step: float = 0.05

    pde = "diffusion_reaction"
    param_names = ("Nu", "rho")

    def __post_init__(self):
        require(self.nu > 0, "nu", "a positive diffusivity", self.nu)
        require(self.rho >= 0, "rho", "a reaction rate >= 0", self.rho)
        require(self.reaction_step > 0, "reaction_step", "a positive number", self.reaction_step)
        _check_nx(self.nx)
        _n_frames(self.t_end, self.dt_save)

    @property
    def params(self) -> dict[str, float]:
        return {"Nu": float(self.nu), "rho": float(self.rho)}

    def solve(self, u0, values=None):
        nu, rho = (self.nu, self.rho) if values is None else (values[0], values[1])
        return solve_diffusion_reaction(
            u0,
            nu,
            rho,
            t_end=self.t_end,
            dt_save=self.dt_save,
            reaction_step=self.reaction_step,
        )

    def initial(self, key):
        return initial_condition(key, self.nx, normalize=True)


DATA_CONFIGS = {
    "advection": AdvectionData,
    "burgers": BurgersData,
    "diffusion_reaction": DiffusionReactionData,
}


def data_config(pde: str, **fields):
    """The data config of `pde` (`advection`, `burgers`, `diffusion_reaction`)."""
    require(pde in DATA_CONFIGS, "PDE", f"one of {', '.join(DATA_CONFIGS)}", pde)
    return DATA_CONFIGS[pde](**fields)


_COMPILED: dict = {}


def _batch_solver(config):
    """One compiled, vmapped solver per PDE and grid: the parameter values are an
    argument, so a new value does not recompile."""
    fields = {"advection": ("beta",), "burgers": ("nu",), "diffusion_reaction": ("nu", "rho")}[
        config.pde
    ]
    static = dataclasses.replace(config, **{f: 1.0 for f in fields})
    if static not in _COMPILED:
        solve = lambda k, v: static.solve(static.initial(k), v)
        _COMPILED[static] = jax.jit(jax.vmap(solve, in_axes=(0, None)))
    values = jnp.asarray([getattr(config, f) for f in fields], jnp.float32)
    return lambda keys: _COMPILED[static](keys, values)


def generate(
    config: AdvectionData | BurgersData | DiffusionReactionData,
    key: PRNGKeyArray,
    n_samples: int,
    *,
    batch_size: int | None = None,
) -> Float[np.ndarray, "n_samples frames nx"]:
    """`n_samples` trajectories of `config`'s PDE from random initial conditions
    (sample $i$ from `fold_in(key, i)`), vmapped in batches of `batch_size` (default:
    all at once); returned as a float32 NumPy array `[N, T, X]`."""
    require_integer(n_samples, "samples")
    batch_size = batch_size or n_samples
    solver = _batch_solver(config)
    out = []
    for start in range(0, n_samples, batch_size):
        stop = min(start + batch_size, n_samples)
        keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(start, stop))
        if stop - start < batch_size and start > 0:  # pad the last batch: one compilation
            keys = jnp.concatenate([keys, keys[: batch_size - (stop - start)]])
        out.append(np.asarray(solver(keys))[: stop - start])
    return np.concatenate(out).astype(np.float32)


def generate_batches(config, key, n_samples: int, batch_size: int):
    """Like [`generate`][jaxlab.cape.generate], yielding `(start, array)` batch by batch
    (bounded memory, for writing large files)."""
    solver = _batch_solver(config)
    for start in range(0, n_samples, batch_size):
        stop = min(start + batch_size, n_samples)
        keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(start, start + batch_size))
        yield start, np.asarray(solver(keys))[: stop - start].astype(np.float32)


def downsample(
    u: Float[ArrayLike, "*batch frames nx"], space: int = 8, time: int = 5, mode: str = "stride"
) -> Float[ArrayLike, "*batch frames_out nx_out"]:
    """Coarsen trajectories `[..., T, X]` to every `time`-th frame and `X/space` cells:
    `mode="stride"` keeps every `space`-th cell value (PDEBench's loaders), `"mean"`
    averages each block of `space` cells (the coarse cell averages)."""
    require_integer(space, "space")
    require_integer(time, "time")
    require(mode in ("stride", "mean"), "mode", "'stride' or 'mean'", mode)
    nx = u.shape[-1]
    require(nx % space == 0, "space", f"a divisor of the {nx} cells", space)
    xp = np if isinstance(u, np.ndarray) else jnp
    u = u[..., ::time, :]
    if mode == "stride":
        return u[..., ::space]
    return xp.mean(u.reshape(*u.shape[:-1], nx // space, space), axis=-1)
