"""Matrix-sensing problems: a low-rank ground truth, Gaussian measurements and noise."""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from .._experiment import require, require_integer


class SensingProblem(eqx.Module):
    r"""A matrix-sensing instance $y = \mathcal{A}(M^\star) + s$.

    The operator is stored as one dense matrix `measurements` of shape `(m, n1 * n2)`
    whose rows are $\operatorname{vec}(A_i)/\sqrt{m}$, so that
    $\mathcal{A}(X) = [\langle A_i, X\rangle]_i/\sqrt{m}$ and
    $\mathbb{E}[\mathcal{A}^*\mathcal{A}] = I$ on the matrices the problem is posed over.

    **Fields:**

    - `target`: the ground truth $M^\star$, shape `(n1, n2)`.
    - `measurements`: the operator matrix, shape `(m, n1 * n2)`.
    - `observations`: the (possibly corrupted) measurements $y$, shape `(m,)`.
    - `symmetric`: whether $M^\star$ is PSD and every $A_i$ is symmetric.
    """

    target: Float[Array, "n1 n2"]
    measurements: Float[Array, "m n1n2"]
    observations: Float[Array, " m"]
    symmetric: bool = eqx.field(static=True)

    def apply(self, x: Float[ArrayLike, "n1 n2"]) -> Float[Array, " m"]:
        r"""$\mathcal{A}(X)$."""
        return self.measurements @ x.reshape(-1)

    def adjoint(self, v: Float[ArrayLike, " m"]) -> Float[Array, "n1 n2"]:
        r"""$\mathcal{A}^*(v) = \sum_i v_i A_i/\sqrt{m}$."""
        return (v @ self.measurements).reshape(self.target.shape)

    def residual(self, x: Float[ArrayLike, "n1 n2"]) -> Float[Array, " m"]:
        r"""$\mathcal{A}(X) - y$."""
        return self.apply(x) - self.observations

    def relative_error(self, x: Float[ArrayLike, "n1 n2"]) -> Float[Array, ""]:
        r"""$\|X - M^\star\|_F / \|M^\star\|_F$."""
        return jnp.linalg.norm(x - self.target) / jnp.linalg.norm(self.target)


def _check_shape(**sizes: int) -> None:
    for name, value in sizes.items():
        require_integer(value, name)


def _singular_values(rank: int, condition_number: float) -> Float[Array, " r"]:
    require(condition_number >= 1, "condition_number", "a number >= 1", condition_number)
    return jnp.geomspace(1.0, 1.0 / condition_number, rank)


def _orthonormal(key: PRNGKeyArray, n: int, rank: int) -> Float[Array, "n r"]:
    q, _ = jnp.linalg.qr(jax.random.normal(key, (n, rank)))
    return q


def symmetric_problem(
    key: PRNGKeyArray, n: int, rank: int, m: int, condition_number: float = 1.0
) -> SensingProblem:
    r"""A PSD rank-`rank` ground truth $M^\star = U\,\mathrm{diag}(\sigma)U^\top$ in
    $\mathbb{R}^{n\times n}$, with $\sigma$ geometric from 1 down to `1/condition_number`,
    observed through `m` symmetric Gaussian matrices $A_i = (B_i + B_i^\top)/2$.
    """
    _check_shape(n=n, rank=rank, m=m)
    require(rank <= n, "rank", f"at most n = {n}", rank)
    k_u, k_a = jax.random.split(key)
    u = _orthonormal(k_u, n, rank)
    target = (u * _singular_values(rank, condition_number)) @ u.T
    b = jax.random.normal(k_a, (m, n, n), dtype=target.dtype)
    a = (b + jnp.swapaxes(b, 1, 2)) / 2
    measurements = a.reshape(m, n * n) / jnp.sqrt(m)
    return SensingProblem(target, measurements, measurements @ target.reshape(-1), True)


def asymmetric_problem(
    key: PRNGKeyArray, n1: int, n2: int, rank: int, m: int, condition_number: float = 1.0
) -> SensingProblem:
    r"""A rank-`rank` ground truth $M^\star = U\,\mathrm{diag}(\sigma)V^\top$ in
    $\mathbb{R}^{n_1\times n_2}$ observed through `m` i.i.d. standard Gaussian matrices.
    """
    _check_shape(n1=n1, n2=n2, rank=rank, m=m)
    require(rank <= min(n1, n2), "rank", f"at most min(n1, n2) = {min(n1, n2)}", rank)
    k_u, k_v, k_a = jax.random.split(key, 3)
    u, v = _orthonormal(k_u, n1, rank), _orthonormal(k_v, n2, rank)
    target = (u * _singular_values(rank, condition_number)) @ v.T
    measurements = jax.random.normal(k_a, (m, n1 * n2), dtype=target.dtype) / jnp.sqrt(m)
    return SensingProblem(target, measurements, measurements @ target.reshape(-1), False)


def add_gaussian_noise(
    problem: SensingProblem, key: PRNGKeyArray, std: ArrayLike
) -> SensingProblem:
    r"""Add $s_i \sim \mathcal{N}(0, \nu^2)$ to every measurement, with $\nu$ = `std`
    in the units of $\langle A_i, M^\star\rangle$ (before the $1/\sqrt{m}$ scaling).
    """
    m = problem.observations.shape[0]
    noise = std * jax.random.normal(key, (m,), problem.observations.dtype) / jnp.sqrt(m)
    return eqx.tree_at(lambda p: p.observations, problem, problem.observations + noise)


def add_outliers(
    problem: SensingProblem,
    key: PRNGKeyArray,
    fraction: ArrayLike,
    magnitude: float = 10.0,
    *,
    mode: str = "add",
) -> SensingProblem:
    r"""Corrupt each measurement independently with probability `fraction` by an outlier
    $s_i = c\,\|y^\star\|_\infty\,u_i$, $u_i \sim U[-1, 1]$, $c$ = `magnitude`, drawn
    independently of the operator. `mode="add"` (Ma & Fattahi's model) observes
    $y_i + s_i$; `mode="replace"` observes $s_i$ in place of $y_i$.
    """
    require(mode in ("add", "replace"), "mode", "one of add, replace", mode)
    k_mask, k_value = jax.random.split(key)
    y = problem.observations
    mask = jax.random.bernoulli(k_mask, fraction, y.shape)
    scale = magnitude * jnp.max(jnp.abs(y))
    outliers = scale * jax.random.uniform(k_value, y.shape, y.dtype, -1.0, 1.0)
    corrupted = y + outliers if mode == "add" else outliers
    return eqx.tree_at(lambda p: p.observations, problem, jnp.where(mask, corrupted, y))
