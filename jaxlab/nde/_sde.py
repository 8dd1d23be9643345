r"""Neural SDEs on diffrax.

- [`LatentSDE`][jaxlab.nde.LatentSDE] (Li et al., *Scalable gradients for SDEs*, 2020): a
  prior $\mathrm{d}z = f_\theta(t, z)\,\mathrm{d}t + g(t, z)\,\mathrm{d}W$ and a posterior
  $\mathrm{d}z = h_\phi(t, z, c_t)\,\mathrm{d}t + g(t, z)\,\mathrm{d}W$ sharing the
  diffusion, trained by the evidence lower bound

  $$\log p(x) \ge \mathbb{E}_q\Big[\sum_i \log p(x_{t_i} \mid z_{t_i})
  - \mathrm{KL}(q(z_0) \,\|\, p(z_0)) - \int_{t_0}^{t_1} \tfrac12
  \big|(h_\phi - f_\theta)/g\big|^2 \mathrm{d}t\Big].$$

- [`SDEGenerator`][jaxlab.nde.SDEGenerator] against a
  [`CDEDiscriminator`][jaxlab.nde.CDEDiscriminator] (Kidger et al., *Neural SDEs as
  infinite-dimensional GANs*, 2021, and *Efficient and accurate gradients for neural SDEs*,
  2021): a Wasserstein GAN whose critic is kept Lipschitz by
  [`LipSwish`][jaxlab.nde.LipSwish] activations and [`clip_weights`][jaxlab.nde.clip_weights]
  instead of a gradient penalty.

Every SDE is driven by a `diffrax.VirtualBrownianTree` (deterministic given its key, and
safe to backpropagate through). Solvers are diffrax's, stepped by its manual-stepping API in a
`lax.scan` over the observation times `ts`, each interval cut into `substeps` equal steps:
the steps and the tree's tolerance `tol` are arrays (new values do not recompile), and
reverse-mode differentiation stores every step (no recomputation: the paths are short).
"""

from collections.abc import Callable

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray, Scalar

from ._ode import SOLVERS, _concrete, _named


SDE_SOLVERS = {
    "euler": diffrax.Euler,  # Itô, strong order 0.5
    "ito_milstein": diffrax.ItoMilstein,  # Itô, strong order 1 (commutative noise)
    "heun": diffrax.Heun,  # Stratonovich, from here on
    "midpoint": diffrax.Midpoint,
    "euler_heun": diffrax.EulerHeun,
    "reversible_heun": diffrax.ReversibleHeun,
    "stratonovich_milstein": diffrax.StratonovichMilstein,
}


class LipSwish(eqx.Module):
    r"""$x \mapsto 0.909\, x\, \sigma(x)$: the SiLU scaled to be 1-Lipschitz (the slope of
    $x\sigma(x)$ peaks at about 1.0998, and $0.909 \times 1.0998 < 1$)."""

    def __call__(self, x: Array) -> Array:
        return 0.909 * jax.nn.silu(x)


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


class DiagonalDiffusion(eqx.Module):
    r"""$g(t, z) = (g_1(t, z_1), \dots, g_d(t, z_d))$ with values in $(0, 1)$: one small MLP
    per latent dimension, each of $(t, z_i)$ only. The noise is diagonal, hence commutative
    (the Milstein solvers apply)."""

    mlps: eqx.nn.MLP  # stacked over the latent dimensions

    def __init__(self, size: int, width: int, depth: int, *, key: PRNGKeyArray):
        def make(k):
            return eqx.nn.MLP(
                2,
                "scalar",
                width,
                depth,
                activation=jax.nn.softplus,
                final_activation=jax.nn.softplus,
                key=k,
            )

        self.mlps = eqx.filter_vmap(make)(jax.random.split(key, size))

    def __call__(self, t, z: Float[Array, " d"]) -> Float[Array, " d"]:
        t = jnp.asarray(t, z.dtype)
        return eqx.filter_vmap(lambda mlp, zi: mlp(jnp.stack([t, zi])))(self.mlps, z)


