r"""Posing a PDE: a box domain, a residual in terms of the solution's derivatives,
boundary and initial conditions, and an exact solution or a reference.

A problem is data (frozen, hashable); [`loss`][jaxlab.pig.loss] turns it into the
physics-informed loss

$$
L(u) = w_r \frac{1}{P}\sum_{p} \bigl|\mathcal{R}[u](x_p)\bigr|^2
     + \sum_c w_c \frac{1}{P_c} \sum_{p} \bigl|\mathcal{B}_c[u](x^c_p)\bigr|^2,
$$

with collocation points $x_p$ drawn uniformly in the box and condition points $x^c_p$
uniformly on the condition's faces (by [`sample`][jaxlab.pig.sample]).
"""

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from .._experiment import require, require_integer
from ._jet import Jet
from ._models import Field, jets, values


Residual = Callable[[Float[Array, " d"], Jet], Array]


@dataclasses.dataclass(frozen=True)
class Box:
    """An axis-aligned box $\\prod_i [\\text{lower}_i, \\text{upper}_i]$.

    **Fields:**

    - `names`: one character per axis, e.g. `"xy"` or `"txy"`; derivatives are read by
      these names (`u["xx"]`), and points are arrays in this order.
    - `lower`, `upper`: the bounds, one per axis.
    - `time`: the name of the time axis, if any (its lower face is the initial one; it
      carries no boundary condition by default).
    """

    names: str
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    time: str | None = None

    def __post_init__(self):
        names = self.names
        require(
            isinstance(names, str) and len(names) >= 1 and len(set(names)) == len(names),
            "names",
            "distinct one-character axis names, e.g. 'txy'",
            names,
        )
        object.__setattr__(self, "lower", tuple(float(v) for v in self.lower))
        object.__setattr__(self, "upper", tuple(float(v) for v in self.upper))
        require(len(self.lower) == len(names), "lower", f"{len(names)} bounds", self.lower)
        require(len(self.upper) == len(names), "upper", f"{len(names)} bounds", self.upper)
        require(
            all(lo < hi for lo, hi in zip(self.lower, self.upper)),
            "upper",
            "each bound above the matching lower bound",
            self.upper,
        )
        require(self.time is None or self.time in names, "time", f"one of {names!r}", self.time)

    @property
    def dim(self) -> int:
        return len(self.names)

    def axis(self, name: str) -> int:
        require(name in self.names, "axis", f"one of {self.names!r}", name)
        return self.names.index(name)

    def spatial(self) -> tuple[str, ...]:
        return tuple(n for n in self.names if n != self.time)

    def uniform(self, key: PRNGKeyArray, n: int) -> Float[Array, "n d"]:
        """`n` points drawn uniformly in the box."""
        lo, hi = jnp.asarray(self.lower), jnp.asarray(self.upper)
        return jax.random.uniform(key, (n, self.dim), minval=lo, maxval=hi)

    def grid(self, n: int | tuple[int, ...]) -> Float[Array, "M d"]:
        """A uniform grid with `n` points per axis (endpoints included), flattened
        row-major in axis order."""
        sizes = (n,) * self.dim if isinstance(n, int) else tuple(n)
        axes = [np.linspace(lo, hi, m) for lo, hi, m in zip(self.lower, self.upper, sizes)]
        mesh = np.meshgrid(*axes, indexing="ij")
        return jnp.asarray(np.stack([m.ravel() for m in mesh], axis=-1), dtype=float)

    def contains(self, points) -> bool:
        """Whether every point lies in the box (up to round-off), host side."""
        p = np.asarray(points)
        lo, hi = np.asarray(self.lower), np.asarray(self.upper)
        tol = 1e-6 * (hi - lo)
        return bool(
            p.ndim == 2 and p.shape[1] == self.dim and np.all((p >= lo - tol) & (p <= hi + tol))
        )

    def face_points(self, key, face: str, n: int) -> Float[Array, "n d"]:
        """`n` points uniform on one face, `"x-"` (lower) or `"x+"` (upper)."""
        i = self.axis(face[0])
        bound = self.lower[i] if face[1] == "-" else self.upper[i]
        return self.uniform(key, n).at[:, i].set(bound)


