r"""Neural controlled differential equations for irregular time series (Kidger et al. 2020):

$$z(t_0) = \zeta_\theta(x_0), \qquad dz(t) = f_\theta(z(t))\, dX(t), \qquad
\text{output} = \ell_\theta(z(t_\text{end})),$$

where $X$ is a continuous path interpolating the observations $(t_i, x_i)$, with time as a
channel. One series is one sample: batches (series with different observation times,
missing values and lengths) come from `vmap`, each sample keeping its own time grid.
"""

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from .._experiment import ConfigError
from .._model import Setting
from ._ode import ADJOINTS, SOLVERS
from ._settings import concrete, controller, count, named, or_nan, read, step_settings


INTERPOLATIONS = ("hermite", "linear", "rectilinear")


def pad_series(
    times: list[ArrayLike], values: list[ArrayLike]
) -> tuple[Float[Array, "series length"], Float[Array, "series length channels"]]:
    """Stack series of different lengths into NaN-padded arrays (host side).

    **Arguments:** `times[i]` of shape `(length_i,)` and `values[i]` of shape
    `(length_i, channels)`, with NaN for a missing value.

    **Returns:** `(times, values)` of shapes `(series, max_length)` and
    `(series, max_length, channels)`, padded at the end with NaN.
    """
    if len(times) != len(values) or not times:
        raise ConfigError("values: one array per series in times (and at least one series)")
    channels = {np.shape(v)[-1] for v in values}
    if len(channels) != 1 or any(np.ndim(v) != 2 for v in values):
        raise ConfigError("values: arrays of shape (length, channels) with one channel count")
    length = max(len(t) for t in times)
    padded_t = np.full((len(times), length), np.nan)
    padded_v = np.full((len(times), length, channels.pop()), np.nan)
    for i, (t, v) in enumerate(zip(times, values)):
        if len(t) != len(v):
            raise ConfigError(f"values: series {i} has {len(v)} rows for {len(t)} times")
        padded_t[i, : len(t)], padded_v[i, : len(t)] = t, v
    return jnp.asarray(padded_t), jnp.asarray(padded_v)


def _check_observations(times, values):
    if not (concrete(times) and concrete(values)):
        return
    times, values = np.asarray(times), np.asarray(values)
    valid = np.isfinite(times)
    if times.ndim != 1 or values.ndim != 2 or len(times) != len(values):
        raise ConfigError(
            f"values: shape (length, channels) matching times {times.shape}, got {values.shape}"
        )
    length = valid.sum()
    if not valid[:length].all():
        raise ConfigError("times: NaN (padding) only after the last observation time")
    if not np.all(np.diff(times[:length]) > 0):
        raise ConfigError("times: observation times must be strictly increasing")
    if length == 0 or not np.isfinite(values[:length]).any():
        raise ConfigError("values: a series with no observation at all")


def fill_forward(values: Float[ArrayLike, "length channels"]) -> Float[Array, "length channels"]:
    r"""Replace each NaN by the last observed value of its channel, so that row $i$
    depends only on rows $\le i$ (causal). Before a channel's first observation (and
    throughout a channel never observed) the value is 0, the mean of standardized data;
    the `intensity` channels of [`control_path`][jaxlab.nde.control_path] tell such a
    0 from an observed one."""
    observed = ~jnp.isnan(values)
    index = jnp.arange(values.shape[0])[:, None]
    last = jax.lax.cummax(jnp.where(observed, index, -1), axis=0)
    filled = jnp.take_along_axis(values, jnp.maximum(last, 0), axis=0)
    return jnp.where(last >= 0, filled, 0.0)


