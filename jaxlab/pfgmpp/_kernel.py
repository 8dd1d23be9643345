r"""The PFGM++ perturbation kernel, its prior and its exact posterior mean.

For data of dimension $N$ augmented by $D$ extra dimensions, PFGM++ perturbs a clean
sample $y$ with the kernel

$$p_r(x \mid y) \propto \big(\|x - y\|^2 + r^2\big)^{-\frac{N + D}{2}}, \qquad r = \sigma\sqrt{D},$$

the alignment $r = \sigma\sqrt D$ that lets a model reuse EDM's noise levels $\sigma$.
The perturbation $n = x - y$ splits into a uniform direction and a radius $R = \|n\|$
whose law is

$$\frac{R^2}{r^2} \sim \mathrm{BetaPrime}\Big(\frac N2, \frac D2\Big), \quad\text{i.e.}\quad
B = \frac{R^2}{R^2 + r^2} \sim \mathrm{Beta}\Big(\frac N2, \frac D2\Big),$$

so $\mathbb E\|n\|^2 = \sigma^2 N D / (D - 2)$, finite only for $D > 2$. Two samplers draw
it:

- `method="beta"` (the official code): $B \sim \mathrm{Beta}(N/2, D/2)$,
  $R = r\sqrt{B/(1-B)}$, times $g/\|g\|$ with $g \sim \mathcal N(0, I_N)$;
- `method="t"` (default): the kernel is a multivariate Student-t with $\nu = D$ degrees
  of freedom and scale $\sigma$, $n = \sigma z\sqrt{D/V}$ with $z \sim \mathcal N(0, I_N)$
  and $V \sim \chi^2_D$. Here $R^2/r^2 = \|z\|^2/V$ is drawn without forming $1 - B$,
  which loses every digit in float32 when $N \gg D$.

As $D \to \infty$ both tend to the Gaussian $n = \sigma z$ of EDM; `D = inf` gives it
exactly. For $D \le 2$ (PFGM is $D = 1$) the radius has infinite variance; like the
official training loss, the radius is clipped at $B \le 1 - $ `clip`. (The official
code also clips $B \ge$ `clip` from below; jaxlab does not, since that would put a floor
under the radius that grows with $D$ and break the $D \to \infty$ limit when $N$ is
small.)

$D$ is a traced number everywhere: one compiled program may `vmap` over several $D$,
`inf` included.
"""

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from .._experiment import require


METHODS = ("t", "beta")


def check_D(D) -> None:
    """One-line error unless `D > 0` (traced values pass unchecked)."""
    if isinstance(D, jax.core.Tracer):
        return
    require(bool(np.all(np.asarray(D) > 0)), "D", "a number > 0 (or inf)", D)


def _split_D(D):
    """`(D, is_inf, D with inf replaced by 1)` as float arrays."""
    D = jnp.asarray(D, dtype=float)
    infinite = jnp.isinf(D)
    return D, infinite, jnp.where(infinite, 1.0, D)


def radius_ratio(
    key: PRNGKeyArray,
    N: int,
    D: ArrayLike,
    *,
    method: str = "t",
    clip: float = 1e-3,
) -> Float[Array, ""]:
    r"""One draw of $R^2 / r^2 \sim \mathrm{BetaPrime}(N/2, D/2)$, clipped so that
    $B = R^2/(R^2 + r^2) \le 1 - $ `clip` (`clip=0` leaves it unclipped).

    For `D = inf` it returns 0 (the Gaussian case has no finite $r$; see
    [`perturbation`][jaxlab.pfgmpp.perturbation]).
    """
    require(method in METHODS, "method", f"one of {', '.join(METHODS)}", method)
    _, infinite, D_safe = _split_D(D)
    if method == "beta":
        b = jax.random.beta(key, N / 2, D_safe / 2)
        b = jnp.minimum(b, 1.0 - clip)
        ratio = b / (1.0 - b)
    else:
        k_num, k_den = jax.random.split(key)
        numerator = 2.0 * jax.random.gamma(k_num, N / 2)
        denominator = 2.0 * jax.random.gamma(k_den, D_safe / 2)
        ratio = numerator / denominator
        if clip > 0:
            ratio = jnp.minimum(ratio, (1.0 - clip) / clip)
    return jnp.where(infinite, 0.0, ratio)