def _faces(box: Box, on: tuple[str, ...] | None) -> tuple[str, ...]:
    on = box.spatial() if on is None else on
    faces = []
    for item in on:
        require(
            isinstance(item, str)
            and len(item) in (1, 2)
            and item[0] in box.names
            and (len(item) == 1 or item[1] in "+-"),
            "on",
            f"axis names from {box.names!r}, each optionally followed by - or +",
            item,
        )
        faces += [item] if len(item) == 2 else [item + "-", item + "+"]
    return tuple(faces)


def _check_condition(points, weight, field="condition"):
    require_integer(points, f"{field}.points")
    require(weight >= 0, f"{field}.weight", "a number >= 0", weight)


@dataclasses.dataclass(frozen=True)
class Boundary:
    """A condition `residual(x, u) = 0` on faces of the box.

    **Fields:**

    - `residual`: `residual(x, u) -> array`, with `x` a point `(d,)` and `u` the
      [`Jet`][jaxlab.pig.Jet] of the solution there (`u.value`, `u["x"]`, ...).
    - `on`: faces: an axis name for both its faces (`"x"`), or `"x-"` / `"x+"` for one;
      None for both faces of every axis except time.
    - `points`: points per face per step; `weight`: its weight in the loss.
    - `derivatives`: False when `residual` reads only `u.value` (Dirichlet and initial
      values): the model is then evaluated without derivatives, which is cheaper.
    """

    residual: Residual
    on: tuple[str, ...] | None = None
    points: int = 256
    weight: float = 1.0
    derivatives: bool = True

    def __post_init__(self):
        _check_condition(self.points, self.weight, "boundary")


@dataclasses.dataclass(frozen=True)
class Periodic:
    """Periodicity along `axis`: $u$ (and $u_{axis}$ when `derivative`) equal on the two
    faces, compared at `points` matched pairs per step, with loss weight `weight`."""

    axis: str
    derivative: bool = True
    points: int = 256
    weight: float = 1.0

    def __post_init__(self):
        _check_condition(self.points, self.weight, "periodic")


def dirichlet(value: Callable, on=None, points: int = 256, weight: float = 1.0) -> Boundary:
    """$u = \\text{value}(x)$ on the faces `on` (default: every face but time's)."""
    return Boundary(lambda x, u: u.value - value(x), on, points, weight, derivatives=False)


def initial(value: Callable, time: str = "t", points: int = 256, weight: float = 1.0) -> Boundary:
    """$u = \\text{value}(x)$ on the initial face (the lower face of the `time` axis)."""
    return Boundary(
        lambda x, u: u.value - value(x), (time + "-",), points, weight, derivatives=False
    )


