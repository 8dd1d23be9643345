r"""The SDE-GAN (Kidger et al., *Neural SDEs as infinite-dimensional GANs*, 2021, and
*Efficient and accurate gradients for neural SDEs*, 2021): an
[`SDEGenerator`][jaxlab.nde.SDEGenerator] against a
[`CDEDiscriminator`][jaxlab.nde.CDEDiscriminator] in a Wasserstein GAN, whose critic is kept
Lipschitz by [`LipSwish`][jaxlab.nde.LipSwish] activations and
[`clip_weights`][jaxlab.nde.clip_weights] instead of a gradient penalty. Both are solved on
the fixed grid of `_sde_solve`; the generator's reversible Heun solve may be differentiated
by the exact reversible adjoint of `_reversible`.
"""

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from .._experiment import ConfigError
from .._model import Setting
from ._ode import SOLVERS
from ._reversible import reversible_heun
from ._sde_solve import SDE_SOLVERS, _Field, brownian_tree, grid_settings, integrate, sde_solve
from ._settings import count


class LipSwish(eqx.Module):
    r"""$x \mapsto 0.909\, x\, \sigma(x)$: the SiLU scaled to be 1-Lipschitz (the slope of
    $x\sigma(x)$ peaks at about 1.0998, and $0.909 \times 1.0998 < 1$)."""

    def __call__(self, x: Array) -> Array:
        return 0.909 * jax.nn.silu(x)


