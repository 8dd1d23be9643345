r"""Neural ODEs on diffrax: $\dot y = f_\theta(t, y)$, and hybrid models
$\dot y = g(t, y; p) + f_\theta(t, y)$ with a known mechanistic part $g$ and learnable
physical parameters $p$."""

from collections.abc import Callable

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray, PyTree

from ._reversible import ReversibleAdjoint, reversible_heun


SOLVERS = {
    "euler": diffrax.Euler,
    "heun": diffrax.Heun,
    "midpoint": diffrax.Midpoint,
    "ralston": diffrax.Ralston,
    "bosh3": diffrax.Bosh3,
    "tsit5": diffrax.Tsit5,
    "dopri5": diffrax.Dopri5,
    "dopri8": diffrax.Dopri8,
    "reversible_heun": diffrax.ReversibleHeun,
}
ADJOINTS = {
    "recursive_checkpoint": diffrax.RecursiveCheckpointAdjoint,
    "backsolve": diffrax.BacksolveAdjoint,
    "direct": diffrax.DirectAdjoint,
}


def _named(kind: str, table: dict, value):
    if not isinstance(value, str):
        return value
    if value not in table:
        raise ValueError(f"{kind}: one of {', '.join(table)}, got {value!r}")
    return table[value]()


def _concrete(value) -> bool:
    return not isinstance(value, jax.core.Tracer)


class MLPField(eqx.Module):
    """A vector field $f_\\theta(t, y)$ given by an MLP of $y$ (and of $t$ if `time`)."""

    mlp: eqx.nn.MLP
    time: bool = eqx.field(static=True)

    def __init__(self, size: int, width: int, depth: int, *, time: bool = False, key: PRNGKeyArray):
        self.time = time
        self.mlp = eqx.nn.MLP(size + time, size, width, depth, activation=jax.nn.softplus, key=key)

    def __call__(self, t, y, args):
        return self.mlp(jnp.concatenate([jnp.atleast_1d(t), y]) if self.time else y)


class NeuralODE(eqx.Module):
    """Solve $\\dot y = f(t, y)$ from `y0`, returning $y$ at the times `ts`.

    **Arguments:**

    - `vector_field`: `f(t, y, args) -> dy/dt`, any equinox module or pure function.
    - `solver`: a diffrax solver, or its name (`"tsit5"`, `"dopri5"`, `"reversible_heun"`, ...).
    - `adjoint`: a diffrax adjoint or its name: `"recursive_checkpoint"` (default),
      `"backsolve"` or `"direct"`; or `"reversible"` (a
      [`ReversibleAdjoint`][jaxlab.nde.ReversibleAdjoint]): the exact reversible adjoint of
      [`reversible_heun`][jaxlab.nde.reversible_heun], with memory independent of the
      number of steps. It needs `solver="reversible_heun"`, `rtol=atol=None` and
      `dt0=None`: it steps on `ts`, each interval split into
      `ReversibleAdjoint(substeps)` equal steps (`max_steps` is not used).
    - `rtol`, `atol`: tolerances of the PID step-size controller, stored as arrays (a
      new value does not recompile; they receive no gradient).
    - `dt0`: the initial step; with `rtol=None` a constant step of `dt0` is used.
    - `max_steps`: a solve that needs more steps returns NaN (in a sweep, that seed is
      flagged instead of aborting the others).
    """

    vector_field: Callable
    solver: diffrax.AbstractSolver
    adjoint: diffrax.AbstractAdjoint | ReversibleAdjoint
    rtol: Array | None
    atol: Array | None
    dt0: Array | None
    max_steps: int = eqx.field(static=True)

    def __init__(
        self,
        vector_field: Callable,
        *,
        solver: str | diffrax.AbstractSolver = "tsit5",
        adjoint: str | diffrax.AbstractAdjoint | ReversibleAdjoint = "recursive_checkpoint",
        rtol: ArrayLike | None = 1e-4,
        atol: ArrayLike | None = 1e-6,
        dt0: ArrayLike | None = None,
        max_steps: int = 4096,
    ):
        for name, value in (("rtol", rtol), ("atol", atol), ("dt0", dt0)):
            if value is not None and _concrete(value) and not float(value) > 0:
                raise ValueError(f"{name}: a positive number, got {value!r}")
        if (rtol is None) != (atol is None):
            raise ValueError("rtol: give both rtol and atol (adaptive) or neither (constant dt0)")
        self.solver = _named("solver", SOLVERS, solver)
        self.adjoint = _named("adjoint", {**ADJOINTS, "reversible": ReversibleAdjoint}, adjoint)
        if isinstance(self.adjoint, ReversibleAdjoint):
            if not isinstance(self.solver, diffrax.ReversibleHeun):
                raise ValueError(
                    f"solver: the reversible adjoint needs 'reversible_heun', got {solver!r}"
                )
            if rtol is not None:
                raise ValueError(
                    "rtol: the reversible adjoint needs fixed steps; pass rtol=atol=None"
                )
            if dt0 is not None:
                raise ValueError(
                    "dt0: the reversible adjoint steps on ts (substeps); pass dt0=None"
                )
        elif rtol is None and dt0 is None:
            raise ValueError("dt0: required with a constant step (rtol=None)")
        if not isinstance(max_steps, int) or max_steps < 1:
            raise ValueError(f"max_steps: a positive integer, got {max_steps!r}")
        self.vector_field = vector_field
        self.rtol, self.atol, self.dt0 = (
            None if v is None else jnp.asarray(v, dtype=float) for v in (rtol, atol, dt0)
        )
        self.max_steps = max_steps

    def __call__(self, ts: Float[Array, " times"], y0: PyTree, args=None) -> PyTree:
        if _concrete(ts) and not np.all(np.diff(np.asarray(ts)) > 0):
            raise ValueError("ts: times must be strictly increasing")
        if isinstance(self.adjoint, ReversibleAdjoint):
            return reversible_heun(self.vector_field, y0, ts, args, substeps=self.adjoint.substeps)
        stop = jax.lax.stop_gradient
        if self.rtol is None:
            controller = diffrax.ConstantStepSize()
        else:
            controller = diffrax.PIDController(rtol=stop(self.rtol), atol=stop(self.atol))
        solution = diffrax.diffeqsolve(
            diffrax.ODETerm(self.vector_field),
            self.solver,
            ts[0],
            ts[-1],
            None if self.dt0 is None else stop(self.dt0),
            y0,
            args,
            saveat=diffrax.SaveAt(ts=ts),
            stepsize_controller=controller,
            adjoint=self.adjoint,
            max_steps=self.max_steps,
            throw=False,
        )
        failed = solution.result != diffrax.RESULTS.successful
        return jax.tree.map(lambda y: jnp.where(failed, jnp.nan, y), solution.ys)


class HybridField(eqx.Module):
    """$f(t, y) = g(t, y; p) + c_\\theta(t, y)$: a known mechanistic vector field `g` with
    learnable physical parameters `params`, plus an optional neural `correction`."""

    mechanistic: Callable = eqx.field(static=True)
    params: Array
    correction: Callable | None

    def __call__(self, t, y, args):
        dy = self.mechanistic(t, y, self.params)
        return dy if self.correction is None else dy + self.correction(t, y, args)
