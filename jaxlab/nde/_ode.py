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

from .._experiment import ConfigError, require
from .._model import Setting
from ._reversible import ReversibleAdjoint, reversible_heun
from ._settings import concrete, controller, count, named, or_nan, read, step_settings


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


class MLPField(eqx.Module):
    """A vector field $f_\\theta(t, y)$ given by an MLP of $y$ (and of $t$ if `time`).

    **Arguments** (keyword only): `size` (of $y$), `width` and `depth` of the MLP (softplus
    activations), `time`, `key`.
    """

    mlp: eqx.nn.MLP
    time: bool = eqx.field(static=True)

    def __init__(self, *, size: int, width: int, depth: int, time: bool = False, key: PRNGKeyArray):
        self.time = time
        self.mlp = eqx.nn.MLP(size + time, size, width, depth, activation=jax.nn.softplus, key=key)

    def __call__(self, t, y, args):
        size = self.mlp.out_size
        require(
            jnp.shape(y) == (size,), "y", f"shape ({size},) (MLPField(size={size}))", jnp.shape(y)
        )
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
    - `rtol`, `atol`: tolerances of the PID step-size controller. Like `dt0`, they are
      [`Setting`][jaxlab.Setting]s: never trained, and a new value does not recompile.
    - `dt0`: the initial step; with `rtol=atol=None` a constant step of `dt0` is used.
    - `max_steps`: a solve that needs more steps returns NaN (in a sweep, that seed is
      flagged instead of aborting the others).
    """

    vector_field: Callable
    solver: diffrax.AbstractSolver
    adjoint: diffrax.AbstractAdjoint | ReversibleAdjoint
    rtol: Setting | None
    atol: Setting | None
    dt0: Setting | None
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
        self.solver = named("solver", SOLVERS, solver)
        self.adjoint = named("adjoint", {**ADJOINTS, "reversible": ReversibleAdjoint}, adjoint)
        reversible = isinstance(self.adjoint, ReversibleAdjoint)
        self.rtol, self.atol, self.dt0 = step_settings(rtol, atol, dt0, steps_on_ts=reversible)
        if reversible:
            if not isinstance(self.solver, diffrax.ReversibleHeun):
                raise ConfigError(
                    f"solver: the reversible adjoint needs 'reversible_heun', got {solver!r}"
                )
            if rtol is not None:
                raise ConfigError(
                    "rtol: the reversible adjoint needs fixed steps; pass rtol=atol=None"
                )
            if dt0 is not None:
                raise ConfigError(
                    "dt0: the reversible adjoint steps on ts (substeps); pass dt0=None"
                )
        self.vector_field = vector_field
        self.max_steps = count("max_steps", max_steps)

    def __call__(self, ts: Float[ArrayLike, " times"], y0: PyTree, args=None) -> PyTree:
        if concrete(ts) and not np.all(np.diff(np.asarray(ts)) > 0):
            raise ConfigError("ts: times must be strictly increasing")
        if isinstance(self.adjoint, ReversibleAdjoint):
            return reversible_heun(self.vector_field, y0, ts, args, substeps=self.adjoint.substeps)
        solution = diffrax.diffeqsolve(
            diffrax.ODETerm(self.vector_field),
            self.solver,
            ts[0],
            ts[-1],
            read(self.dt0),
            y0,
            args,
            saveat=diffrax.SaveAt(ts=ts),
            stepsize_controller=controller(self.rtol, self.atol),
            adjoint=self.adjoint,
            max_steps=self.max_steps,
            throw=False,
        )
        return or_nan(solution, solution.ys)


class HybridField(eqx.Module):
    """$f(t, y) = g(t, y; p) + c_\\theta(t, y)$: a known mechanistic vector field `g` with
    learnable physical parameters `params`, plus an optional neural `correction`."""

    mechanistic: Callable = eqx.field(static=True)
    params: Array
    correction: Callable | None

    def __call__(self, t, y, args):
        dy = self.mechanistic(t, y, self.params)
        return dy if self.correction is None else dy + self.correction(t, y, args)
