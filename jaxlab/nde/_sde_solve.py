r"""The fixed-grid SDE integrator shared by the neural SDEs.

$\mathrm{d}y = \mu(t, y)\,\mathrm{d}t + \sigma(t, y)\,\mathrm{d}W$ is solved on the
observation times `ts`, each interval cut into `substeps` equal steps, by one of diffrax's
solvers stepped through its manual-stepping API in a `lax.scan`. $W$ is a
`diffrax.VirtualBrownianTree` (deterministic given its key, and safe to backpropagate
through) to a tolerance `tol`, a [`Setting`][jaxlab.Setting]. The step sizes follow from
the array `ts` and the tolerance is an array, so new values of either do not recompile.
Reverse-mode differentiation stores every step (no recomputation: the paths are short);
the SDE-GAN's generator may use the reversible adjoint of `_reversible` instead.
"""

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, PyTree

from .._experiment import ConfigError
from .._model import Setting
from ._reversible import _grid
from ._settings import concrete, count, named, positive, read


SDE_SOLVERS = {
    "euler": diffrax.Euler,  # Itô, strong order 0.5
    "ito_milstein": diffrax.ItoMilstein,  # Itô, strong order 1 (commutative noise)
    "heun": diffrax.Heun,  # Stratonovich, from here on
    "midpoint": diffrax.Midpoint,
    "euler_heun": diffrax.EulerHeun,
    "reversible_heun": diffrax.ReversibleHeun,
    "stratonovich_milstein": diffrax.StratonovichMilstein,
}


class _Field(eqx.Module):
    """An MLP of the concatenation `(t, *inputs)`."""

    mlp: eqx.nn.MLP

    def __init__(self, in_size, out_size, width, depth, *, activation, final=None, key):
        final = (lambda x: x) if final is None else final
        self.mlp = eqx.nn.MLP(
            in_size + 1,
            out_size,
            width,
            depth,
            activation=activation,
            final_activation=final,
            key=key,
        )

    def __call__(self, t, *inputs):
        return self.mlp(jnp.concatenate([jnp.atleast_1d(t).astype(inputs[0].dtype), *inputs]))


def grid_settings(
    solver, table, tol, substeps
) -> tuple[diffrax.AbstractSolver, Setting | None, int]:
    """Validated `(solver, tol, substeps)`: a solver by name from `table` or as an object,
    the Brownian tolerance as a setting (None: half the smallest step), a step count."""
    return named("solver", table, solver), positive("tol", tol), count("substeps", substeps)


def step_grid(ts, substeps: int) -> Array:
    """`ts` with each interval cut into `substeps` equal steps (no gradient)."""
    if concrete(ts) and not np.all(np.diff(np.asarray(ts)) > 0):
        raise ConfigError("ts: times must be strictly increasing")
    return _grid(jax.lax.stop_gradient(ts), substeps)


def integrate(terms, solver, ts, y0, substeps: int, args=None) -> PyTree:
    """Step `solver` over the grid of `ts` refined `substeps` times, as a `lax.scan` of
    diffrax's manual-stepping API, and return the states at `ts`. `args` (optional) has a
    leading axis over the intervals of `ts`: interval $i$'s steps receive `args[i]`."""
    grid = step_grid(ts, substeps)
    if args is not None:
        args = jax.tree.map(lambda a: jnp.repeat(a, substeps, axis=0), args)
    first = None if args is None else jax.tree.map(lambda a: a[0], args)
    state = solver.init(terms, grid[0], grid[1], y0, first)

    def step(carry, x):
        y, state = carry
        t0, t1, step_args = x
        y, _, _, state, _ = solver.step(terms, t0, t1, y, step_args, state, False)
        return (y, state), y

    _, ys = jax.lax.scan(step, (y0, state), (grid[:-1], grid[1:], args))
    return jnp.concatenate([y0[None], ys[substeps - 1 :: substeps]])


def brownian_tree(ts, noise_size: int, key, tol: Setting | None, substeps: int):
    """A virtual Brownian tree of shape `(noise_size,)` on `[ts[0], ts[-1]]`, to tolerance
    `tol` (None: half the smallest step of the grid of `integrate`)."""
    ts = jax.lax.stop_gradient(ts)
    tol = jnp.min(jnp.diff(ts)) / (2 * substeps) if tol is None else read(tol)
    return diffrax.VirtualBrownianTree(
        ts[0],
        ts[-1],
        tol=tol.astype(ts.dtype),
        shape=jax.ShapeDtypeStruct((noise_size,), ts.dtype),
        key=key,
    )


def sde_solve(
    drift, diffusion, noise_size: int, solver, ts, y0, key, tol: Setting | None,
    substeps: int, args=None,
) -> Array:  # fmt: skip
    r"""$\mathrm{d}y = \text{drift}\,\mathrm{d}t + \text{diffusion}\,\mathrm{d}W$ with $W$
    `brownian_tree(ts, noise_size, key, tol, substeps)`, on the grid of `integrate`."""
    brownian = brownian_tree(ts, noise_size, key, tol, substeps)
    terms = diffrax.MultiTerm(diffrax.ODETerm(drift), diffrax.ControlTerm(diffusion, brownian))
    return integrate(terms, solver, jax.lax.stop_gradient(ts), y0, substeps, args)
