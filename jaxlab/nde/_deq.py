r"""Deep equilibrium layers: the output is the fixed point $z^* = f_\theta(z^*, x)$, found
with optimistix and differentiated by the implicit function theorem."""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import optimistix as optx
from jaxtyping import Array, ArrayLike, Float, Int, PRNGKeyArray

from .._experiment import ConfigError
from .._model import Setting
from ._settings import count, named, or_nan, positive


DEQ_SOLVERS = {
    "fixed_point": optx.FixedPointIteration,
    "newton": optx.Newton,
    "chord": optx.Chord,
}
DEQ_ADJOINTS = {
    "implicit": optx.ImplicitAdjoint,
    "unrolled": optx.RecursiveCheckpointAdjoint,
}
_Solver = optx.AbstractFixedPointSolver | optx.AbstractRootFinder


def _apply(z, args):
    cell, x = args
    return cell(z, x)


class ContractiveCell(eqx.Module):
    r"""$f(z, x) = \tanh(W z + x + b)$ with $W = V \min(1, \gamma / \|V\|_F)$.

    As $\tanh$ is 1-Lipschitz and $\|W\|_2 \le \|W\|_F \le \gamma < 1$, $f(\cdot, x)$ is a
    contraction: the fixed point exists and is unique, fixed-point iteration converges to it
    linearly at rate $\gamma$ or better, and $I - \partial_z f$ is invertible, so the implicit
    gradient is well defined. The input $x$ (already of size `size`) is injected each step.

    **Arguments:** `size` (of $z$ and $x$), `contraction` $\gamma \in (0, 1)$, `key`.
    """

    weight: Float[Array, "size size"]
    bias: Float[Array, " size"]
    contraction: float = eqx.field(static=True)

    def __init__(self, size: int, *, contraction: float = 0.9, key: PRNGKeyArray):
        count("size", size)
        if not 0 < contraction < 1:
            raise ConfigError(f"contraction: a number in (0, 1), got {contraction!r}")
        self.weight = jax.random.normal(key, (size, size)) * contraction / size
        self.bias = jnp.zeros(size)
        self.contraction = contraction

    def __call__(
        self, z: Float[ArrayLike, " size"], x: Float[ArrayLike, " size"]
    ) -> Float[Array, " size"]:
        norm = jnp.sqrt(jnp.sum(self.weight**2))
        weight = self.weight * jnp.minimum(1.0, self.contraction / norm)
        return jnp.tanh(weight @ z + x + self.bias)