def _settings(solver, table, tol, substeps):
    """Validated `(solver, tol, substeps)`."""
    if tol is not None and _concrete(tol) and not float(tol) > 0:
        raise ValueError(f"tol: a positive number or None, got {tol!r}")
    if not isinstance(substeps, int) or substeps < 1:
        raise ValueError(f"substeps: a positive integer, got {substeps!r}")
    tol = None if tol is None else jnp.asarray(tol, dtype=float)
    return _named("solver", table, solver), tol, substeps


def _grid(ts, substeps: int):
    """`ts` with each interval cut into `substeps` equal steps (no gradient)."""
    if _concrete(ts) and not np.all(np.diff(np.asarray(ts)) > 0):
        raise ValueError("ts: times must be strictly increasing")
    ts = jax.lax.stop_gradient(ts)
    fractions = jnp.arange(substeps, dtype=ts.dtype) / substeps
    starts = ts[:-1, None] + jnp.diff(ts)[:, None] * fractions
    return jnp.concatenate([starts.reshape(-1), ts[-1:]])


def _integrate(terms, solver, ts, y0, substeps, args=None):
    """Step `solver` over the grid of `ts` refined `substeps` times, as a `lax.scan` of
    diffrax's manual-stepping API, and return the states at `ts`. `args` (optional) has a
    leading axis over the intervals of `ts`: interval $i$'s steps receive `args[i]`."""
    grid = _grid(ts, substeps)
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


def _sde_solve(drift, diffusion, noise_size, solver, ts, y0, key, tol, substeps, args=None):
    r"""$\mathrm{d}y = \text{drift}\,\mathrm{d}t + \text{diffusion}\,\mathrm{d}W$ with $W$
    a virtual Brownian tree of shape `(noise_size,)` on `[ts[0], ts[-1]]`, to tolerance
    `tol` (default: half the smallest step)."""
    ts = jax.lax.stop_gradient(ts)
    if tol is None:
        tol = jnp.min(jnp.diff(ts)) / (2 * substeps)
    brownian = diffrax.VirtualBrownianTree(
        ts[0],
        ts[-1],
        tol=jax.lax.stop_gradient(tol).astype(ts.dtype),
        shape=jax.ShapeDtypeStruct((noise_size,), ts.dtype),
        key=key,
    )
    terms = diffrax.MultiTerm(diffrax.ODETerm(drift), diffrax.ControlTerm(diffusion, brownian))
    return _integrate(terms, solver, ts, y0, substeps, args)


def _gaussian_kl(mean_q, log_std_q, mean_p, log_std_p) -> Scalar:
    r"""$\mathrm{KL}(\mathcal N(m_q, s_q^2) \,\|\, \mathcal N(m_p, s_p^2))$, summed over
    dimensions."""
    ratio = jnp.exp(2 * (log_std_q - log_std_p))
    return 0.5 * jnp.sum(
        ratio + (mean_q - mean_p) ** 2 * jnp.exp(-2 * log_std_p) - 1 - jnp.log(ratio)
    )


def _next_observed(ts, ys):
    """Per time $t_i$ and channel: the next observed value at a time $\\ge t_i$, that
    time, and whether there is one."""

    def step(carry, x):
        value, time, seen = carry
        y, t = x
        here = ~jnp.isnan(y)
        carry = (jnp.where(here, y, value), jnp.where(here, t, time), seen | here)
        return carry, carry

    init = (jnp.zeros_like(ys[0]), jnp.full_like(ys[0], ts[-1]), jnp.zeros(ys.shape[1], bool))
    return jax.lax.scan(step, init, (ys, ts.astype(ys.dtype)), reverse=True)[1]