class ControlPath(eqx.Module):
    r"""The control $X(t)$ of a neural CDE for ONE series, built by
    [`control_path`][jaxlab.nde.control_path].

    `interpolation` is a diffrax global interpolation of the channels; the solve runs over
    $[t_0, t_1]$, which ends at the series' last observation (padding lies beyond $t_1$).
    `jump_ts` are the knots where $dX/dt$ jumps (piecewise-linear paths), else None."""

    interpolation: diffrax.AbstractGlobalInterpolation
    t0: Array
    t1: Array
    jump_ts: Array | None

    @property
    def channels(self) -> int:
        return self.interpolation.evaluate(self.t0).shape[-1]

    def evaluate(self, t: ArrayLike) -> Array:
        return self.interpolation.evaluate(t)


def control_path(
    times: Float[ArrayLike, " length"],
    values: Float[ArrayLike, "length channels"],
    *,
    interpolation: str = "hermite",
    intensity: bool = False,
) -> ControlPath:
    r"""The control path of one irregularly observed series.

    **Arguments:**

    - `times`: observation times, strictly increasing, padded at the end with NaN when the
      series is shorter than the batch (see [`pad_series`][jaxlab.nde.pad_series]).
    - `values`: observations, NaN where a channel was not observed.
    - `interpolation`: `"hermite"` (cubic Hermite with backward differences: $C^1$ and
      causal between knots), `"linear"`, or `"rectilinear"` (time advances with the data
      held, then the data jump: causal, for online use; the path is parameterised by knot
      index, $t \in [0, 2(n-1)]$).
    - `intensity`: append, per channel, the cumulative count of its observations so far
      (the observational intensity), so that the model sees where data were missing.

    Missing values are filled forward per channel, 0 before a channel's first
    observation ([`fill_forward`][jaxlab.nde.fill_forward]); the channels are
    `[time, filled values, (counts)]`. With the rectilinear path, $X$ on $[0, 2k]$ depends
    only on the observations at times $t_0, \dots, t_k$. With the other two, $X$ on
    $[t_0, t_k]$ depends only on those up to $t_k$, but between knots it already sees the
    next observation.
    """
    if interpolation not in INTERPOLATIONS:
        raise ConfigError(
            f"interpolation: one of {', '.join(INTERPOLATIONS)}, got {interpolation!r}"
        )
    times, values = jnp.asarray(times, dtype=float), jnp.asarray(values, dtype=float)
    _check_observations(times, values)
    valid = ~jnp.isnan(times)
    last = jnp.sum(valid) - 1
    index = jnp.arange(times.shape[0])
    # Padding: knots keep increasing past the last observation, the channels stay constant.
    knots = jnp.where(valid, times, times[last] + (index - last))
    observed = ~jnp.isnan(values) & valid[:, None]
    time = jnp.where(valid, times, times[last])
    channels = [fill_forward(jnp.where(observed, values, jnp.nan))]
    if intensity:
        channels.append(jnp.cumsum(observed, axis=0).astype(times.dtype))
    data = jnp.concatenate([time[:, None], *channels], axis=-1)
    if interpolation == "hermite":
        coeffs = diffrax.backward_hermite_coefficients(knots, data)
        return ControlPath(diffrax.CubicInterpolation(knots, coeffs), knots[0], knots[last], None)
    if interpolation == "linear":
        return ControlPath(diffrax.LinearInterpolation(knots, data), knots[0], knots[last], knots)
    # Time advances with the data held, then the data jump at a fixed time.
    time, data = diffrax.rectilinear_interpolation(knots, jnp.concatenate(channels, axis=-1))
    data = jnp.concatenate([jnp.minimum(time, knots[last])[:, None], data], axis=-1)
    steps = jnp.arange(data.shape[0], dtype=times.dtype)
    return ControlPath(diffrax.LinearInterpolation(steps, data), steps[0], 2.0 * last, steps)


