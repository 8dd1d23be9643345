r"""EDM's deterministic Heun sampler (Karras et al. 2022, Algorithms 1 and 2), which is
also the PFGM++ sampler.

With $r = \sigma\sqrt D$ the PFGM++ ODE $\mathrm dx/\mathrm dr = (x - \mathbb E[y\mid x])/r$
becomes EDM's probability-flow ODE

$$\frac{\mathrm dx}{\mathrm d\sigma} = \frac{x - D_\theta(x, \sigma)}{\sigma},$$

so only the starting point changes: a draw of the PFGM++ [`prior`][jaxlab.pfgmpp.prior]
at $\sigma_{\max}$ instead of $\sigma_{\max} z$. The noise levels are

$$\sigma_i = \Big(\sigma_{\max}^{1/\rho} + \tfrac{i}{n-1}\big(\sigma_{\min}^{1/\rho} -
\sigma_{\max}^{1/\rho}\big)\Big)^\rho, \quad i = 0, \dots, n-1, \qquad \sigma_n = 0,$$

and each step is an Euler step followed by a trapezoidal (Heun) correction, except the
last (to $\sigma = 0$): $n$ steps cost $2n - 1$ network evaluations.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, Int, PRNGKeyArray

from .._experiment import require, require_integer
from ._edm import precondition
from ._kernel import prior


def _check_grid(steps, sigma_min, sigma_max, rho) -> None:
    require_integer(steps, "steps")
    require(
        isinstance(sigma_min, jax.core.Tracer) or float(sigma_min) > 0,
        "sigma_min",
        "a number > 0",
        sigma_min,
    )
    require(
        float(sigma_min) < float(sigma_max)
        if not isinstance(sigma_min, jax.core.Tracer) and not isinstance(sigma_max, jax.core.Tracer)
        else True,
        "sigma_min",
        f"a number below sigma_max={sigma_max}",
        sigma_min,
    )
    require(isinstance(rho, jax.core.Tracer) or float(rho) > 0, "rho", "a number > 0", rho)


def sigma_steps(
    steps: int = 18,
    sigma_min: ArrayLike = 0.002,
    sigma_max: ArrayLike = 80.0,
    rho: ArrayLike = 7.0,
) -> Float[Array, " n"]:
    r"""EDM's noise levels $\sigma_0 = \sigma_{\max} > \dots > \sigma_{n-1} =
    \sigma_{\min}$, then $\sigma_n = 0$: `steps + 1` values (see the module docs; one step
    goes straight from $\sigma_{\max}$ to 0)."""
    _check_grid(steps, sigma_min, sigma_max, rho)
    i = jnp.arange(steps, dtype=float)
    t = i / max(steps - 1, 1)
    lo, hi = jnp.asarray(sigma_min, float) ** (1 / rho), jnp.asarray(sigma_max, float) ** (1 / rho)
    sigmas = (hi + t * (lo - hi)) ** rho
    # The end points exactly (the power rounds them in float32).
    sigmas = sigmas.at[0].set(sigma_max)
    if steps > 1:
        sigmas = sigmas.at[-1].set(sigma_min)
    return jnp.concatenate([sigmas, jnp.zeros(1)])


def heun_sample(
    denoiser: Callable[[Array, Array], Array],
    x: Float[ArrayLike, "..."],
    key: PRNGKeyArray | None = None,
    *,
    steps: int = 18,
    sigma_min: ArrayLike = 0.002,
    sigma_max: ArrayLike = 80.0,
    rho: ArrayLike = 7.0,
    churn: ArrayLike = 0.0,
    churn_min: ArrayLike = 0.0,
    churn_max: ArrayLike = float("inf"),
    churn_noise: ArrayLike = 1.0,
    alpha: ArrayLike = 0.0,
) -> tuple[Float[Array, "..."], Int[Array, ""]]:
    r"""Integrate the ODE from `x` (a prior draw at `sigma_max`) down to $\sigma = 0$ for
    one example, with EDM's Heun steps.

    **Arguments:**

    - `denoiser`: `denoiser(x, sigma) -> E[y | x]` for one example, e.g.
      `lambda x, s: precondition(net, x, s)`.
    - `x`: the starting point, from [`prior`][jaxlab.pfgmpp.prior].
    - `key`: draws the churn and `alpha` noise (unused when both are 0; then it may be
      None).
    - `steps`, `sigma_min`, `sigma_max`, `rho`: the noise levels (see
      [`sigma_steps`][jaxlab.pfgmpp.sigma_steps]).
    - `churn`, `churn_min`, `churn_max`, `churn_noise`: EDM's stochastic sampler
      (Algorithm 2, $S_\text{churn}, S_{t\min}, S_{t\max}, S_\text{noise}$; 0 is
      deterministic). At $\sigma_i \in [S_{t\min}, S_{t\max}]$ it raises the noise level to
      $\hat\sigma = (1 + \gamma)\sigma_i$, $\gamma = \min(S_\text{churn}/n, \sqrt2 - 1)$,
      adding **Gaussian** noise of variance $\hat\sigma^2 - \sigma_i^2$ (as the official
      code does for every $D$: for finite $D$ it is not the PFGM++ kernel, an
      approximation).
    - `alpha`: the robustness test of the paper: before each step,
      $x \leftarrow x + \alpha\sigma_i\varepsilon$, $\varepsilon \sim \mathcal N(0, I)$.

    **Returns:** `(sample, nfe)`, `nfe` the number of `denoiser` calls ($2n - 1$).
    """
    sigmas = sigma_steps(steps, sigma_min, sigma_max, rho)
    key = jax.random.key(0) if key is None else key
    gamma_max = jnp.minimum(jnp.asarray(churn, float) / steps, jnp.sqrt(2.0) - 1)

    def prepare(x, i):
        """Inject the alpha noise and the churn at step i: `(x_hat, sigma_hat)`."""
        sigma = sigmas[i]
        k_alpha, k_churn = jax.random.split(jax.random.fold_in(key, i))
        x = x + alpha * sigma * jax.random.normal(k_alpha, x.shape)
        inside = (sigma >= churn_min) & (sigma <= churn_max)
        gamma = jnp.where(inside, gamma_max, 0.0)
        sigma_hat = sigma * (1 + gamma)
        # sqrt(sigma_hat^2 - sigma^2), written so that gamma = 0 adds exactly nothing.
        extra = sigma * jnp.sqrt(gamma * (2 + gamma))
        x = x + extra * churn_noise * jax.random.normal(k_churn, x.shape)
        return x, sigma_hat

    def euler(x_hat, sigma_hat, sigma_next):
        slope = (x_hat - denoiser(x_hat, sigma_hat)) / sigma_hat
        return x_hat + (sigma_next - sigma_hat) * slope, slope

    def heun(carry, i):
        x, nfe = carry
        x_hat, sigma_hat = prepare(x, i)
        sigma_next = sigmas[i + 1]
        x_next, slope = euler(x_hat, sigma_hat, sigma_next)
        slope_next = (x_next - denoiser(x_next, sigma_next)) / sigma_next
        x_next = x_hat + (sigma_next - sigma_hat) * (slope + slope_next) / 2
        return (x_next, nfe + 2), None

    nfe = jnp.zeros((), jnp.int32)
    (x, nfe), _ = jax.lax.scan(heun, (x, nfe), jnp.arange(steps - 1))
    x_hat, sigma_hat = prepare(x, steps - 1)
    x, _ = euler(x_hat, sigma_hat, sigmas[steps])
    return x, nfe + 1


def sample(
    net: Callable[[Array, Array], Array],
    key: PRNGKeyArray,
    n: int,
    *,
    D: ArrayLike,
    shape: tuple[int, ...],
    steps: int = 18,
    sigma_min: ArrayLike = 0.002,
    sigma_max: ArrayLike = 80.0,
    rho: ArrayLike = 7.0,
    sigma_data: ArrayLike = 0.5,
    clip: float = 1e-3,
    alpha: ArrayLike = 0.0,
) -> tuple[Float[Array, "n ..."], Int[Array, ""]]:
    r"""`n` samples of a trained network: [`prior`][jaxlab.pfgmpp.prior] draws at
    `sigma_max` for augmentation dimension `D`, then [`heun_sample`][jaxlab.pfgmpp.heun_sample]
    from the same `sigma_max` down to 0 through the [`precondition`][jaxlab.pfgmpp.precondition]ed
    `net`: one noise schedule for the prior and the sampler.

    **Arguments:** `net(x_in, c_noise)` the raw network of one example of shape `shape`
    (as trained by [`pfgmpp_loss`][jaxlab.pfgmpp.pfgmpp_loss], with `sigma_data` and
    `clip` as there); `steps`, `sigma_min`, `sigma_max`, `rho`, `alpha` as in
    `heun_sample`. Pure: it survives `jit` and `vmap` (over keys or `D`).

    **Returns:** `(samples [n, *shape], nfe)`.
    """
    require_integer(n, "n")
    k_prior, k_noise = jax.random.split(key)
    start = jax.vmap(lambda k: prior(k, tuple(shape), sigma_max, D, clip=clip))(
        jax.random.split(k_prior, n)
    )

    def denoiser(x, sigma):
        return precondition(net, x, sigma, sigma_data)

    def one(x, k):
        return heun_sample(
            denoiser, x, k, steps=steps, sigma_min=sigma_min, sigma_max=sigma_max, rho=rho,
            alpha=alpha,
        )  # fmt: skip

    samples, nfe = jax.vmap(one)(start, jax.random.split(k_noise, n))
    return samples, nfe[0]
