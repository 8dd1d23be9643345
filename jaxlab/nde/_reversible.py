r"""The reversible Heun solver and its exact reversible adjoint (Kidger, Foster, Li and
Lyons, *Efficient and Accurate Gradients for Neural SDEs*, NeurIPS 2021).

For $dy = f(t, y)\,dt + g(t, y)\,dW$ (an ODE when $g = 0$) write $F = (f, g)$ and
$F(t, y)\,\Delta_n = f(t, y)\,\Delta t_n + g(t, y)\,\Delta W_n$. The solver carries
$(y_n, \hat y_n, v_n)$ with $v_n = F(t_n, \hat y_n)$ cached, starts from
$\hat y_0 = y_0$, and steps

$$\hat y_{n+1} = 2 y_n - \hat y_n + v_n \Delta_n,\qquad
v_{n+1} = F(t_{n+1}, \hat y_{n+1}),\qquad
y_{n+1} = y_n + \tfrac12 (v_n + v_{n+1}) \Delta_n .$$

The step inverts algebraically: $2 y_{n+1} - \hat y_{n+1} - v_{n+1}\Delta_n
= 2 y_n + v_n \Delta_n - \hat y_{n+1} = \hat y_n$, then $v_n = F(t_n, \hat y_n)$ and
$y_n = y_{n+1} - \tfrac12 (v_n + v_{n+1}) \Delta_n$. The backward pass therefore keeps
only the final state: it walks the steps in reverse, reconstructs each state from the
next, and pulls the cotangents back through one step at a time. The only nonlinear part
of a step is $F$, and each $F(t_n, \hat y_n)$ is pulled back once, with the total
cotangent of both steps that use it:

$$b_n = \bar v_n + \tfrac12 \Delta_{n-1}^\top \bar y_n,\qquad
\bar v_n = \Delta_n^\top(\tfrac12 \bar y_{n+1} + \bar{\hat y}_{n+1}),\qquad
\bar y_n = \bar y_{n+1} + 2 \bar{\hat y}_{n+1},$$

$\bar{\hat y}_n = -\bar{\hat y}_{n+1} + \partial_{\hat y} F^\top b_n$ and
$\bar\theta \mathrel{+}= \partial_\theta F^\top b_n$ ($\bar y$, $\bar{\hat y}$ total
cotangents, $\bar{\hat y}_N = \partial_{\hat y} F(t_N, \hat y_N)^\top \tfrac12
\Delta_{N-1}^\top \bar y_N$). So the backward pass costs one evaluation and one
vector-Jacobian product of $F$ per step, as backpropagation does, and its memory does not
depend on the number of steps. The gradients are those of backpropagating through the
solver, up to the round-off of the reconstruction.

**The limit: dissipative fields.** On $y' = \lambda y$ with $z = \lambda\,\Delta t$, one
step maps $(y_n, \hat y_n)$ by $M = \begin{pmatrix} 1 + z & z^2/2 \\ 2 & z - 1
\end{pmatrix}$, with $\det M = -1$ and eigenvalues $\mu_\pm = z \pm \sqrt{z^2 + 1}$.
Both have modulus 1 (the solve is stable forwards and backwards) only for $z$ on the
imaginary segment $[-i, i]$. For a dissipative direction, $z < 0$ real, one mode grows by
$\rho = |z| + \sqrt{1 + z^2} \approx e^{|z|}$ per step either way. Forwards it is the
parasitic mode $\mu_-$, which starts at $O(z^2)$, so over long times the forward solve
itself drifts from the solution. Backwards it is the physical mode ($1/\mu_+ = \rho$): the
round-off $\varepsilon$ of the final state (relative to its size, $\hat y$ included) is
multiplied by $\rho^N \approx e^{|\lambda| T}$ in the reconstructed $y_0$, and the
gradients, evaluated at the reconstructed states, drift with them. On $y' = -\lambda y$
over $T = 4$ with 25 steps per unit time, the reconstruction error at $t_0$ ($|y_0| = 1$)
measured $1.2 \cdot 10^{-7}$, $7 \cdot 10^{-5}$, $0.42$ and $1.5 \cdot 10^3$ for
$\lambda = 1, 2, 3, 4$ in float32, and $6 \cdot 10^{-6}$ at $\lambda = 4$ in float64.
[`reconstruction_error`][jaxlab.nde.reconstruction_error] measures it for a given field,
so a user can check it before trusting the gradients.
"""