class CDEField(eqx.Module):
    r"""$f_\theta(z)$: an MLP from the hidden state to a `(hidden, channels)` matrix, with a
    final tanh (which keeps the CDE well posed and its solution bounded in practice)."""

    mlp: eqx.nn.MLP
    hidden: int = eqx.field(static=True)
    channels: int = eqx.field(static=True)

    def __init__(self, hidden: int, channels: int, width: int, depth: int, *, key: PRNGKeyArray):
        self.hidden, self.channels = hidden, channels
        self.mlp = eqx.nn.MLP(
            hidden,
            hidden * channels,
            width,
            depth,
            activation=jax.nn.softplus,
            final_activation=jnp.tanh,
            key=key,
        )

    def __call__(self, t, z, args):
        return self.mlp(z).reshape(self.hidden, self.channels)


class NeuralCDE(eqx.Module):
    r"""A neural CDE classifier/regressor of one [`ControlPath`][jaxlab.nde.ControlPath]: returns
    $\ell_\theta(z(t_1))$ (logits, or regression outputs).

    **Arguments:** `channels` (of the control path, time and intensity channels included),
    `hidden`, `outputs`, `width`/`depth` of the vector field's MLP, and, as in
    [`NeuralODE`][jaxlab.nde.NeuralODE], `solver` and `adjoint` (names or diffrax
    objects), `rtol`, `atol` and `dt0` ([`Setting`][jaxlab.Setting]s: a PID controller, or
    a constant step `dt0` with `rtol=atol=None`) and `max_steps` (a solve that needs more
    returns NaN). An adaptive step stops at the knots of a piecewise-linear path.
    """

    initial: eqx.nn.Linear
    vector_field: CDEField
    readout: eqx.nn.Linear
    solver: diffrax.AbstractSolver
    adjoint: diffrax.AbstractAdjoint
    rtol: Setting | None
    atol: Setting | None
    dt0: Setting | None
    max_steps: int = eqx.field(static=True)

    def __init__(
        self,
        channels: int,
        hidden: int,
        outputs: int,
        *,
        width: int = 128,
        depth: int = 1,
        solver: str | diffrax.AbstractSolver = "tsit5",
        adjoint: str | diffrax.AbstractAdjoint = "recursive_checkpoint",
        rtol: ArrayLike | None = 1e-3,
        atol: ArrayLike | None = 1e-5,
        dt0: ArrayLike | None = None,
        max_steps: int = 4096,
        key: PRNGKeyArray,
    ):
        self.rtol, self.atol, self.dt0 = step_settings(rtol, atol, dt0)
        for name, value in (("channels", channels), ("hidden", hidden), ("outputs", outputs)):
            count(name, value)
        k_initial, k_field, k_readout = jax.random.split(key, 3)
        self.initial = eqx.nn.Linear(channels, hidden, key=k_initial)
        self.vector_field = CDEField(hidden, channels, width, depth, key=k_field)
        self.readout = eqx.nn.Linear(hidden, outputs, key=k_readout)
        self.solver = named("solver", SOLVERS, solver)
        self.adjoint = named("adjoint", ADJOINTS, adjoint)
        self.max_steps = count("max_steps", max_steps)

    @property
    def channels(self) -> int:
        return self.vector_field.channels

    def hidden_state(self, path: ControlPath) -> Array:
        """$z(t_1)$, the hidden state at the end of the path (NaN if the solve failed)."""
        if path.channels != self.channels:
            raise ConfigError(
                f"path: {path.channels} channels, but the model expects {self.channels}"
            )
        steps = controller(self.rtol, self.atol)
        if path.jump_ts is not None and self.rtol is not None:
            steps = diffrax.ClipStepSizeController(steps, jump_ts=path.jump_ts)
        solution = diffrax.diffeqsolve(
            diffrax.ControlTerm(self.vector_field, path.interpolation).to_ode(),
            self.solver,
            path.t0,
            path.t1,
            read(self.dt0),
            self.initial(path.evaluate(path.t0)),
            saveat=diffrax.SaveAt(t1=True),
            stepsize_controller=steps,
            adjoint=self.adjoint,
            max_steps=self.max_steps,
            throw=False,
        )
        return or_nan(solution, solution.ys[-1])

    def __call__(self, path: ControlPath) -> Array:
        return self.readout(self.hidden_state(path))
