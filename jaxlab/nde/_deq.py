r"""Deep equilibrium layers: the output is the fixed point $z^* = f_\theta(z^*, x)$, found
with optimistix and differentiated by the implicit function theorem."""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import optimistix as optx
from jaxtyping import Array, ArrayLike, Float, Int, PRNGKeyArray

from ._ode import _concrete


DEQ_SOLVERS = {
    "fixed_point": optx.FixedPointIteration,
    "newton": optx.Newton,
    "chord": optx.Chord,
}
DEQ_ADJOINTS = {
    "implicit": optx.ImplicitAdjoint,
    "unrolled": optx.RecursiveCheckpointAdjoint,
}


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
        if not isinstance(size, int) or size < 1:
            raise ValueError(f"size: a positive integer, got {size!r}")
        if not 0 < contraction < 1:
            raise ValueError(f"contraction: a number in (0, 1), got {contraction!r}")
        self.weight = jax.random.normal(key, (size, size)) * contraction / size
        self.bias = jnp.zeros(size)
        self.contraction = contraction

    def __call__(self, z: Float[Array, " size"], x: Float[Array, " size"]) -> Float[Array, " size"]:
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
      `"newton"` or `"chord"` (root finders on $z - f(z, x)$).
    - `adjoint`: `"implicit"` (default), `"unrolled"`, or any optimistix adjoint (e.g.
      `ImplicitAdjoint(linear_solver=lineax.GMRES(...))`).
    - `rtol`, `atol`: the solver's tolerances, stored as arrays (a new value does not
      recompile; they receive no gradient).
    - `max_steps`: a solve that has not converged after this many steps returns NaN (in a
      sweep, that seed is flagged instead of aborting the others).
    """

    cell: Callable
    size: int = eqx.field(static=True)
    solver: str = eqx.field(static=True)
    adjoint: optx.AbstractAdjoint
    rtol: Array
    atol: Array
    max_steps: int = eqx.field(static=True)

    def __init__(
        self,
        cell: Callable,
        size: int,
        *,
        solver: str = "fixed_point",
        adjoint: str | optx.AbstractAdjoint = "implicit",
        rtol: ArrayLike = 1e-4,
        atol: ArrayLike = 1e-6,
        max_steps: int = 256,
    ):
        if not isinstance(size, int) or size < 1:
            raise ValueError(f"size: a positive integer, got {size!r}")
        if solver not in DEQ_SOLVERS:
            raise ValueError(f"solver: one of {', '.join(DEQ_SOLVERS)}, got {solver!r}")
        if isinstance(adjoint, str):
            if adjoint not in DEQ_ADJOINTS:
                raise ValueError(f"adjoint: one of {', '.join(DEQ_ADJOINTS)}, got {adjoint!r}")
            adjoint = DEQ_ADJOINTS[adjoint]()
        for name, value in (("rtol", rtol), ("atol", atol)):
            if _concrete(value) and not float(value) > 0:
                raise ValueError(f"{name}: a positive number, got {value!r}")
        if not isinstance(max_steps, int) or max_steps < 1:
            raise ValueError(f"max_steps: a positive integer, got {max_steps!r}")
        self.cell = cell
        self.size = size
        self.solver = solver
        self.adjoint = adjoint
        self.rtol, self.atol = (jnp.asarray(v, dtype=float) for v in (rtol, atol))
        self.max_steps = max_steps

    def solve(
        self, x: Array, z0: Float[Array, " size"] | None = None
    ) -> tuple[Float[Array, " size"], Int[Array, ""]]:
        """The fixed point $z^*$ (NaN if the solver failed) and the number of solver steps."""
        if z0 is None:
            z0 = jnp.zeros(self.size)
        elif jnp.shape(z0) != (self.size,):
            raise ValueError(f"z0: shape ({self.size},), got {jnp.shape(z0)}")
        z0 = jnp.asarray(z0, jax.eval_shape(self.cell, z0, x).dtype)
        stop = jax.lax.stop_gradient
        solver = DEQ_SOLVERS[self.solver](rtol=stop(self.rtol), atol=stop(self.atol))
        solution = optx.fixed_point(
            _apply,
            solver,
            z0,
            (self.cell, x),
            max_steps=self.max_steps,
            adjoint=self.adjoint,
            throw=False,
        )
        failed = solution.result != optx.RESULTS.successful
        return jnp.where(failed, jnp.nan, solution.value), solution.stats["num_steps"]

    def __call__(self, x: Array, z0: Float[Array, " size"] | None = None) -> Float[Array, " size"]:
        """The fixed point $z^*(x)$; see [`solve`][jaxlab.nde.DEQ.solve]."""
        return self.solve(x, z0)[0]