from collections.abc import Callable

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array, ArrayLike, Float, PyTree

from .._experiment import ConfigError


class ReversibleAdjoint(eqx.Module):
    """The exact reversible adjoint of the reversible Heun solver, for
    [`NeuralODE`][jaxlab.nde.NeuralODE] (`adjoint="reversible"` is `ReversibleAdjoint()`); see
    [`reversible_heun`][jaxlab.nde.reversible_heun].

    It needs a fixed step grid that `jit` can trace with the output times `ts` as values:
    each interval $[t_i, t_{i+1}]$ of `ts` is split into `substeps` equal steps. (It is not a
    diffrax adjoint: `diffrax.diffeqsolve` does not accept it.)

    **Arguments:** `substeps`, a positive integer (static: a new value recompiles).
    """

    substeps: int = eqx.field(default=1, static=True)

    def __check_init__(self):
        _check_substeps(self.substeps)


def _check_substeps(substeps):
    if isinstance(substeps, bool) or not isinstance(substeps, int) or substeps < 1:
        raise ConfigError(f"substeps: a positive integer, got {substeps!r}")


def _terms(fields, brownian) -> diffrax.AbstractTerm:
    drift, diffusion = fields
    if diffusion is None:
        return diffrax.ODETerm(drift)
    return diffrax.MultiTerm(diffrax.ODETerm(drift), diffrax.ControlTerm(diffusion, brownian))


def _time(ts, substeps: int, i, k):
    """Grid point `k` of `[ts[i], ts[i+1]]` split into `substeps` equal steps (exact at
    `k = 0` and `k = substeps`)."""
    w = jnp.asarray(k, ts.dtype) / substeps
    return (1 - w) * ts[i] + w * ts[i + 1]


def _grid(ts, substeps: int):
    """Every step time: each interval of `ts` split into `substeps` equal steps (by
    `_time`), then `ts[-1]`; `ts[i]` is at index `i * substeps`."""
    intervals = ts.shape[0] - 1
    i = jnp.repeat(jnp.arange(intervals), substeps)
    k = jnp.tile(jnp.arange(substeps), intervals)
    inner = jax.vmap(lambda i, k: _time(ts, substeps, i, k))(i, k)
    return jnp.concatenate([inner, ts[-1:]])


def _add(*trees):
    return jax.tree.map(lambda *xs: sum(xs[1:], xs[0]), *trees)


def _step(terms, t0, t1, state, args):
    """One reversible Heun step $(y_n, \\hat y_n, v_n) \\mapsto (y_{n+1}, \\hat y_{n+1},
    v_{n+1})$ from `t0` to `t1` (the same arithmetic as `diffrax.ReversibleHeun`)."""
    y0, yhat0, vf0 = state
    control = terms.contr(t0, t1)
    yhat1 = jax.tree.map(lambda y, yh, d: 2 * y - yh + d, y0, yhat0, terms.prod(vf0, control))
    vf1 = terms.vf(t1, yhat1, args)
    y1 = jax.tree.map(lambda y, d: y + 0.5 * d, y0, terms.prod(_add(vf0, vf1), control))
    return y1, yhat1, vf1


def _unstep(terms, t0, t1, state, args):
    """The inverse of `_step`: $(y_{n+1}, \\hat y_{n+1}, v_{n+1}) \\mapsto (y_n, \\hat y_n,
    v_n)$."""
    y1, yhat1, vf1 = state
    control = terms.contr(t0, t1)
    yhat0 = jax.tree.map(lambda y, yh, d: 2 * y - yh - d, y1, yhat1, terms.prod(vf1, control))
    vf0 = terms.vf(t0, yhat0, args)
    y0 = jax.tree.map(lambda y, d: y - 0.5 * d, y1, terms.prod(_add(vf0, vf1), control))
    return y0, yhat0, vf0