class LatentSDE(eqx.Module):
    r"""A latent SDE (Li et al. 2020), for one path $x$ observed at the times `ts`.

    - Encoder: a GRU run backwards in time over the observed $(x_{t_i}, t_i)$ (a missing
      value, NaN, is skipped), so that its state $e_i$ summarises the observations at
      $t_i, t_{i+1}, \dots$. On $[t_i, t_{i+1})$ the posterior drift receives the context
      $c_t = (W_c e_{i+1}, \tau, \delta, \delta / (\tau + \Delta))$, where $\hat x$ is the
      next observed value (at a time $\ge t_{i+1}$), $\tau$ the time left to it,
      $\delta = \hat x - D z_t$ the gap to it and $\Delta$ the solver step. Li et al. give
      the GRU context alone; the extra features let the drift steer $z$ towards the next
      observation like a Brownian bridge (whose drift is $\delta / \tau$) within a few
      hundred steps. Without them the posterior cannot follow the data, and the ELBO
      is maximised with too small a diffusion.
    - $q(z_0 \mid x) = \mathcal N(\mu, \mathrm{diag}\,s^2)$ from $e_0$; the prior
      $p(z_0) = \mathcal N(m, \mathrm{diag}\,r^2)$ is learned.
    - Prior drift $f_\theta(t, z)$, posterior drift $h_\phi(t, z, c)$ and a shared diagonal
      diffusion $g(t, z)$ ([`DiagonalDiffusion`][jaxlab.nde.DiagonalDiffusion]). The
      path KL (Girsanov) $\int \tfrac12 |(h_\phi - f_\theta)/g|^2 \mathrm{d}t$ is solved for
      as an extra state next to $z$, by the same solver and Brownian path.
    - Decoder: linear, $p(x_t \mid z_t) = \mathcal N(D z_t, \sigma_{obs}^2 I)$ with a fixed
      $\sigma_{obs}$ (`obs_std`, receives no gradient).

    **Arguments:**

    - `data_size`, `latent_size`, `context_size`, `hidden_size` (the GRU's), and `width`,
      `depth` of the drift MLPs (the diffusion MLPs have depth 1).
    - `obs_std`: the observation noise $\sigma_{obs}$.
    - `solver`: a name from `SDE_SOLVERS` (`"euler"`, `"ito_milstein"`, `"heun"`,
      `"reversible_heun"`, ...) or a diffrax SDE solver. Itô and Stratonovich solvers give
      different SDEs when $g$ depends on $z$; the KL is the same formula.
    - `substeps`: solver steps per interval of `ts` (the step, $\Delta t_i$ / `substeps`,
      follows from the array `ts`: new times do not recompile).
    - `tol`: the Brownian tree's tolerance, an array (default: half the smallest step).
    """

    prior_drift: Callable
    posterior_drift: Callable
    diffusion: Callable
    encoder: eqx.nn.GRUCell
    context: eqx.nn.Linear
    posterior_initial: eqx.nn.Linear
    prior_initial: Float[Array, "2 latent"]
    decoder: eqx.nn.Linear
    obs_std: Array
    solver: diffrax.AbstractSolver
    tol: Array | None
    substeps: int = eqx.field(static=True)

    def __init__(
        self,
        data_size: int,
        latent_size: int,
        context_size: int,
        hidden_size: int,
        width: int,
        depth: int,
        *,
        obs_std: ArrayLike = 0.05,
        solver: str | diffrax.AbstractSolver = "euler",
        substeps: int = 1,
        tol: ArrayLike | None = None,
        key: PRNGKeyArray,
    ):
        if _concrete(obs_std) and not float(obs_std) > 0:
            raise ValueError(f"obs_std: a positive number, got {obs_std!r}")
        keys = jax.random.split(key, 7)
        softplus = jax.nn.softplus
        self.prior_drift = _Field(
            latent_size, latent_size, width, depth, activation=softplus, key=keys[0]
        )
        self.posterior_drift = _Field(
            latent_size + context_size + 3 * data_size,
            latent_size,
            width,
            depth,
            activation=softplus,
            key=keys[1],
        )
        self.diffusion = DiagonalDiffusion(latent_size, width, 1, key=keys[2])
        self.encoder = eqx.nn.GRUCell(2 * data_size + 1, hidden_size, key=keys[3])
        self.context = eqx.nn.Linear(hidden_size, context_size, key=keys[4])
        self.posterior_initial = eqx.nn.Linear(hidden_size, 2 * latent_size, key=keys[5])
        self.prior_initial = jnp.zeros((2, latent_size))
        self.decoder = eqx.nn.Linear(latent_size, data_size, key=keys[6])
        self.obs_std = jnp.asarray(obs_std, dtype=float)
        self.solver, self.tol, self.substeps = _settings(solver, SDE_SOLVERS, tol, substeps)

    @property
    def latent_size(self) -> int:
        return self.prior_initial.shape[1]

    def _encode(self, ts, ys):
        """GRU states $e_i$ (summarising the observations at $t_j \\ge t_i$), backwards."""
        seen = ~jnp.isnan(ys)
        inputs = jnp.concatenate([jnp.where(seen, ys, 0), seen.astype(ys.dtype), ts[:, None]], 1)

        def step(state, x):
            inp, any_seen = x
            state = jnp.where(any_seen, self.encoder(inp, state), state)
            return state, state

        hidden = jnp.zeros(self.encoder.hidden_size, ys.dtype)
        return jax.lax.scan(step, hidden, (inputs, seen.any(1)), reverse=True)[1]

    def posterior(
        self, ts: Float[Array, " times"], ys: Float[Array, "times data"], key: PRNGKeyArray
    ) -> tuple[Float[Array, "times latent"], Scalar, Scalar]:
        """A posterior sample $z_{t_i}$ given the path `ys` (NaN = missing), with
        $\\mathrm{KL}(q(z_0) \\| p(z_0))$ and the path KL up to `ts[-1]`."""
        states = self._encode(ts, ys)
        mean, log_std = jnp.split(self.posterior_initial(states[0]), 2)
        k0, kw = jax.random.split(key)
        z0 = mean + jnp.exp(log_std) * jax.random.normal(k0, mean.shape, mean.dtype)
        kl0 = _gaussian_kl(mean, log_std, *self.prior_initial)

        def drift(t, y, args):
            z, (context, x_next, t_next, seen, step) = y[:-1], args
            tau = (t_next - t).astype(z.dtype)
            gap = jnp.where(seen, x_next - self.decoder(z), 0)
            h = self.posterior_drift(t, z, context, tau, gap, gap / (tau + step))
            u = (h - self.prior_drift(t, z)) / self.diffusion(t, z)
            return jnp.concatenate([h, 0.5 * jnp.sum(u**2, keepdims=True)])

        def diffusion(t, y, args):
            g = self.diffusion(t, y[:-1])
            return jnp.concatenate([jnp.diag(g), jnp.zeros((1, g.size), g.dtype)])

        y0 = jnp.concatenate([z0, jnp.zeros(1, z0.dtype)])
        x_next, t_next, seen = (a[1:] for a in _next_observed(ts, ys))
        step = (jnp.diff(ts) / self.substeps)[:, None].astype(ys.dtype)
        args = (jax.vmap(self.context)(states[1:]), x_next, t_next, seen, step)
        out = _sde_solve(
            drift, diffusion, self.latent_size, self.solver, ts, y0, kw, self.tol,
            self.substeps, args,
        )  # fmt: skip
        return out[:, :-1], kl0, out[-1, -1]

    def loss(
        self,
        ts: Float[Array, " times"],
        ys: Float[Array, "times data"],
        key: PRNGKeyArray,
        *,
        kl_weight: ArrayLike = 1.0,
    ) -> tuple[Scalar, tuple[Scalar, Scalar]]:
        r"""The negative ELBO of one path, $-(\log p(x \mid z) - w\,\mathrm{KL})$, estimated
        from one posterior sample (`kl_weight` $w$ < 1 anneals the KL; $w = 1$ is the ELBO).
        Returns `(loss, (log_likelihood, kl))`; NaN entries of `ys` are missing."""
        zs, kl0, kl_path = self.posterior(ts, ys, key)
        predicted = jax.vmap(self.decoder)(zs)
        seen = ~jnp.isnan(ys)
        std = jax.lax.stop_gradient(self.obs_std).astype(predicted.dtype)
        residual = (jnp.where(seen, ys, 0) - predicted) / std
        logp = -0.5 * residual**2 - jnp.log(std) - 0.5 * jnp.log(2 * jnp.pi)
        log_likelihood = jnp.sum(jnp.where(seen, logp, 0))
        kl = kl0 + kl_path
        return -(log_likelihood - kl_weight * kl), (log_likelihood, kl)

    def sample(
        self,
        ts: Float[Array, " times"],
        key: PRNGKeyArray,
        *,
        noise: bool = False,
        latent: bool = False,
    ) -> Float[Array, "times data"]:
        """A path of the prior at `ts`: decoded, $D z_t$, plus the observation noise
        $\\sigma_{obs}\\varepsilon_t$ with `noise=True` (a draw of the generative model
        $p(x)$), or the latent path $z_t$ with `latent=True`."""
        k0, kw, kn = jax.random.split(key, 3)
        mean, log_std = self.prior_initial
        z0 = mean + jnp.exp(log_std) * jax.random.normal(k0, mean.shape, mean.dtype)
        zs = _sde_solve(
            lambda t, z, args: self.prior_drift(t, z),
            lambda t, z, args: jnp.diag(self.diffusion(t, z)),
            self.latent_size, self.solver, ts, z0, kw, self.tol, self.substeps,
        )  # fmt: skip
        if latent:
            return zs
        xs = jax.vmap(self.decoder)(zs)
        if noise:
            std = jax.lax.stop_gradient(self.obs_std).astype(xs.dtype)
            xs = xs + std * jax.random.normal(kn, xs.shape, xs.dtype)
        return xs