class SDEGenerator(eqx.Module):
    r"""A neural SDE generator (Kidger et al. 2021):
    $z_0 = \zeta_\theta(v)$ with $v \sim \mathcal N(0, I)$,
    $\mathrm{d}z = \mu_\theta(t, z)\,\mathrm{d}t + \sigma_\theta(t, z)\circ\mathrm{d}W$,
    $y_t = \ell_\theta(z_t)$. The drift and diffusion are MLPs of $(t, z)$ with
    [`LipSwish`][jaxlab.nde.LipSwish] activations and a tanh final layer; $\sigma_\theta$
    is a `hidden_size x noise_size` matrix; $\ell_\theta$ is linear.

    **Arguments** (keyword only): `data_size`, `hidden_size`, `noise_size` (the Brownian
    motion's dimension), `initial_noise_size` (of $v$), `width` and `depth` of the MLPs;
    `solver` (a name from `SDE_SOLVERS` or a diffrax solver; the paper uses reversible
    Heun, a Stratonovich solver), `substeps` and `tol` (a setting) as in
    [`LatentSDE`][jaxlab.nde.LatentSDE].
    The Milstein solvers need commutative noise, which a general $\sigma_\theta$ lacks.
    `adjoint`: `"backprop"` (store every step) or `"reversible"` (the exact reversible
    adjoint of [`reversible_heun`][jaxlab.nde.reversible_heun], memory independent of
    the step count; needs `solver="reversible_heun"`). Both give the same gradients up
    to round-off.
    """

    initial: eqx.nn.MLP
    drift: _Field
    diffusion: _Field
    readout: eqx.nn.Linear
    noise_size: int = eqx.field(static=True)
    solver: diffrax.AbstractSolver
    tol: Setting | None
    substeps: int = eqx.field(static=True)
    adjoint: str = eqx.field(static=True)

    def __init__(
        self,
        *,
        data_size: int,
        hidden_size: int,
        noise_size: int,
        initial_noise_size: int,
        width: int,
        depth: int,
        solver: str | diffrax.AbstractSolver = "reversible_heun",
        substeps: int = 1,
        tol: ArrayLike | None = None,
        adjoint: str = "backprop",
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
        self.noise_size = count("noise_size", noise_size)
        self.solver, self.tol, self.substeps = grid_settings(solver, SDE_SOLVERS, tol, substeps)
        if adjoint not in ("backprop", "reversible"):
            raise ConfigError(f"adjoint: one of backprop, reversible, got {adjoint!r}")
        if adjoint == "reversible" and not isinstance(self.solver, diffrax.ReversibleHeun):
            raise ConfigError(f"adjoint: 'reversible' needs solver=reversible_heun, got {solver!r}")
        self.adjoint = adjoint

    def __call__(
        self, ts: Float[ArrayLike, " times"], key: PRNGKeyArray
    ) -> Float[Array, "times data"]:
        """One generated path at `ts`."""
        k0, kw = jax.random.split(key)
        v = jax.random.normal(k0, (self.initial.in_size,), ts.dtype)

        def drift(t, z, args):
            return self.drift(t, z)

        def diffusion(t, z, args):
            return self.diffusion(t, z).reshape(z.size, self.noise_size)

        if self.adjoint == "reversible":
            brownian = brownian_tree(ts, self.noise_size, kw, self.tol, self.substeps)
            zs = reversible_heun(
                drift, self.initial(v), jax.lax.stop_gradient(ts), diffusion=diffusion,
                brownian=brownian, substeps=self.substeps,
            )  # fmt: skip
        else:
            zs = sde_solve(
                drift, diffusion, self.noise_size, self.solver, ts, self.initial(v), kw,
                self.tol, self.substeps,
            )  # fmt: skip
        return jax.vmap(self.readout)(zs)


class CDEDiscriminator(eqx.Module):
    r"""A neural CDE critic (Kidger et al. 2021): with $X_t$ the linear interpolation of
    $(t_i, y_{t_i})$ (missing values, NaN, interpolated over),
    $H_0 = \xi_\phi(X_{t_0})$,
    $\mathrm{d}H = f_\phi(t, H)\,\mathrm{d}t + g_\phi(t, H)\,\mathrm{d}X_t$, and the scores
    $(m_\phi \cdot H_{t_0}, m_\phi \cdot H_{t_1})$: the first has seen only the initial
    point, which supervises the initial distribution; the second the whole path (as
    diffrax's SDE-GAN example). The vector fields are MLPs with
    [`LipSwish`][jaxlab.nde.LipSwish] activations and a tanh final layer; keeping their
    weights bounded ([`clip_weights`][jaxlab.nde.clip_weights]) keeps the critic Lipschitz.

    **Arguments** (keyword only): `data_size`, `hidden_size`, `width`, `depth`; `solver`
    (a name from `jaxlab.nde.SOLVERS`, the ODE solvers: the control is piecewise linear)
    and `substeps` (steps per interval of `ts`).
    """

    initial: eqx.nn.MLP
    drift: _Field
    control: _Field
    readout: eqx.nn.Linear
    solver: diffrax.AbstractSolver
    substeps: int = eqx.field(static=True)

    def __init__(
        self,
        *,
        data_size: int,
        hidden_size: int,
        width: int,
        depth: int,
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
        self.solver, _, self.substeps = grid_settings(solver, SOLVERS, None, substeps)

    def __call__(
        self, ts: Float[ArrayLike, " times"], ys: Float[ArrayLike, "times data"]
    ) -> Float[Array, "2"]:
        """The critic's scores of one path, at `ts[0]` and `ts[-1]`."""
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
        hs = integrate(terms, self.solver, ts, self.initial(xs[0]), self.substeps)
        return jnp.stack([self.readout(hs[0]), self.readout(hs[-1])])


def clip_weights(discriminator: CDEDiscriminator, c: float | None = None) -> CDEDiscriminator:
    r"""`discriminator` with the weight matrix of each of its linear layers clipped
    entrywise to $[-c, c]$; with `c=None`, to $\pm 1/\text{out\_features}$ per layer.
    Applied after every optimizer step, this replaces the gradient penalty of a
    Wasserstein GAN (Kidger et al. 2021). Works on a partitioned parameter tree too."""
    if c is not None and not float(c) > 0:
        raise ConfigError(f"c: a positive number or None, got {c!r}")

    def is_linear(x):
        return isinstance(x, eqx.nn.Linear)

    def clip(layer):
        if not is_linear(layer) or layer.weight is None:
            return layer
        size = 1 if layer.out_features == "scalar" else layer.out_features
        bound = 1.0 / size if c is None else c
        return eqx.tree_at(lambda x: x.weight, layer, jnp.clip(layer.weight, -bound, bound))

    return jax.tree.map(clip, discriminator, is_leaf=is_linear)