def perturbation(
    key: PRNGKeyArray,
    shape: tuple[int, ...],
    sigma: ArrayLike,
    D: ArrayLike,
    *,
    method: str = "t",
    clip: float = 1e-3,
) -> Float[Array, "..."]:
    r"""One draw $n$ of the PFGM++ kernel for one example of `shape` ($N$ = its size).

    $n = R\,u$ with $u = g/\|g\|$ uniform on the sphere and $R^2 = D\sigma^2\,\rho$,
    $\rho$ from [`radius_ratio`][jaxlab.pfgmpp.radius_ratio] (independent keys for the
    direction and the radius); for `D = inf`, $n = \sigma g$ (EDM).

    **Arguments:**

    - `key`: a PRNG key.
    - `shape`: the shape of one example.
    - `sigma`: the EDM noise level ($r = \sigma\sqrt D$).
    - `D`: the augmentation dimension, `> 0`, `inf` for the Gaussian limit; may be traced.
    - `method`: `"t"` (Student-t route) or `"beta"` (the official Beta route).
    - `clip`: the radius is clipped at $B \le 1 - $ `clip` (needed for $D \le 2$).

    **Returns:** the perturbation, of `shape`.
    """
    check_D(D)
    N = 1
    for s in shape:
        N *= s
    require(N >= 1, "shape", "a non-empty example shape", shape)
    D, infinite, D_safe = _split_D(D)
    k_dir, k_radius = jax.random.split(key)
    g = jax.random.normal(k_dir, shape)
    norm = jnp.sqrt(jnp.sum(g**2))
    ratio = radius_ratio(k_radius, N, D, method=method, clip=clip)
    radius = sigma * jnp.sqrt(D_safe * ratio)
    return jnp.where(infinite, sigma * g, radius * g / norm)


def perturb(
    key: PRNGKeyArray,
    y: Float[ArrayLike, "..."],
    sigma: ArrayLike,
    D: ArrayLike,
    *,
    method: str = "t",
    clip: float = 1e-3,
) -> Float[Array, "..."]:
    """$\\tilde x = y + n$: one clean example `y` perturbed by the kernel at noise
    level `sigma` (see [`perturbation`][jaxlab.pfgmpp.perturbation])."""
    return y + perturbation(key, y.shape, sigma, D, method=method, clip=clip)


def prior(
    key: PRNGKeyArray,
    shape: tuple[int, ...],
    sigma_max: ArrayLike,
    D: ArrayLike,
    *,
    method: str = "t",
    clip: float = 1e-3,
) -> Float[Array, "..."]:
    r"""One draw of the PFGM++ prior: the kernel at $r_{\max} = \sigma_{\max}\sqrt D$
    around the origin (the data are negligible there); `D = inf` gives EDM's
    $\sigma_{\max} z$.

    The official sampler draws it unclipped; jaxlab clips it like the training kernel
    by default (`clip=1e-3`), so the sampler never starts farther out than training
    went. It matters only for $D \le 2$ and small $N$ (for $D = 1$, $N = 2$ it moves 3%
    of the draws inward); pass `clip=0` for the official prior.
    """
    return perturbation(key, shape, sigma_max, D, method=method, clip=clip)


def log_kernel(
    x: Float[ArrayLike, "..."], y: Float[ArrayLike, "..."], sigma: ArrayLike, D: ArrayLike
) -> Float[Array, ""]:
    r"""$\log p_r(x \mid y)$ up to a constant in $y$:
    $-\frac{N + D}{2}\log\big(1 + \|x - y\|^2 / (D\sigma^2)\big)$, and
    $-\|x - y\|^2/(2\sigma^2)$ for `D = inf`."""
    D, infinite, D_safe = _split_D(D)
    N = x.size
    d2 = jnp.sum((x - y) ** 2)
    finite = -(N + D_safe) / 2 * jnp.log1p(d2 / (D_safe * sigma**2))
    return jnp.where(infinite, -d2 / (2 * sigma**2), finite)


def mixture_denoiser(
    x: Float[ArrayLike, "..."],
    sigma: ArrayLike,
    D: ArrayLike,
    points: Float[ArrayLike, "k ..."],
    log_weights: Float[ArrayLike, " k"] | None = None,
) -> Float[Array, "..."]:
    r"""The exact posterior mean $\mathbb E[y \mid \tilde x = x]$ when the data are the
    point masses `points` (weights $\propto$ `exp(log_weights)`, uniform by default),
    perturbed by the PFGM++ kernel:

    $$\mathbb E[y \mid x] = \sum_k w_k(x)\, y_k, \qquad
    w_k \propto \pi_k\, \big(\|x - y_k\|^2 + r^2\big)^{-\frac{N + D}{2}}.$$

    This is the ideal denoiser $D_\theta$ a network is trained to approximate, and (with
    the full data as its "reference batch") the official code's stable target field.
    """
    log_w = jax.vmap(lambda p: log_kernel(x, p, sigma, D))(points)
    if log_weights is not None:
        log_w = log_w + log_weights
    w = jax.nn.softmax(log_w)
    return jnp.tensordot(w, points, axes=1)
