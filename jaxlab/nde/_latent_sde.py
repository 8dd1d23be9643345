r"""The latent SDE (Li et al., *Scalable gradients for stochastic differential equations*,
2020): a prior $\mathrm{d}z = f_\theta(t, z)\,\mathrm{d}t + g(t, z)\,\mathrm{d}W$ and a
posterior $\mathrm{d}z = h_\phi(t, z, c_t)\,\mathrm{d}t + g(t, z)\,\mathrm{d}W$ sharing the
diffusion, trained by the evidence lower bound

$$\log p(x) \ge \mathbb{E}_q\Big[\sum_i \log p(x_{t_i} \mid z_{t_i})
- \mathrm{KL}(q(z_0) \,\|\, p(z_0)) - \int_{t_0}^{t_1} \tfrac12
\big|(h_\phi - f_\theta)/g\big|^2 \mathrm{d}t\Big].$$

Both SDEs are solved by the fixed-grid integrator of `_sde_solve`.
"""

from collections.abc import Callable

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray, Scalar

from .._experiment import ConfigError
from .._model import Setting
from ._sde_solve import SDE_SOLVERS, _Field, grid_settings, sde_solve
from ._settings import positive


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

    def __call__(self, t, z: Float[ArrayLike, " d"]) -> Float[Array, " d"]:
        t = jnp.asarray(t, z.dtype)
        return eqx.filter_vmap(lambda mlp, zi: mlp(jnp.stack([t, zi])))(self.mlps, z)


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
      the GRU context alone (`posterior_inputs="context"`: $c_t = W_c e_{i+1}$); the
      extra features (`posterior_inputs="bridge"`, the default) let the drift steer $z$ towards the
      next observation like a Brownian bridge (whose drift is $\delta / \tau$) within a
      few hundred steps.
    - $q(z_0 \mid x) = \mathcal N(\mu, \mathrm{diag}\,s^2)$ from $e_0$; the prior
      $p(z_0) = \mathcal N(m, \mathrm{diag}\,r^2)$ is learned.
    - Prior drift $f_\theta(t, z)$, posterior drift $h_\phi(t, z, c)$ and a shared diagonal
      diffusion $g(t, z)$ ([`DiagonalDiffusion`][jaxlab.nde.DiagonalDiffusion]). The
      path KL (Girsanov) $\int \tfrac12 |(h_\phi - f_\theta)/g|^2 \mathrm{d}t$ is solved for
      as an extra state next to $z$, by the same solver and Brownian path.
    - Decoder: linear, $p(x_t \mid z_t) = \mathcal N(D z_t, \sigma_{obs}^2 I)$ with a fixed
      $\sigma_{obs}$ (`obs_std`).

    **Arguments** (keyword only):

    - `data_size`, `latent_size`, `context_size`, `hidden_size` (the GRU's), and `width`,
      `depth` of the drift MLPs (the diffusion MLPs have depth 1).
    - `obs_std`: the observation noise $\sigma_{obs}$, a [`Setting`][jaxlab.Setting]
      (never trained; a new value does not recompile).
    - `solver`: a name from `SDE_SOLVERS` (`"euler"`, `"ito_milstein"`, `"heun"`,
      `"reversible_heun"`, ...) or a diffrax SDE solver. Itô and Stratonovich solvers give
      different SDEs when $g$ depends on $z$; the KL is the same formula.
    - `substeps`: solver steps per interval of `ts` (the step, $\Delta t_i$ / `substeps`,
      follows from the array `ts`: new times do not recompile).
    - `tol`: the Brownian tree's tolerance, a setting (default: half the smallest step).
    - `posterior_inputs`: `"bridge"` (the context above) or `"context"` (the GRU context
      alone, as Li et al.).
    """

    prior_drift: Callable
    posterior_drift: Callable
    diffusion: Callable
    encoder: eqx.nn.GRUCell
    context: eqx.nn.Linear
    posterior_initial: eqx.nn.Linear
    prior_initial: Float[Array, "2 latent"]
    decoder: eqx.nn.Linear
    obs_std: Setting
    solver: diffrax.AbstractSolver
    tol: Setting | None
    substeps: int = eqx.field(static=True)
    posterior_inputs: str = eqx.field(static=True)

    def __init__(
        self,
        *,
        data_size: int,
        latent_size: int,
        context_size: int,
        hidden_size: int,
        width: int,
        depth: int,
        obs_std: ArrayLike = 0.05,
        solver: str | diffrax.AbstractSolver = "euler",
        substeps: int = 1,
        tol: ArrayLike | None = None,
        posterior_inputs: str = "bridge",
        key: PRNGKeyArray,
    ):
        if posterior_inputs not in ("bridge", "context"):
            raise ConfigError(f"posterior_inputs: one of bridge, context, got {posterior_inputs!r}")
        self.posterior_inputs = posterior_inputs
        self.obs_std = positive("obs_std", obs_std)
        keys = jax.random.split(key, 7)
        softplus = jax.nn.softplus
        self.prior_drift = _Field(
            latent_size, latent_size, width, depth, activation=softplus, key=keys[0]
        )
        self.posterior_drift = _Field(
            latent_size + context_size + (3 * data_size if posterior_inputs == "bridge" else 0),
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
        self.solver, self.tol, self.substeps = grid_settings(solver, SDE_SOLVERS, tol, substeps)

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
        self, ts: Float[ArrayLike, " times"], ys: Float[ArrayLike, "times data"], key: PRNGKeyArray
    ) -> tuple[Float[Array, "times latent"], Scalar, Scalar]:
        """A posterior sample $z_{t_i}$ given the path `ys` (NaN = missing), with
        $\\mathrm{KL}(q(z_0) \\| p(z_0))$ and the path KL up to `ts[-1]`."""
        states = self._encode(ts, ys)
        mean, log_std = jnp.split(self.posterior_initial(states[0]), 2)
        k0, kw = jax.random.split(key)
        z0 = mean + jnp.exp(log_std) * jax.random.normal(k0, mean.shape, mean.dtype)
        kl0 = _gaussian_kl(mean, log_std, *self.prior_initial)

        def drift(t, y, args):
            z, (context, *bridge) = y[:-1], args
            if bridge:
                x_next, t_next, seen, step = bridge
                tau = (t_next - t).astype(z.dtype)
                gap = jnp.where(seen, x_next - self.decoder(z), 0)
                h = self.posterior_drift(t, z, context, tau, gap, gap / (tau + step))
            else:
                h = self.posterior_drift(t, z, context)
            u = (h - self.prior_drift(t, z)) / self.diffusion(t, z)
            return jnp.concatenate([h, 0.5 * jnp.sum(u**2, keepdims=True)])

        def diffusion(t, y, args):
            g = self.diffusion(t, y[:-1])
            return jnp.concatenate([jnp.diag(g), jnp.zeros((1, g.size), g.dtype)])

        y0 = jnp.concatenate([z0, jnp.zeros(1, z0.dtype)])
        args = (jax.vmap(self.context)(states[1:]),)
        if self.posterior_inputs == "bridge":
            x_next, t_next, seen = (a[1:] for a in _next_observed(ts, ys))
            step = (jnp.diff(ts) / self.substeps)[:, None].astype(ys.dtype)
            args = (*args, x_next, t_next, seen, step)
        out = sde_solve(
            drift, diffusion, self.latent_size, self.solver, ts, y0, kw, self.tol,
            self.substeps, args,
        )  # fmt: skip
        return out[:, :-1], kl0, out[-1, -1]

    def loss(
        self,
        ts: Float[ArrayLike, " times"],
        ys: Float[ArrayLike, "times data"],
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
        std = self.obs_std.read().astype(predicted.dtype)
        residual = (jnp.where(seen, ys, 0) - predicted) / std
        logp = -0.5 * residual**2 - jnp.log(std) - 0.5 * jnp.log(2 * jnp.pi)
        log_likelihood = jnp.sum(jnp.where(seen, logp, 0))
        kl = kl0 + kl_path
        return -(log_likelihood - kl_weight * kl), (log_likelihood, kl)

    def sample(
        self,
        ts: Float[ArrayLike, " times"],
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
        zs = sde_solve(
            lambda t, z, args: self.prior_drift(t, z),
            lambda t, z, args: jnp.diag(self.diffusion(t, z)),
            self.latent_size, self.solver, ts, z0, kw, self.tol, self.substeps,
        )  # fmt: skip
        if latent:
            return zs
        xs = jax.vmap(self.decoder)(zs)
        if noise:
            std = self.obs_std.read().astype(xs.dtype)
            xs = xs + std * jax.random.normal(kn, xs.shape, xs.dtype)
        return xs