class SDEGenerator(eqx.Module):
    r"""A neural SDE generator (Kidger et al. 2021):
    $z_0 = \zeta_\theta(v)$ with $v \sim \mathcal N(0, I)$,
    $\mathrm{d}z = \mu_\theta(t, z)\,\mathrm{d}t + \sigma_\theta(t, z)\circ\mathrm{d}W$,
    $y_t = \ell_\theta(z_t)$. The drift and diffusion are MLPs of $(t, z)$ with
    [`LipSwish`][jaxlab.nde.LipSwish] activations and a tanh final layer; $\sigma_\theta$
    is a `hidden_size x noise_size` matrix; $\ell_\theta$ is linear.

    **Arguments:** `data_size`, `hidden_size`, `noise_size` (the Brownian motion's
    dimension), `initial_noise_size` (of $v$), `width` and `depth` of the MLPs; `solver`
    (a name from `SDE_SOLVERS` or a diffrax solver; the paper uses reversible Heun, a
    Stratonovich solver), `substeps` and `tol` as in [`LatentSDE`][jaxlab.nde.LatentSDE].
    The Milstein solvers need commutative noise, which a general $\sigma_\theta$ lacks.
    """

    initial: eqx.nn.MLP
    drift: _Field
    diffusion: _Field
    readout: eqx.nn.Linear
    noise_size: int = eqx.field(static=True)
    solver: diffrax.AbstractSolver
    tol: Array | None
    substeps: int = eqx.field(static=True)

    def __init__(
        self,
        data_size: int,
        hidden_size: int,
        noise_size: int,
        initial_noise_size: int,
        width: int,
        depth: int,
        *,
        solver: str | diffrax.AbstractSolver = "reversible_heun",
        substeps: int = 1,
        tol: ArrayLike | None = None,
        key: PRNGKeyArray,
    ):
        k_init, k_drift, k_diff, k_read = jax.random.split(key, 4)
        lipswish = LipSwish()
        self.initial = eqx.nn.MLP(
            initial_noise_size, hidden_size, width, depth, activation=lipswish, key=k_init
        )
        self.drift = _Field(
            hidden_size, hidden_size, width, depth, activation=lipswish, final=jnp.tanh,
            key=k_drift,
        )  # fmt: skip
        self.diffusion = _Field(
            hidden_size, hidden_size * noise_size, width, depth, activation=lipswish,
            final=jnp.tanh, key=k_diff,
        )  # fmt: skip
        self.readout = eqx.nn.Linear(hidden_size, data_size, key=k_read)
        self.noise_size = noise_size
        self.solver, self.tol, self.substeps = _settings(solver, SDE_SOLVERS, tol, substeps)

    def __call__(self, ts: Float[Array, " times"], key: PRNGKeyArray) -> Float[Array, "times data"]:
        """One generated path at `ts`."""
        k0, kw = jax.random.split(key)
        v = jax.random.normal(k0, (self.initial.in_size,), ts.dtype)
        zs = _sde_solve(
            lambda t, z, args: self.drift(t, z),
            lambda t, z, args: self.diffusion(t, z).reshape(z.size, self.noise_size),
            self.noise_size, self.solver, ts, self.initial(v), kw, self.tol, self.substeps,
        )  # fmt: skip
        return jax.vmap(self.readout)(zs)


