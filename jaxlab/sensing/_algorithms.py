r"""Gradient methods for matrix sensing, each a pure `lax.scan` over iterations.

Losses (with $r = \mathcal{A}(\cdot) - y$):

- symmetric $\ell_2$: $L(X) = \tfrac14\|\mathcal{A}(XX^\top) - y\|^2$ (the $\tfrac14$ makes
  one step size $\eta$ mean the same for $XX^\top$ and $FG^\top$);
- asymmetric $\ell_2$: $L(F, G) = \tfrac12\|\mathcal{A}(FG^\top) - y\|^2$;
- symmetric $\ell_1$: $f(U) = \|\mathcal{A}(UU^\top) - y\|_1/\sqrt{m}$, which equals
  $\frac1m\sum_i|\langle A_i, UU^\top\rangle - y_i|$ in unscaled units (Ma & Fattahi).

Every method returns a [`Trajectory`][jaxlab.sensing.Trajectory]: the final factors and
the relative error $\|M_t - M^\star\|_F/\|M^\star\|_F$ at $t = 0, \dots, T$.
Step sizes and decay rates may be traced arrays (sweepable without recompiling);
the number of steps is static.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from .._experiment import require, require_integer
from ._problems import SensingProblem


Matrix = Float[Array, "n k"]


class Trajectory(NamedTuple):
    """The result of one run: the final factors (`(X,)` or `(F, G)`) and the relative
    error after each of the `steps` iterations, with the initial error first."""

    factors: tuple[Matrix, ...]
    errors: Float[Array, " steps_plus_one"]


def small_init(key: PRNGKeyArray, rows: int, cols: int, scale: ArrayLike) -> Matrix:
    r"""Random factor $\alpha\,\tilde X$ with $\tilde X_{ij} \sim \mathcal{N}(0, 1/n)$,
    $n$ = `rows`: the singular values of $\tilde X$ are $O(1)$, so $\alpha$ = `scale` sets
    the size of the factor independently of the dimension.
    """
    return scale * jax.random.normal(key, (rows, cols)) / jnp.sqrt(rows)


def symmetric_loss(problem: SensingProblem, x: Matrix) -> Float[Array, ""]:
    r"""$\tfrac14\|\mathcal{A}(XX^\top) - y\|^2$."""
    return 0.25 * jnp.sum(problem.residual(x @ x.T) ** 2)


def asymmetric_loss(problem: SensingProblem, f: Matrix, g: Matrix) -> Float[Array, ""]:
    r"""$\tfrac12\|\mathcal{A}(FG^\top) - y\|^2$."""
    return 0.5 * jnp.sum(problem.residual(f @ g.T) ** 2)


def l1_loss(problem: SensingProblem, u: Matrix) -> Float[Array, ""]:
    r"""$\|\mathcal{A}(UU^\top) - y\|_1/\sqrt{m}$."""
    r = problem.residual(u @ u.T)
    return jnp.sum(jnp.abs(r)) / jnp.sqrt(r.shape[0])


def symmetric_gradient(problem: SensingProblem, x: Matrix) -> Matrix:
    r"""$\nabla L(X) = \tfrac12(S + S^\top)X$ with $S = \mathcal{A}^*(\mathcal{A}(XX^\top) - y)$."""
    s = problem.adjoint(problem.residual(x @ x.T))
    return 0.5 * (s + s.T) @ x


def asymmetric_gradient(problem: SensingProblem, f: Matrix, g: Matrix) -> tuple[Matrix, Matrix]:
    r"""$(\nabla_F L, \nabla_G L) = (SG, S^\top F)$ with
    $S = \mathcal{A}^*(\mathcal{A}(FG^\top) - y)$."""
    s = problem.adjoint(problem.residual(f @ g.T))
    return s @ g, s.T @ f


def l1_subgradient(problem: SensingProblem, u: Matrix) -> Matrix:
    r"""A subgradient of the $\ell_1$ loss: $(S + S^\top)U/\sqrt{m}$ with
    $S = \mathcal{A}^*(\operatorname{sign}(\mathcal{A}(UU^\top) - y))$ and
    $\operatorname{sign}(0) = 0$."""
    r = problem.residual(u @ u.T)
    s = problem.adjoint(jnp.sign(r))
    return (s + s.T) @ u / jnp.sqrt(r.shape[0])


def rebalance(f: Matrix, g: Matrix, scale: ArrayLike = 1.0) -> tuple[Matrix, Matrix]:
    r"""jaxlab's one-step modification: $F \leftarrow cF(F^\top F)^{-1/2}$,
    $G \leftarrow G(F^\top F)^{1/2}/c$.

    Every singular value of the new $F$ equals $c$ = `scale`, so the imbalance
    $F^\top F - G^\top G$ is lifted to $\approx c^2 I$ while $FG^\top$ is unchanged.
    This is our formulation of the step of Xiong, Ding & Du (2024, Sec. 5); the paper's
    exact formula (5.1) could not be confirmed.
    """
    w, v = jnp.linalg.eigh(f.T @ f)
    root = jnp.sqrt(w)
    f_new = scale * (f @ ((v / root) @ v.T))
    g_new = g @ ((v * root) @ v.T) / scale
    return f_new, g_new


def _iterate(
    problem: SensingProblem,
    update: Callable[[Any, Array], Any],
    state: Any,
    product: Callable[[Any], Array],
    steps: int,
) -> tuple[Any, Float[Array, " steps_plus_one"]]:
    def body(state, t):
        state = update(state, t)
        return state, problem.relative_error(product(state))

    final, errors = jax.lax.scan(body, state, jnp.arange(steps))
    initial = problem.relative_error(product(state))
    return final, jnp.concatenate([initial[None], errors])


def _check_steps(steps: int) -> None:
    require_integer(steps, "steps")


def _check_factors(problem: SensingProblem, *factors: Matrix) -> None:
    rows = problem.target.shape if len(factors) == 2 else problem.target.shape[:1]
    names = ("f0", "g0") if len(factors) == 2 else ("x0",)
    width = factors[0].shape[-1]
    for name, factor, n in zip(names, factors, rows):
        require(
            factor.ndim == 2 and factor.shape == (n, width),
            name,
            f"shape ({n}, k), the problem's rows (k shared by the factors)",
            factor.shape,
        )
    require(
        len(factors) == 2 or problem.symmetric,
        "problem",
        "a symmetric problem for a single factor X X^T",
        "an asymmetric one",
    )


def _product(fg: tuple[Matrix, Matrix]) -> Array:
    return fg[0] @ fg[1].T


def symmetric_gd(
    problem: SensingProblem, x0: Matrix, step_size: ArrayLike, steps: int
) -> Trajectory:
    r"""Gradient descent $X_{t+1} = X_t - \eta\nabla L(X_t)$ on $XX^\top$."""
    _check_steps(steps)
    _check_factors(problem, x0)

    def update(x, t):
        return x - step_size * symmetric_gradient(problem, x)

    x, errors = _iterate(problem, update, x0, lambda x: x @ x.T, steps)
    return Trajectory((x,), errors)


def asymmetric_gd(
    problem: SensingProblem,
    f0: Matrix,
    g0: Matrix,
    step_size: ArrayLike,
    steps: int,
    *,
    rebalance_tol: ArrayLike | None = None,
    rebalance_scale: ArrayLike = 1.0,
) -> Trajectory:
    r"""Simultaneous gradient descent on $FG^\top$:
    $F_{t+1} = F_t - \eta S_t G_t$, $G_{t+1} = G_t - \eta S_t^\top F_t$.

    With `rebalance_tol` set, [`rebalance`][jaxlab.sensing.rebalance] is applied once,
    at the first iteration whose relative residual $\|\mathcal{A}(FG^\top) - y\|/\|y\|$
    is below `rebalance_tol` (a test that needs no knowledge of $M^\star$); a tolerance
    of 0 never triggers, so plain and modified runs can share one vmapped call.
    """
    _check_steps(steps)
    _check_factors(problem, f0, g0)
    y_norm = jnp.linalg.norm(problem.observations)

    def gd_step(fg):
        grad_f, grad_g = asymmetric_gradient(problem, *fg)
        return fg[0] - step_size * grad_f, fg[1] - step_size * grad_g

    if rebalance_tol is None:
        fg, errors = _iterate(problem, lambda fg, t: gd_step(fg), (f0, g0), _product, steps)
        return Trajectory(fg, errors)

    def update(state, t):
        fg, done = state
        close = jnp.linalg.norm(problem.residual(_product(fg))) < rebalance_tol * y_norm
        trigger = close & ~done
        balanced = rebalance(*fg, rebalance_scale)
        fg = jax.tree.map(lambda b, u: jnp.where(trigger, b, u), balanced, fg)
        return gd_step(fg), done | trigger

    (fg, _), errors = _iterate(
        problem, update, ((f0, g0), jnp.array(False)), lambda s: _product(s[0]), steps
    )
    return Trajectory(fg, errors)


# The smallest damping, in units of machine epsilon times tr(P): see preconditioned_gd.
_GRAM_RESOLUTION = 100


def _damped(gram: Array, grad: Matrix, lam: ArrayLike) -> Matrix:
    r"""$\nabla(P + \lambda I)^{-1}$ for a symmetric Gram matrix $P$ = `gram`, as a solve
    on the transposed system, with $\lambda$ floored at the resolution of $P$
    (see [`preconditioned_gd`][jaxlab.sensing.preconditioned_gd])."""
    lam = jnp.maximum(lam, _GRAM_RESOLUTION * jnp.finfo(gram.dtype).eps * jnp.trace(gram))
    eye = jnp.eye(gram.shape[0], dtype=gram.dtype)
    return jnp.linalg.solve(gram + lam * eye, grad.T).T


def preconditioned_gd(
    problem: SensingProblem,
    f0: Matrix,
    g0: Matrix,
    step_size: ArrayLike,
    steps: int,
    damping: ArrayLike = 0.0,
    damping_scale: ArrayLike = 0.0,
) -> Trajectory:
    r"""Preconditioned GD on $FG^\top$ with damping
    $\lambda_t = \lambda_0 + c\,\|\mathcal{A}(F_tG_t^\top) - y\|$:
    $F \leftarrow F - \eta\,S G(G^\top G + \lambda_t I)^{-1}$,
    $G \leftarrow G - \eta\,S^\top F(F^\top F + \lambda_t I)^{-1}$
    ($\lambda_0$ = `damping`, $c$ = `damping_scale`). ScaledGD($\lambda$) is $c = 0$,
    PrecGD is $\lambda_0 = 0$.

    Each $\lambda_t$ is floored at $100\,\epsilon\operatorname{tr}P$ for its Gram matrix
    $P$ ($G^\top G$ or $F^\top F$, and $X^\top X$ in
    [`preconditioned_symmetric_gd`][jaxlab.sensing.preconditioned_symmetric_gd];
    $\epsilon$ the machine epsilon of the factors' dtype),
    the resolution of $P$ in the working precision. Over-parameterized factors make $P$
    singular, and a smaller damping divides rounding errors by almost zero: in float32,
    ScaledGD with $\lambda_0 = 10^{-8}$ turns to NaN once the error nears $10^{-6}$. In
    float64 the floor is $2\cdot10^{-14}\|G\|_F^2$, below any damping in use."""
    _check_steps(steps)
    _check_factors(problem, f0, g0)

    def update(fg, t):
        f, g = fg
        r = problem.residual(f @ g.T)
        s = problem.adjoint(r)
        lam = damping + damping_scale * jnp.linalg.norm(r)
        step_f = _damped(g.T @ g, s @ g, lam)
        step_g = _damped(f.T @ f, s.T @ f, lam)
        return f - step_size * step_f, g - step_size * step_g

    fg, errors = _iterate(problem, update, (f0, g0), _product, steps)
    return Trajectory(fg, errors)


def preconditioned_symmetric_gd(
    problem: SensingProblem,
    x0: Matrix,
    step_size: ArrayLike,
    steps: int,
    damping: ArrayLike = 0.0,
    damping_scale: ArrayLike = 0.0,
) -> Trajectory:
    r"""Preconditioned GD on $XX^\top$:
    $X \leftarrow X - \eta\,\nabla L(X)(X^\top X + \lambda_t I)^{-1}$ with
    $\lambda_t = \lambda_0 + c\,\|\mathcal{A}(X_tX_t^\top) - y\|$ ($\lambda_0$ = `damping`,
    $c$ = `damping_scale`): ScaledGD($\lambda$) (Xu, Shen, Ma, Chi & Zhang 2023) is
    $c = 0$; PrecGD (Zhang, Fattahi & Zhang 2021) is $\lambda_0 = 0$. $\lambda_t$ is
    floored at the resolution of $X^\top X$, as in
    [`preconditioned_gd`][jaxlab.sensing.preconditioned_gd]."""
    _check_steps(steps)
    _check_factors(problem, x0)

    def update(x, t):
        r = problem.residual(x @ x.T)
        s = problem.adjoint(r)
        lam = damping + damping_scale * jnp.linalg.norm(r)
        gradient = 0.5 * (s + s.T) @ x
        return x - step_size * _damped(x.T @ x, gradient, lam)

    x, errors = _iterate(problem, update, x0, lambda x: x @ x.T, steps)
    return Trajectory((x,), errors)


def scaled_gd(
    problem: SensingProblem,
    f0: Matrix,
    g0: Matrix,
    step_size: ArrayLike,
    steps: int,
    damping: ArrayLike = 1e-8,
) -> Trajectory:
    r"""ScaledGD($\lambda$) (Tong, Ma & Chi 2021; Xu et al. 2023): fixed damping
    $\lambda$ = `damping` in [`preconditioned_gd`][jaxlab.sensing.preconditioned_gd]."""
    return preconditioned_gd(problem, f0, g0, step_size, steps, damping=damping)


def prec_gd(
    problem: SensingProblem,
    f0: Matrix,
    g0: Matrix,
    step_size: ArrayLike,
    steps: int,
    damping_scale: ArrayLike = 1.0,
) -> Trajectory:
    r"""PrecGD (Zhang, Fattahi & Zhang 2021): damping tied to the current fit,
    $\lambda_t = c\,\|\mathcal{A}(F_tG_t^\top) - y\|$, in
    [`preconditioned_gd`][jaxlab.sensing.preconditioned_gd]."""
    return preconditioned_gd(problem, f0, g0, step_size, steps, damping_scale=damping_scale)


def subgradient_method(
    problem: SensingProblem,
    u0: Matrix,
    step_size: ArrayLike,
    decay: ArrayLike,
    steps: int,
) -> Trajectory:
    r"""SubGM on the $\ell_1$ loss (Ma & Fattahi 2023):
    $U_{t+1} = U_t - \eta_0\rho^t D_t$, $D_t$ = [`l1_subgradient`][jaxlab.sensing.l1_subgradient],
    with geometrically decaying steps ($\rho$ = `decay`)."""
    _check_steps(steps)
    _check_factors(problem, u0)

    def update(u, t):
        return u - step_size * decay**t * l1_subgradient(problem, u)

    u, errors = _iterate(problem, update, u0, lambda u: u @ u.T, steps)
    return Trajectory((u,), errors)
