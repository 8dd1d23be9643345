r"""EDM preconditioning, the noise-level distribution of training, and the PFGM++ loss.

PFGM++ keeps EDM's network parameterization (Karras et al. 2022, Table 1), as a function
of $\sigma$ (not of $r$): with $\sigma_d$ the data scale,

$$D_\theta(x, \sigma) = c_\text{skip}(\sigma)\,x + c_\text{out}(\sigma)\,
F_\theta\big(c_\text{in}(\sigma)\,x,\ c_\text{noise}(\sigma)\big),$$

$$c_\text{skip} = \frac{\sigma_d^2}{\sigma^2 + \sigma_d^2},\quad
c_\text{out} = \frac{\sigma\sigma_d}{\sqrt{\sigma^2 + \sigma_d^2}},\quad
c_\text{in} = \frac{1}{\sqrt{\sigma^2 + \sigma_d^2}},\quad
c_\text{noise} = \tfrac14\ln\sigma,$$

and the loss weight $\lambda(\sigma) = (\sigma^2 + \sigma_d^2)/(\sigma\sigma_d)^2 =
1/c_\text{out}^2$. For finite $D$ the noisy input has per-coordinate variance
$\sigma^2 D/(D-2)$ rather than $\sigma^2$; PFGM++ keeps $c_\text{in}$ anyway (the
"direct transfer" of EDM's hyper-parameters), and so does jaxlab.
"""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from .._data import check_finite
from .._experiment import require
from ._kernel import check_D, perturbation


def edm_scalings(
    sigma: ArrayLike, sigma_data: ArrayLike = 0.5
) -> tuple[Array, Array, Array, Array]:
    """`(c_skip, c_out, c_in, c_noise)` of EDM's preconditioning at noise level `sigma`
    (see the module docs)."""
    sigma = jnp.asarray(sigma, dtype=float)
    total = sigma**2 + sigma_data**2
    c_skip = sigma_data**2 / total
    c_out = sigma * sigma_data / jnp.sqrt(total)
    c_in = 1.0 / jnp.sqrt(total)
    c_noise = jnp.log(sigma) / 4
    return c_skip, c_out, c_in, c_noise


def loss_weight(sigma: ArrayLike, sigma_data: ArrayLike = 0.5) -> Array:
    r"""EDM's loss weight $\lambda(\sigma) = (\sigma^2 + \sigma_d^2)/(\sigma\sigma_d)^2$."""
    sigma = jnp.asarray(sigma, dtype=float)
    return (sigma**2 + sigma_data**2) / (sigma * sigma_data) ** 2


def precondition(
    net: Callable[[Array, Array], Array],
    x: Float[ArrayLike, "..."],
    sigma: ArrayLike,
    sigma_data: ArrayLike = 0.5,
) -> Float[Array, "..."]:
    r"""The denoiser $D_\theta(x, \sigma)$ of a raw network `net(x_in, c_noise) -> F` (one
    example, output of `x`'s shape): EDM's preconditioning around it."""
    c_skip, c_out, c_in, c_noise = edm_scalings(sigma, sigma_data)
    return c_skip * x + c_out * net(c_in * x, c_noise)


def log_normal(p_mean: float = -1.2, p_std: float = 1.2) -> Callable[..., Array]:
    r"""EDM's training noise levels: $\ln\sigma \sim \mathcal N(P_\text{mean}, P_\text{std}^2)$.
    Returns `sample(key, shape) -> sigma`."""

    def sample(key: PRNGKeyArray, shape: tuple[int, ...] = ()) -> Array:
        return jnp.exp(p_mean + p_std * jax.random.normal(key, shape))

    return sample


def log_uniform(sigma_min: float = 0.02, sigma_max: float = 100.0) -> Callable[..., Array]:
    r"""$\ln\sigma$ uniform on $[\ln\sigma_{\min}, \ln\sigma_{\max}]$ (the official
    `VELoss` range by default). Returns `sample(key, shape) -> sigma`."""
    require(
        0 < sigma_min < sigma_max, "sigma_min", f"a number in (0, sigma_max={sigma_max})", sigma_min
    )

    def sample(key: PRNGKeyArray, shape: tuple[int, ...] = ()) -> Array:
        u = jax.random.uniform(key, shape)
        return jnp.exp(jnp.log(sigma_min) + u * (jnp.log(sigma_max) - jnp.log(sigma_min)))

    return sample


def pfgmpp_loss(
    net: Callable[[Array, Array], Array],
    batch: Float[ArrayLike, "batch ..."],
    key: PRNGKeyArray,
    D: ArrayLike,
    *,
    sigma_data: ArrayLike = 0.5,
    sigma_sampler: Callable[..., Array] | None = None,
    method: str = "t",
    clip: float = 1e-3,
) -> tuple[Float[Array, ""], dict[str, Any]]:
    r"""The PFGM++ training loss of one batch (Algorithm 2 of the paper; the official
    `EDMLoss` with `pfgmpp=True`):

    $$\mathcal L = \mathbb E_{y, \sigma, n}\Big[\lambda(\sigma)\,
    \big\|D_\theta(y + n, \sigma) - y\big\|^2\Big],$$

    $\sigma$ from `sigma_sampler` (log-normal by default), $n$ from the kernel with
    $r = \sigma\sqrt D$: a sum over the coordinates of an example, a mean over the batch.
    Each example gets its own keys for $\sigma$, direction and radius.

    **Arguments:**

    - `net`: the raw network `net(x_in, c_noise) -> F` for one example (an equinox or
      `flax.nnx` module, or any function).
    - `batch`: clean examples, leading axis the batch.
    - `key`: a PRNG key.
    - `D`: augmentation dimension (`inf`: EDM); may be traced.
    - `sigma_data`, `sigma_sampler`, `method`, `clip`: see
      [`edm_scalings`][jaxlab.pfgmpp.edm_scalings], [`log_normal`][jaxlab.pfgmpp.log_normal]
      and [`perturbation`][jaxlab.pfgmpp.perturbation].

    **Returns:** `(loss, {"sigma": mean sigma of the batch})`.
    """
    check_D(D)
    check_finite(batch, "batch")
    sampler = sigma_sampler or log_normal()
    size = batch.shape[0]
    k_sigma, k_noise = jax.random.split(key)
    sigma = sampler(k_sigma, (size,))
    noise_keys = jax.random.split(k_noise, size)
    shape = batch.shape[1:]
    noise = jax.vmap(lambda k, s: perturbation(k, shape, s, D, method=method, clip=clip))(
        noise_keys, sigma
    )
    denoised = jax.vmap(lambda x, s: precondition(net, x, s, sigma_data))(batch + noise, sigma)
    error = jnp.sum(((denoised - batch) ** 2).reshape(size, -1), axis=1)
    loss = jnp.mean(loss_weight(sigma, sigma_data) * error)
    return loss, {"sigma": jnp.mean(sigma)}