class CDEDiscriminator(eqx.Module):
    r"""A neural CDE critic (Kidger et al. 2021): with $X_t$ the linear interpolation of
    $(t_i, y_{t_i})$ (missing values, NaN, interpolated over),
    $H_0 = \xi_\phi(X_{t_0})$,
    $\mathrm{d}H = f_\phi(t, H)\,\mathrm{d}t + g_\phi(t, H)\,\mathrm{d}X_t$, and the score
    $m_\phi \cdot H_{t_1}$. The vector fields are MLPs with
    [`LipSwish`][jaxlab.nde.LipSwish] activations and a tanh final layer; keeping their
    weights bounded ([`clip_weights`][jaxlab.nde.clip_weights]) keeps the critic Lipschitz.

    **Arguments:** `data_size`, `hidden_size`, `width`, `depth`; `solver` (a name from
    `jaxlab.nde.SOLVERS`, the ODE solvers: the control is piecewise linear) and
    `substeps` (steps per interval of `ts`).
    """

    initial: eqx.nn.MLP
    drift: _Field
    control: _Field
    readout: eqx.nn.Linear
    solver: diffrax.AbstractSolver
    substeps: int = eqx.field(static=True)

    def __init__(
        self,
        data_size: int,
        hidden_size: int,
        width: int,
        depth: int,
        *,
        solver: str | diffrax.AbstractSolver = "reversible_heun",
        substeps: int = 1,
        key: PRNGKeyArray,
    ):
        k_init, k_drift, k_control, k_read = jax.random.split(key, 4)
        lipswish = LipSwish()
        channels = data_size + 1
        self.initial = eqx.nn.MLP(
            channels, hidden_size, width, depth, activation=lipswish, key=k_init
        )
        self.drift = _Field(
            hidden_size, hidden_size, width, depth, activation=lipswish, final=jnp.tanh,
            key=k_drift,
        )  # fmt: skip
        self.control = _Field(
            hidden_size, hidden_size * channels, width, depth, activation=lipswish,
            final=jnp.tanh, key=k_control,
        )  # fmt: skip
        self.readout = eqx.nn.Linear(hidden_size, "scalar", key=k_read)
        self.solver, _, self.substeps = _settings(solver, SOLVERS, None, substeps)

    def __call__(self, ts: Float[Array, " times"], ys: Float[Array, "times data"]) -> Scalar:
        """The critic's score of one path."""
        first = ys[jnp.argmax(~jnp.isnan(ys), axis=0), jnp.arange(ys.shape[1])]
        ys = diffrax.linear_interpolation(
            ts, ys, fill_forward_nans_at_end=True, replace_nans_at_start=first
        )
        xs = jnp.concatenate([ts[:, None].astype(ys.dtype), ys], axis=1)
        path = diffrax.LinearInterpolation(jax.lax.stop_gradient(ts), xs)
        channels = xs.shape[1]
        terms = diffrax.MultiTerm(
            diffrax.ODETerm(lambda t, h, args: self.drift(t, h)),
            diffrax.ControlTerm(
                lambda t, h, args: self.control(t, h).reshape(h.size, channels), path
            ),
        )
        hs = _integrate(terms, self.solver, ts, self.initial(xs[0]), self.substeps)
        return self.readout(hs[-1])


def clip_weights(discriminator: CDEDiscriminator, c: float | None = None) -> CDEDiscriminator:
    r"""`discriminator` with the weight matrix of each of its linear layers clipped
    entrywise to $[-c, c]$; with `c=None`, to $\pm 1/\text{out\_features}$ per layer.
    Applied after every optimizer step, this replaces the gradient penalty of a
    Wasserstein GAN (Kidger et al. 2021). Works on a partitioned parameter tree too."""
    if c is not None and not float(c) > 0:
        raise ValueError(f"c: a positive number or None, got {c!r}")

    def is_linear(x):
        return isinstance(x, eqx.nn.Linear)

    def clip(layer):
        if not is_linear(layer) or layer.weight is None:
            return layer
        size = 1 if layer.out_features == "scalar" else layer.out_features
        bound = 1.0 / size if c is None else c
        return eqx.tree_at(lambda x: x.weight, layer, jnp.clip(layer.weight, -bound, bound))

    return jax.tree.map(clip, discriminator, is_leaf=is_linear)