@dataclasses.dataclass(frozen=True)
class Problem:
    """A PDE for a scalar field $u$ on a [`Box`][jaxlab.pig.Box].

    **Fields:**

    - `box`: the domain.
    - `residual`: `residual(x, u) -> array`, zero for the solution; `u` is the
      [`Jet`][jaxlab.pig.Jet] at `x`: `u.value`, first derivatives `u["x"]`, pure second
      derivatives `u["xx"]` (mixed derivatives are not available).
    - `conditions`: [`Boundary`][jaxlab.pig.Boundary] and
      [`Periodic`][jaxlab.pig.Periodic] conditions (see [`dirichlet`][jaxlab.pig.dirichlet]
      and [`initial`][jaxlab.pig.initial]).
    - `exact`: optional `exact(x) -> u`, the solution at one point.
    - `reference`: optional `reference() -> (axes, values)`, host side, for problems
      without a closed form: one 1-D array of coordinates per axis and the solution on
      the grid they span, `values.shape == (len(axes[0]), ...)` (a numerical solution;
      cache it, it is called whenever the test set is built).
    - `name`: a label.
    """

    box: Box
    residual: Residual
    conditions: tuple[Boundary | Periodic, ...] = ()
    exact: Callable[[Array], Array] | None = None
    reference: Callable[[], tuple[Any, Any]] | None = None
    name: str = "problem"

    def __post_init__(self):
        object.__setattr__(self, "conditions", tuple(self.conditions))
        for c in self.conditions:
            require(
                isinstance(c, Boundary | Periodic),
                "conditions",
                "Boundary or Periodic conditions",
                c,
            )
            if isinstance(c, Boundary):
                _faces(self.box, c.on)
            else:
                self.box.axis(c.axis)

    def test_set(self, grid: int) -> tuple[Array, Array, tuple[int, ...]]:
        """Test points `(M, d)`, values `(M,)` and the grid shape they flatten: `exact`
        on a uniform grid of `grid` points per axis, else the reference grid."""
        box = self.box
        if self.exact is not None:
            points = box.grid(grid)
            return points, jax.vmap(self.exact)(points), (grid,) * box.dim
        require(self.reference is not None, "problem", "an exact solution or a reference", None)
        axes, vals = self.reference()
        require(len(axes) == box.dim, "reference", f"{box.dim} grid axes", len(axes))
        mesh = np.meshgrid(*[np.asarray(a) for a in axes], indexing="ij")
        points = np.stack([m.ravel() for m in mesh], axis=-1)
        require(box.contains(points), "reference", "grid points inside the box", "outside")
        vals = np.asarray(vals)
        shape = tuple(len(a) for a in axes)
        require(vals.shape == shape, "reference", f"values of shape {shape}", vals.shape)
        return jnp.asarray(points, dtype=float), jnp.asarray(vals.ravel(), dtype=float), shape


def sample(problem: Problem, key: PRNGKeyArray, collocation: int) -> dict[str, Any]:
    """One batch: `collocation` points uniform in the box, and for each condition its
    points on its faces (a Periodic condition gets the lower-face points; the matching
    upper ones differ only in that coordinate)."""
    box = problem.box
    k_in, *k_c = jax.random.split(key, 1 + len(problem.conditions))
    out = []
    for c, k in zip(problem.conditions, k_c):
        if isinstance(c, Boundary):
            faces = _faces(box, c.on)
            ks = jax.random.split(k, len(faces))
            out.append(
                jnp.concatenate([box.face_points(kf, f, c.points) for kf, f in zip(ks, faces)])
            )
        else:
            out.append(box.face_points(k, c.axis + "-", c.points))
    return {"interior": box.uniform(k_in, collocation), "conditions": tuple(out)}


def _mse(residuals: Array) -> Array:
    return jnp.mean(jnp.abs(residuals) ** 2)


def _residuals(problem: Problem, model: Field, batch, chunk):
    """The PDE residual at each interior point, `(P, ...)`, and each condition's
    unweighted mean squared residual."""
    names = problem.box.names
    x = batch["interior"]
    residuals = jax.vmap(problem.residual)(x, jets(model, x, chunk, names))
    terms = {}
    for i, (c, pts) in enumerate(zip(problem.conditions, batch["conditions"])):
        if isinstance(c, Boundary):
            if c.derivatives:
                u = jets(model, pts, chunk, names)
            else:
                u = Jet(values(model, pts, chunk), None, None, names)
            r = jax.vmap(c.residual)(pts, u)
        else:
            axis = problem.box.axis(c.axis)
            upper = pts.at[:, axis].set(problem.box.upper[axis])
            lo, hi = jets(model, pts, chunk, names), jets(model, upper, chunk, names)
            r = lo.value - hi.value
            if c.derivative:
                r = jnp.stack([r, lo.grad[:, axis] - hi.grad[:, axis]])
        terms[f"condition{i}"] = _mse(r)
    return residuals, terms


def loss_terms(problem: Problem, model: Field, batch, chunk: int | None = None) -> dict[str, Array]:
    """The mean squared residual of the PDE (`"residual"`) and of each condition
    (`"condition0"`, ...), unweighted."""
    residuals, terms = _residuals(problem, model, batch, chunk)
    return {"residual": _mse(residuals), **terms}