def _forward(diff, ts, brownian, substeps: int):
    """All the steps, keeping only $y$ at `ts`: returns `(ys, final_state)`."""
    y0, fields, args = diff
    terms = _terms(fields, brownian)

    def interval(state, i):
        def step(k, state):
            t0, t1 = _time(ts, substeps, i, k), _time(ts, substeps, i, k + 1)
            return _step(terms, t0, t1, state, args)

        state = lax.fori_loop(0, substeps, step, state)
        return state, state[0]

    state = (y0, y0, terms.vf(ts[0], y0, args))
    state, ys = lax.scan(interval, state, jnp.arange(ts.shape[0] - 1))
    ys = jax.tree.map(lambda first, rest: jnp.concatenate([first[None], rest]), y0, ys)
    return ys, state


@eqx.filter_custom_vjp
def _solve(diff, ts, brownian, substeps):
    return _forward(diff, ts, brownian, substeps)[0]


@_solve.def_fwd
def _solve_fwd(perturbed, diff, ts, brownian, substeps):
    del perturbed
    return _forward(diff, ts, brownian, substeps)


@_solve.def_bwd
def _solve_bwd(final_state, ys_bar, perturbed, diff, ts, brownian, substeps):
    y0, fields, args = diff
    params, static = eqx.partition((fields, args), perturbed[1:])
    terms = _terms(fields, brownian)  # its `contr` and `prod` do not depend on the params
    n_out, n_steps = ts.shape[0], (ts.shape[0] - 1) * substeps

    def vf(t, yhat, params):
        fields, args = eqx.combine(params, static)
        return _terms(fields, brownian).vf(t, yhat, args)

    prod = terms.prod

    def prod_transpose(cotangent, control, vf_like):
        return jax.linear_transpose(lambda v: prod(v, control), vf_like)(cotangent)[0]

    def time(m):
        i = jnp.minimum(m // substeps, n_out - 2)
        return _time(ts, substeps, i, m - i * substeps)

    if ys_bar is None:
        ys_bar = jax.tree.map(lambda y: jnp.zeros((n_out, *y.shape), y.dtype), y0)
    else:
        ys_bar = jax.tree.map(
            lambda y, b: jnp.zeros((n_out, *y.shape), y.dtype) if b is None else b,
            y0,
            ys_bar,
            is_leaf=lambda b: b is None,
        )

    def node(j, carry):
        """Node m = N - j. In: y_{m+1}, yhat_m, v_{m+1}, Delta_m and the cotangents of y_m,
        yhat_m, v_m from step m. Pulls F(t_m, yhat_m) back, reconstructs y_m, and goes
        back through the linear part of step m - 1 (reconstructing yhat_{m-1})."""
        m = n_steps - j
        y1, yhat, vf1, control, y_bar, yhat_bar, vf_bar, g_params = carry
        t = time(m)
        vf_value, pull = jax.vjp(lambda yh, p: vf(t, yh, p), yhat, params)
        y = jax.tree.map(lambda a, d: a - 0.5 * d, y1, prod(_add(vf_value, vf1), control))
        control_prev = terms.contr(time(jnp.maximum(m - 1, 0)), t)
        control_prev = jax.tree.map(lambda c: jnp.where(m == 0, 0, c), control_prev)
        at_output = m % substeps == 0
        y_bar = jax.tree.map(
            lambda a, b: a + jnp.where(at_output, b[m // substeps], 0), y_bar, ys_bar
        )
        half_y_bar = jax.tree.map(lambda a: 0.5 * a, y_bar)
        g_yhat, g = pull(_add(vf_bar, prod_transpose(half_y_bar, control_prev, vf_value)))
        yhat_bar = _add(yhat_bar, g_yhat)
        # Step m - 1, backwards: its linear part, and the reconstruction of yhat_{m-1}.
        vf_bar = prod_transpose(_add(half_y_bar, yhat_bar), control_prev, vf_value)
        y_bar = jax.tree.map(lambda a, b: a + 2 * b, y_bar, yhat_bar)
        yhat_bar = jax.tree.map(jnp.negative, yhat_bar)
        yhat = jax.tree.map(lambda a, b, d: 2 * a - b - d, y, yhat, prod(vf_value, control_prev))
        return y, yhat, vf_value, control_prev, y_bar, yhat_bar, vf_bar, _add(g_params, g)

    # Node N is reached from a virtual step N with a zero control (so y_{N+1} = y_N).
    y_n, yhat_n, vf_n = final_state
    no_control = jax.tree.map(
        lambda c: jnp.zeros(c.shape, c.dtype), jax.eval_shape(terms.contr, ts[-1], ts[-1])
    )
    zero_y, zero_vf = (jax.tree.map(jnp.zeros_like, x) for x in (y0, vf_n))
    zero_params = jax.tree.map(jnp.zeros_like, params)
    carry = (y_n, yhat_n, zero_vf, no_control, zero_y, zero_y, zero_vf, zero_params)
    carry = lax.fori_loop(0, n_steps + 1, node, carry)
    # After node 0 (whose previous control is zero): y_bar + yhat_bar is the cotangent of
    # y0 = yhat0.
    _, _, _, _, y_bar, yhat_bar, _, g_params = carry
    y0_bar = jax.tree.map(lambda a, b, p: (a + b) if p else None, y_bar, yhat_bar, perturbed[0])
    return (y0_bar, *g_params)


def _stop(tree):
    return jax.tree.map(lambda x: lax.stop_gradient(x) if eqx.is_inexact_array(x) else x, tree)


def _prepare(drift, y0, ts, args, diffusion, brownian, substeps):
    """Checked arguments, as `((y0, (drift, diffusion), args), ts, brownian)`."""
    _check_substeps(substeps)
    if (diffusion is None) != (brownian is None):
        name = "brownian" if brownian is None else "diffusion"
        raise ConfigError(f"{name}: give both diffusion and brownian (an SDE) or neither (an ODE)")
    leaves = jax.tree.leaves(y0)
    if not leaves or not all(jnp.issubdtype(jnp.result_type(x), jnp.floating) for x in leaves):
        raise ConfigError(f"y0: a pytree of floating-point arrays, got {y0!r}")
    y0 = jax.tree.map(jnp.asarray, y0)
    ts = jnp.asarray(ts)
    if ts.ndim != 1 or ts.shape[0] < 2:
        raise ConfigError(f"ts: a vector of at least two times, got shape {ts.shape}")
    if not isinstance(ts, jax.core.Tracer) and not np.all(np.diff(np.asarray(ts)) > 0):
        raise ConfigError("ts: times must be strictly increasing")
    ts = lax.stop_gradient(ts.astype(jnp.result_type(*leaves)))
    brownian = _stop(brownian)
    drift = eqx.filter_closure_convert(drift, ts[0], y0, args)
    if diffusion is not None:
        diffusion = eqx.filter_closure_convert(diffusion, ts[0], y0, args)
    return (y0, (drift, diffusion), args), ts, brownian


def reversible_heun(
    drift: Callable,
    y0: PyTree[Float[ArrayLike, "..."]],
    ts: Float[ArrayLike, " times"],
    args: PyTree = None,
    *,
    diffusion: Callable | None = None,
    brownian: diffrax.AbstractBrownianPath | None = None,
    substeps: int = 1,
) -> PyTree[Float[Array, "times ..."]]:
    r"""Solve $dy = f(t, y)\,dt + g(t, y)\,dW$ (Stratonovich; an ODE without `diffusion`)
    with the reversible Heun method, differentiated by its exact reversible adjoint.

    Reverse-mode gradients (`jax.grad`) with respect to `y0`, `args` and the arrays of
    `drift` and `diffusion` (modules, or functions closing over arrays or tracers) equal
    those of backpropagating through the solver, at a memory cost independent of the number
    of steps (see the module docstring). Forward mode (`jax.jvp`) is not supported.
    The backward pass reconstructs the states, which is exact only up to round-off grown
    by $e^{|\lambda| T}$ along a dissipative direction (Jacobian eigenvalue $\lambda < 0$);
    [`reconstruction_error`][jaxlab.nde.reconstruction_error] measures it.

    **Arguments:**

    - `drift`: `f(t, y, args)`, a pytree like `y`.
    - `y0`: the initial state, a pytree of floating arrays.
    - `ts`: the output times, strictly increasing, at least two. Each interval
      $[t_i, t_{i+1}]$ is split into `substeps` equal steps (`ts` may be traced: new
      values do not recompile). They receive no gradient, nor does `brownian`.
    - `args`: passed to `drift` and `diffusion`.
    - `diffusion`: `g(t, y, args)`, for an array `y` an array of shape
      `y.shape + w.shape`, multiplied into the Brownian increment $\Delta W$ of shape
      `w.shape` (as `diffrax.ControlTerm`).
    - `brownian`: the Brownian motion, required with `diffusion`: a
      `diffrax.VirtualBrownianTree` covering `[ts[0], ts[-1]]`, in `y0`'s dtype (the
      backward pass evaluates it again, so it must be deterministic).
    - `substeps`: the number of equal steps per interval of `ts` (static).

    **Returns:** $y$ at `ts`: `y0`'s pytree with a leading axis of length `len(ts)`,
    `ys[0]` being `y0`.
    """
    diff, ts, brownian = _prepare(drift, y0, ts, args, diffusion, brownian, substeps)
    return _solve(diff, ts, brownian, substeps)


def reconstruction_error(
    drift: Callable,
    y0: PyTree[Float[ArrayLike, "..."]],
    ts: Float[ArrayLike, " times"],
    args: PyTree = None,
    *,
    diffusion: Callable | None = None,
    brownian: diffrax.AbstractBrownianPath | None = None,
    substeps: int = 1,
) -> PyTree[Float[Array, "times ..."]]:
    r"""How far the backward pass of [`reversible_heun`][jaxlab.nde.reversible_heun]
    strays: the states at `ts` that it reconstructs by running the steps backwards from
    the final state, minus the states of the forward solve.

    Zero up to round-off where the field keeps $\lambda\,\Delta t$ on $[-i, i]$; about
    $\varepsilon\,e^{|\lambda| T}$ or more for a dissipative field with a Jacobian
    eigenvalue $\lambda < 0$ over a time $T$ (see the module docstring). The gradients of
    `reversible_heun` are those of backpropagation evaluated at the reconstructed states,
    so check this against the accuracy they need. Same arguments as `reversible_heun`.

    **Returns:** `y0`'s pytree with a leading axis of length `len(ts)` (the last entry
    is zero: the backward pass starts from the final state).
    """
    (y0, fields, args), ts, brownian = _prepare(drift, y0, ts, args, diffusion, brownian, substeps)
    ys, state = _forward((y0, fields, args), ts, brownian, substeps)
    terms = _terms(fields, brownian)

    def interval(state, i):
        def unstep(j, state):
            k = substeps - 1 - j
            t0, t1 = _time(ts, substeps, i, k), _time(ts, substeps, i, k + 1)
            return _unstep(terms, t0, t1, state, args)

        state = lax.fori_loop(0, substeps, unstep, state)
        return state, state[0]

    _, back = lax.scan(interval, state, jnp.arange(ts.shape[0] - 1), reverse=True)
    last = jax.tree.map(lambda y: y[-1:], ys)
    back = jax.tree.map(lambda b, y: jnp.concatenate([b, y]), back, last)
    return jax.tree.map(jnp.subtract, back, ys)