class DEQ(eqx.Module):
    r"""A deep equilibrium layer: $x \mapsto z^*$ with $z^* = f(z^*, x)$.

    The fixed point is found by optimistix from $z_0$ (zeros unless given). With the
    implicit adjoint, gradients follow from the implicit function theorem,
    $\partial z^*/\partial\theta = (I - \partial_z f)^{-1}\,\partial_\theta f$ at $z^*$, at
    the cost of one linear solve and no stored iterates; `"unrolled"` backpropagates
    through the iterations instead.

    **Arguments:**

    - `cell`: `f(z, x) -> z`, an equinox module or pure function.
    - `size`: the length of $z$.
    - `solver`: `"fixed_point"` ($z_{n+1} = f(z_n, x)$; converges for a contraction),
      `"newton"` or `"chord"` (root finders on $z - f(z, x)$), or an optimistix solver
      object with `rtol` and `atol` fields (e.g. `optx.Newton(rtol, atol,
      linear_solver=lineax.LU())`), whose tolerances are replaced by the DEQ's.
    - `adjoint`: `"implicit"` (default), `"unrolled"`, or any optimistix adjoint (e.g.
      `ImplicitAdjoint(linear_solver=lineax.GMRES(...))`).
    - `rtol`, `atol`: the solver's tolerances, [`Setting`][jaxlab.Setting]s (never
      trained; a new value does not recompile).
    - `max_steps`: a solve that has not converged after this many steps returns NaN (in a
      sweep, that seed is flagged instead of aborting the others).
    """

    cell: Callable
    size: int = eqx.field(static=True)
    solver: _Solver
    adjoint: optx.AbstractAdjoint
    rtol: Setting
    atol: Setting
    max_steps: int = eqx.field(static=True)

    def __init__(
        self,
        cell: Callable,
        size: int,
        *,
        solver: str | _Solver = "fixed_point",
        adjoint: str | optx.AbstractAdjoint = "implicit",
        rtol: ArrayLike = 1e-4,
        atol: ArrayLike = 1e-6,
        max_steps: int = 256,
    ):
        self.cell = cell
        self.size = count("size", size)
        # Built with placeholder tolerances: the solve puts in the settings.
        self.solver = named("solver", DEQ_SOLVERS, solver, rtol=0.0, atol=0.0)
        if not (hasattr(self.solver, "rtol") and hasattr(self.solver, "atol")):
            raise ConfigError(f"solver: an optimistix solver with rtol and atol, got {solver!r}")
        self.adjoint = named("adjoint", DEQ_ADJOINTS, adjoint)
        self.rtol, self.atol = positive("rtol", rtol), positive("atol", atol)
        self.max_steps = count("max_steps", max_steps)

    def solve(
        self, x: Array, z0: Float[ArrayLike, " size"] | None = None
    ) -> tuple[Float[Array, " size"], Int[Array, ""]]:
        """The fixed point $z^*$ (NaN if the solver failed) and the number of solver steps."""
        if z0 is None:
            z0 = jnp.zeros(self.size)
        elif jnp.shape(z0) != (self.size,):
            raise ConfigError(f"z0: shape ({self.size},), got {jnp.shape(z0)}")
        z0 = jnp.asarray(z0, jax.eval_shape(self.cell, z0, x).dtype)
        tolerances = (self.rtol.read(), self.atol.read())
        solver = eqx.tree_at(lambda s: (s.rtol, s.atol), self.solver, tolerances)
        solution = optx.fixed_point(
            _apply,
            solver,
            z0,
            (self.cell, x),
            max_steps=self.max_steps,
            adjoint=self.adjoint,
            throw=False,
        )
        return or_nan(solution, solution.value), solution.stats["num_steps"]

    def __call__(
        self, x: Array, z0: Float[ArrayLike, " size"] | None = None
    ) -> Float[Array, " size"]:
        """The fixed point $z^*(x)$; see [`solve`][jaxlab.nde.DEQ.solve]."""
        return self.solve(x, z0)[0]


class DEQClassifier(eqx.Module):
    r"""`readout(z*)` with $z^* = f(z^*, \mathrm{projection}(x))$, $f$ a
    [`ContractiveCell`][jaxlab.nde.ContractiveCell] solved by a [`DEQ`][jaxlab.nde.DEQ].

    **Arguments:** `features` (of $x$), `hidden` (of $z$), `classes`, `contraction` of
    the cell, `key`, and the [`DEQ`][jaxlab.nde.DEQ]'s options (`solver`, `adjoint`,
    `rtol`, `atol`, `max_steps`).

    Called on one example, returns the logits and the number of fixed-point steps.
    """

    projection: eqx.nn.Linear
    deq: DEQ
    readout: eqx.nn.Linear

    def __init__(
        self,
        features: int,
        hidden: int,
        classes: int,
        *,
        contraction: float = 0.9,
        key: PRNGKeyArray,
        **deq_options,
    ):
        k_in, k_cell, k_out = jax.random.split(key, 3)
        self.projection = eqx.nn.Linear(features, hidden, key=k_in)
        cell = ContractiveCell(hidden, contraction=contraction, key=k_cell)
        self.deq = DEQ(cell, hidden, **deq_options)
        self.readout = eqx.nn.Linear(hidden, classes, key=k_out)

    def __call__(
        self, x: Float[ArrayLike, " features"]
    ) -> tuple[Float[Array, " classes"], Int[Array, ""]]:
        features = self.projection.in_features
        if x.shape != (features,):
            raise ConfigError(f"x: shape ({features},) (one example), got {x.shape}")
        z, steps = self.deq.solve(self.projection(x))
        return self.readout(z), steps