def time_chunk_losses(
    problem: Problem, points: Float[ArrayLike, "P d"], residuals: Array, chunks: int
) -> Float[Array, " chunks"]:
    """The mean squared residual $L_i$ over each of `chunks` consecutive time chunks:
    the points sorted by time and split into groups of equal size (sizes differ by at
    most one when `chunks` does not divide $P$), as jaxpi does."""
    n = points.shape[0]
    require(problem.box.time is not None, "problem", "a time axis", problem.box.names)
    require(isinstance(chunks, int) and 1 <= chunks <= n, "causal_chunks",
            f"an integer in [1, {n}] (collocation points)", chunks)  # fmt: skip
    order = jnp.argsort(points[:, problem.box.axis(problem.box.time)])
    squares = jnp.abs(residuals.reshape(n, -1)[order]) ** 2
    ids = np.arange(n) * chunks // n
    sums = jax.ops.segment_sum(jnp.mean(squares, axis=1), ids, chunks)
    return sums / np.bincount(ids, minlength=chunks)


def causal_weights(chunk_losses: Float[ArrayLike, " M"], tol: float) -> Float[Array, " M"]:
    r"""Causal weights (Wang, Sankaran & Perdikaris 2024)
    $w_i = \operatorname{sg}\bigl(\exp(-\text{tol} \sum_{j<i} L_j)\bigr)$: a time chunk
    counts only once the chunks before it are fitted. $w_1 = 1$; `sg` is
    `stop_gradient`, so the weights are constants of the gradient step."""
    before = jnp.cumsum(chunk_losses) - chunk_losses
    return jax.lax.stop_gradient(jnp.exp(-tol * before))


def loss(
    problem: Problem,
    model: Field,
    batch,
    residual_weight: float = 1.0,
    chunk: int | None = None,
    causal_tol: float = 0.0,
    causal_chunks: int = 32,
) -> tuple[Array, dict[str, Array]]:
    r"""The physics-informed loss $w_r\,L_r + \sum_c w_c\,\mathrm{MSE}(\mathcal{B}_c)$
    and its unweighted terms.

    $L_r = \mathrm{MSE}(\mathcal{R})$; with `causal_tol` $> 0$ (a problem with a time
    axis) it is the causally weighted $L_r = \frac1M \sum_i w_i L_i$ over $M$ =
    `causal_chunks` time chunks (see `pig.causal_weights`), and the terms also hold
    `"causal_weight"`, the last chunk's $w_M$ (the smallest: near 1 once the residual is
    fitted at all times)."""
    residuals, conditions = _residuals(problem, model, batch, chunk)
    terms = {"residual": _mse(residuals), **conditions}
    fitted = terms["residual"]
    require(causal_tol >= 0, "causal_tol", "a number >= 0", causal_tol)
    if causal_tol > 0:
        require(problem.box.time is not None, "causal_tol", "0 for a problem without time",
                causal_tol)  # fmt: skip
        losses = time_chunk_losses(problem, batch["interior"], residuals, causal_chunks)
        weights = causal_weights(losses, causal_tol)
        fitted = jnp.mean(weights * losses)
        terms["causal_weight"] = weights[-1]
    total = residual_weight * fitted
    for i, c in enumerate(problem.conditions):
        total = total + c.weight * terms[f"condition{i}"]
    return total, terms


def rel_l2(model: Field, points, reference, chunk: int | None = None) -> Array:
    """Relative $L^2$ error $\\|u - u^\\star\\|_2 / \\|u^\\star\\|_2$ over the points."""
    u = values(model, points, chunk)
    return jnp.linalg.norm(u - reference) / jnp.linalg.norm(reference)


def monitor_subset(points, vals, n: int):
    """A fixed random subset of `n` test points (all if fewer)."""
    m = points.shape[0]
    if n >= m:
        return points, vals
    index = np.sort(np.random.default_rng(0).choice(m, n, replace=False))
    return points[index], vals[index]
