r"""The Gaussian feature embedding, Physics-Informed Gaussians (embedding + small MLP) and
the PINN baseline (MLP, optionally on Fourier features).

Every model is a scalar field $u(x)$ on one point $x \in \mathbb{R}^d$ (physical
coordinates), with `__call__(x)` for the value and `jet(x)` for the value, gradient and
pure second derivatives (see [`Jet`][jaxlab.pig.Jet]); batches of points go through
[`values`][jaxlab.pig.values] and [`jets`][jaxlab.pig.jets], which chunk over points.
"""

import functools
import math
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from .._experiment import require, require_integer
from .._model import Setting
from ._jet import Jet, coordinate_jet


class GaussianEmbedding(eqx.Module):
    r"""Trainable Gaussian features $\mathrm{FE}(\xi) \in \mathbb{R}^k$.

    With $C$ sets of $N$ Gaussians $G_{cn}(\xi) = \exp(-\tfrac12 (\xi-\mu_{cn})^\top
    P_{cn} (\xi-\mu_{cn}))$ (unnormalized) and weights $w_{cnf}$,

    $$ \mathrm{FE}_{cf}(\xi) = \sum_{n=1}^N w_{cnf}\, G_{cn}(\xi), $$

    flattened over $(c, f)$ to $k = C F$ features. Two layouts:

    - `shared=False` (the official code): $C = k$ channels, each with its own $N$
      Gaussians and a scalar weight per Gaussian ($F = 1$); $kN$ Gaussians in all.
    - `shared=True` (the paper's formula): $C = 1$ set of $N$ Gaussians, each carrying a
      feature vector $f_n \in \mathbb{R}^k$ ($F = k$).

    The precision is diagonal by default, $P = \mathrm{diag}(1/\sigma^2)$ with the scales
    $\sigma$ trained as they are (no log or softplus: the sign does not matter); with
    `covariance="full"`, $P = M M^\top$ with $M$ a trained lower-triangular matrix
    initialized to $\mathrm{diag}(1/\sigma_0)$.

    Derivatives are in closed form: with $r = \xi - \mu$,
    $\partial_i G = -G\,(P r)_i$ and $\partial_{ii} G = G\,((P r)_i^2 - P_{ii})$.

    **Fields:** `mu` $(C, N, d)$, `sigma` $(C, N, d)$ (diagonal) or `precision_factor`
    $(C, N, d, d)$ (full), `weight` $(C, N, F)$.
    """

    mu: Float[Array, "C N d"]
    sigma: Float[Array, "C N d"] | None
    precision_factor: Float[Array, "C N d d"] | None
    weight: Float[Array, "C N F"]

    def __init__(
        self,
        n_gaussians: int,
        channels: int,
        dim: int,
        sigma0: float,
        *,
        lower: float = 0.0,
        upper: float = 2.0,
        weight_std: float = 0.01,
        shared: bool = False,
        covariance: Literal["diagonal", "full"] = "diagonal",
        key: PRNGKeyArray,
    ):
        """`n_gaussians` per channel (`shared=False`) or in all (`shared=True`);
        `channels` = $k$ features; centres uniform in $[\\text{lower}, \\text{upper})^d$,
        scales `sigma0`, weights $\\mathcal{N}(0, \\text{weight\\_std}^2)$."""
        _check_embedding(n_gaussians, channels, dim, sigma0, covariance)
        sets, features = (1, channels) if shared else (channels, 1)
        k_mu, k_w = jax.random.split(key)
        self.mu = jax.random.uniform(k_mu, (sets, n_gaussians, dim), minval=lower, maxval=upper)
        self.weight = weight_std * jax.random.normal(k_w, (sets, n_gaussians, features))
        if covariance == "diagonal":
            self.sigma = jnp.full((sets, n_gaussians, dim), float(sigma0))
            self.precision_factor = None
        else:
            self.sigma = None
            eye = jnp.eye(dim) / float(sigma0)
            self.precision_factor = jnp.broadcast_to(eye, (sets, n_gaussians, dim, dim))

    @property
    def features(self) -> int:
        return self.weight.shape[0] * self.weight.shape[2]

    @property
    def n_total(self) -> int:
        """The number of Gaussians, $C N$."""
        return self.mu.shape[0] * self.mu.shape[1]

    def _quadratic(self, xi):
        """$r$-dependent parts: (exponent $q$, $P r$, $\\mathrm{diag} P$)."""
        r = xi - self.mu
        if self.precision_factor is None:
            a = 1 / self.sigma**2
            pr = a * r
            return jnp.sum(r * pr, axis=-1), pr, a
        m = jnp.tril(self.precision_factor)
        y = jnp.einsum("cnij,cni->cnj", m, r)  # M^T r
        pr = jnp.einsum("cnij,cnj->cni", m, y)  # M M^T r
        return jnp.sum(y**2, axis=-1), pr, jnp.sum(m**2, axis=-1)

    def __call__(self, xi: Float[ArrayLike, " d"]) -> Float[Array, " k"]:
        q, _, _ = self._quadratic(xi)
        return jnp.einsum("cn,cnf->cf", jnp.exp(-q / 2), self.weight).reshape(-1)

    def jet(self, xi: Jet) -> Jet:
        """The features' jet, given the jet of affine coordinates $\\xi$ (diagonal
        $\\partial\\xi$, zero $\\partial^2\\xi$, as from `coordinate_jet`)."""
        scale = jnp.diagonal(xi.grad)  # d xi_i / d x_i
        dim = scale.shape[0]
        if self.precision_factor is None:
            value, grad, diag = self._diagonal_jet(xi.value)
        else:
            q, pr, pdiag = self._quadratic(xi.value)
            g = jnp.exp(-q / 2)
            value = jnp.einsum("cn,cnf->cf", g, self.weight).reshape(-1)
            grad = -jnp.einsum("cn,cni,cnf->icf", g, pr, self.weight).reshape(dim, -1)
            diag = jnp.einsum("cn,cni,cnf->icf", g, pr**2 - pdiag, self.weight).reshape(dim, -1)
        return Jet(value, grad * scale[:, None], diag * scale[:, None] ** 2, xi.names)

    def _diagonal_jet(self, xi):
        """One point's features, gradient and pure second derivatives in $\\xi$
        (diagonal precision; see `_moment_coefficients`)."""
        a = 1 / self.sigma**2
        g = jnp.exp(-jnp.sum(a * (xi - self.mu) ** 2, axis=-1) / 2)  # (C, N)
        moments = jnp.einsum("cn,cnj->cj", g, self._moment_coefficients(a))
        value, grad, diag = self._from_moments(moments[None], xi[None])
        return value[0], grad[0], diag[0]

    def _moment_coefficients(self, a):
        r"""Diagonal precision $a = 1/\sigma^2$: every derivative of the features is a
        polynomial in $\xi$ over sums of the form $S[c] = \sum_n G_{cn} c_{cn}$,

        $$ \partial_i \mathrm{FE} = -\xi_i S[wa_i] + S[wa_i\mu_i], \quad
           \partial_{ii} \mathrm{FE} = \xi_i^2 S[wa_i^2] - 2\xi_i S[wa_i^2\mu_i]
           + S[wa_i^2\mu_i^2] - S[wa_i], $$

        so that, over a batch of points, each is a matrix product with the coefficients
        $K = w \otimes (1, a, a\mu, a^2, a^2\mu, a^2\mu^2)$, shape $(C, N, F(1 + 5d))$.
        The expanded squares lose a few digits to cancellation (about $10^{-5}$ relative
        in float32 at $\sigma = 0.1$ on a centred $[-1, 1]^d$ frame), for about half the
        cost of the direct form. The exponent itself is direct (see
        [`gaussian_moments`][jaxlab.pig.gaussian_moments])."""
        mu, w = self.mu, self.weight
        a2 = a**2
        coef = jnp.concatenate([jnp.ones_like(a[..., :1]), a, a * mu, a2, a2 * mu, a2 * mu**2], -1)
        c, n, _ = w.shape
        return (w[..., :, None] * coef[..., None, :]).reshape(c, n, -1)

    def _from_moments(self, moments, xi):
        """(value `(P, k)`, gradient `(P, d, k)`, pure second derivatives `(P, d, k)`)
        from the sums $S$ `(P, C, F (1 + 5d))` at the points $\\xi$ `(P, d)`."""
        p, d = xi.shape
        c, _, f = self.weight.shape
        s = jnp.moveaxis(moments.reshape(p, c, f, 1 + 5 * d), -1, 1)  # (P, 1 + 5d, C, F)
        sa, sam, sa2, sa2m, sa2m2 = (s[:, 1 + i * d : 1 + (i + 1) * d] for i in range(5))
        x = xi[:, :, None, None]
        grad = sam - x * sa
        diag = x**2 * sa2 - 2 * x * sa2m + sa2m2 - sa
        return s[:, 0].reshape(p, -1), grad.reshape(p, d, -1), diag.reshape(p, d, -1)

    def batch_values(self, xi: Float[ArrayLike, "P d"], chunk: int) -> Float[Array, "P k"]:
        """The features at many points (diagonal precision), `chunk` points at a time."""
        a = 1 / self.sigma**2
        return gaussian_moments(xi, self.mu, a, self.weight, chunk).reshape(xi.shape[0], -1)

    def batch_jets(self, xi: Float[ArrayLike, "P d"], chunk: int):
        """`(value, grad, diag)` of the features in $\\xi$ at many points (diagonal
        precision), `chunk` points at a time: shapes `(P, k)`, `(P, d, k)`, `(P, d, k)`."""
        a = 1 / self.sigma**2
        moments = gaussian_moments(xi, self.mu, a, self._moment_coefficients(a), chunk)
        return self._from_moments(moments, xi)

    def centres(self, scale: Array, shift: Array) -> Float[Array, "CN d"]:
        """The centres in physical coordinates ($x = (\\mu - \\text{shift})/\\text{scale}$)."""
        return ((self.mu - shift) / scale).reshape(-1, self.mu.shape[-1])


def _gaussians(xi, mu, a):
    """$G_{pcn} = \\exp(-\\tfrac12 \\sum_i a_{cni} (\\xi_{pi} - \\mu_{cni})^2)$, `(P, C, N)`."""
    return jnp.exp(-jnp.sum(a * (xi[:, None, None, :] - mu) ** 2, axis=-1) / 2)


def _in_chunks(x, chunk):
    """`x` `(P, ...)` zero-padded to a multiple of `chunk` and split, `(P / chunk, chunk, ...)`."""
    n = x.shape[0]
    padded = -(-n // chunk) * chunk
    x = jnp.pad(x, ((0, padded - n),) + ((0, 0),) * (x.ndim - 1))
    return x.reshape(padded // chunk, chunk, *x.shape[1:])


@functools.partial(jax.custom_vjp, nondiff_argnums=(4,))
def gaussian_moments(
    xi: Float[ArrayLike, "P d"],
    mu: Float[ArrayLike, "C N d"],
    a: Float[ArrayLike, "C N d"],
    coef: Float[ArrayLike, "C N J"],
    chunk: int,
) -> Float[Array, "P C J"]:
    r"""$S_{pcj} = \sum_n G_{pcn} K_{cnj}$ with diagonal-precision Gaussians
    $G_{pcn} = \exp(-\tfrac12 \sum_i a_{cni} (\xi_{pi} - \mu_{cni})^2)$, `chunk` points
    at a time (memory: one chunk's $(P, C, N, d)$ arrays).

    Its reverse-mode derivative is written out, so that every sum over points or
    Gaussians is a matrix product: with $\bar q = -\tfrac12 G \odot (\bar S K^\top)$,

    $$ \bar K = G^\top \bar S, \quad
       \bar a_{cni} = \textstyle\sum_p \bar q_{pcn} (\xi_{pi} - \mu_{cni})^2, \quad
       \bar\mu_{cni} = -2 a_{cni} \sum_p \bar q_{pcn} (\xi_{pi} - \mu_{cni}), $$

    with the squares expanded (moments $\sum_p \bar q\, \xi^k$, $k = 0, 1, 2$), and the
    backward pass recomputes $G$ chunk by chunk instead of storing it. The exponent is
    never expanded: $\sum_i a_i(\xi_i - \mu_i)^2 \ge 0$ expanded would lose every digit
    once a trained $\sigma$ shrinks, turn negative and overflow $G$. Forward-mode
    (`jax.jvp`) is not defined; differentiate one point's model call for that."""
    require_integer(chunk, "chunk")
    n = xi.shape[0]
    if chunk >= n:
        return jnp.einsum("pcn,cnj->pcj", _gaussians(xi, mu, a), coef)
    out = jax.lax.map(lambda x: jnp.einsum("pcn,cnj->pcj", _gaussians(x, mu, a), coef),
                      _in_chunks(xi, chunk))  # fmt: skip
    return out.reshape(-1, *out.shape[2:])[:n]


def _moments_fwd(xi, mu, a, coef, chunk):
    return gaussian_moments(xi, mu, a, coef, chunk), (xi, mu, a, coef)


def _moments_bwd(chunk, residuals, s_bar):
    xi, mu, a, coef = residuals
    n, d = xi.shape

    def one_chunk(sums, inputs):
        x, s = inputs
        g = _gaussians(x, mu, a)
        q_bar = -0.5 * g * jnp.einsum("pcj,cnj->pcn", s, coef)
        x_bar = 2 * (x * jnp.einsum("pcn,cni->pi", q_bar, a)
                     - jnp.einsum("pcn,cni->pi", q_bar, a * mu))  # fmt: skip
        new = (
            jnp.einsum("pcn,pcj->cnj", g, s),
            jnp.sum(q_bar, axis=0)[..., None],
            jnp.einsum("pcn,pi->cni", q_bar, x),
            jnp.einsum("pcn,pi->cni", q_bar, x**2),
        )
        return jax.tree.map(jnp.add, sums, new), x_bar

    zero = jnp.zeros_like(mu)
    sums = (jnp.zeros_like(coef), jnp.zeros_like(mu[..., :1]), zero, zero)
    size = min(chunk, n)
    sums, x_bar = jax.lax.scan(one_chunk, sums, (_in_chunks(xi, size), _in_chunks(s_bar, size)))
    coef_bar, m0, m1, m2 = sums
    a_bar = m2 - 2 * mu * m1 + mu**2 * m0
    mu_bar = -2 * a * (m1 - mu * m0)
    return x_bar.reshape(-1, d)[:n], mu_bar, a_bar, coef_bar


gaussian_moments.defvjp(_moments_fwd, _moments_bwd)


def _check_embedding(n_gaussians, channels, dim, sigma0, covariance):
    require_integer(n_gaussians, "n_gaussians")
    require_integer(channels, "channels")
    require_integer(dim, "dim")
    require(sigma0 > 0, "sigma0", "a positive number", sigma0)
    require(covariance in ("diagonal", "full"), "covariance", "diagonal or full", covariance)


class MLP(eqx.Module):
    """A fully connected network $\\mathbb{R}^{m} \\to \\mathbb{R}^{o}$ with Glorot-normal
    weights, zero biases and an elementwise activation (`"tanh"` or `"sin"`) between
    layers; `jet` pushes a [`Jet`][jaxlab.pig.Jet] through it."""

    weights: tuple[Array, ...]
    biases: tuple[Array, ...]
    activation: str = eqx.field(static=True)

    def __init__(self, sizes, activation: str = "tanh", *, key: PRNGKeyArray):
        require(activation in ("tanh", "sin"), "activation", "tanh or sin", activation)
        init = jax.nn.initializers.glorot_normal()
        keys = jax.random.split(key, len(sizes) - 1)
        self.weights = tuple(init(k, (o, i)) for k, i, o in zip(keys, sizes[:-1], sizes[1:]))
        self.biases = tuple(jnp.zeros(o) for o in sizes[1:])
        self.activation = activation

    def __call__(self, h: Array) -> Array:
        act = {"tanh": jnp.tanh, "sin": jnp.sin}[self.activation]
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = w @ h + b
            if i < len(self.weights) - 1:
                h = act(h)
        return h

    def jet(self, h: Jet) -> Jet:
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = h.affine(w, b)
            if i < len(self.weights) - 1:
                h = h.activation(self.activation)
        return h


def _affine_to(lower, upper, lo, hi):
    """Scale and shift mapping the box [lower, upper] onto [lo, hi]^d."""
    lower, upper = jnp.asarray(lower, float), jnp.asarray(upper, float)
    scale = (hi - lo) / (upper - lower)
    return scale, lo - scale * lower


class Field(eqx.Module):
    """A scalar field $u(x)$ on a box: the interface of [`PIG`][jaxlab.pig.PIG] and
    [`PINN`][jaxlab.pig.PINN]. Inputs are mapped affinely from the box onto the model's
    own coordinates $\\xi$ (fixed [`Setting`][jaxlab.Setting]s, never trained)."""

    scale: Setting
    shift: Setting

    def coordinates(self, x: Float[ArrayLike, " d"]) -> Jet:
        return coordinate_jet(x, self.scale.read(), self.shift.read())

    def __call__(self, x: Float[ArrayLike, " d"]) -> Float[Array, ""]:
        raise NotImplementedError

    def jet(self, x: Float[ArrayLike, " d"]) -> Jet:
        """The value, gradient `(d,)` and pure second derivatives `(d,)` at `x`."""
        raise NotImplementedError

    def cost_per_point(self) -> int:
        """About how many floats one point's evaluation holds (to size chunks)."""
        return 1024

    def batch_values(self, points: Float[ArrayLike, "P d"], chunk: int | None = None) -> Array:
        """$u$ at each point, `(P,)` (see [`values`][jaxlab.pig.values]); by default
        the per-point call, vmapped in chunks."""
        return _map_points(self, points, _chunk(self, points.shape[0], chunk))

    def batch_jets(self, points: Float[ArrayLike, "P d"], chunk: int | None = None) -> Jet:
        """The jet at each point (see [`jets`][jaxlab.pig.jets]); by default the
        per-point `jet`, vmapped in chunks."""
        return _map_points(self.jet, points, _chunk(self, points.shape[0], chunk))


class PIG(Field):
    r"""Physics-Informed Gaussians: $u(x) = \mathrm{MLP}_\theta(\mathrm{FE}_\phi(\xi(x)))$
    with a [`GaussianEmbedding`][jaxlab.pig.GaussianEmbedding] and a small tanh MLP
    ($k \to$ `hidden` $\to 1$ by default). Gaussian centres start uniform over the box
    mapped onto $[\text{lower}, \text{upper}]^d$ (the official code's `grid_range`
    coordinates), so `sigma0` is in those units."""

    embedding: GaussianEmbedding
    mlp: MLP

    def __init__(
        self,
        box_lower,
        box_upper,
        *,
        n_gaussians: int = 400,
        channels: int = 4,
        sigma0: float = 0.1,
        lower: float = 0.0,
        upper: float = 2.0,
        hidden: tuple[int, ...] = (16,),
        activation: str = "tanh",
        shared: bool = False,
        covariance: Literal["diagonal", "full"] = "diagonal",
        key: PRNGKeyArray,
    ):
        # A centred copy of [lower, upper] (a shift changes nothing but round-off).
        half = (upper - lower) / 2
        scale, shift = _affine_to(box_lower, box_upper, -half, half)
        self.scale, self.shift = Setting(scale), Setting(shift)
        k_e, k_m = jax.random.split(key)
        self.embedding = GaussianEmbedding(
            n_gaussians,
            channels,
            scale.shape[0],
            sigma0,
            lower=-half,
            upper=half,
            shared=shared,
            covariance=covariance,
            key=k_e,
        )
        sizes = (self.embedding.features, *hidden, 1)
        self.mlp = MLP(sizes, activation, key=k_m)

    def __call__(self, x):
        xi = self.scale.read() * x + self.shift.read()
        return self.mlp(self.embedding(xi))[0]

    def jet(self, x) -> Jet:
        return self.mlp.jet(self.embedding.jet(self.coordinates(x))).scalar()

    def batch_values(self, points, chunk=None):
        if self.embedding.sigma is None:  # full covariance: per point
            return super().batch_values(points, chunk)
        xi = self.scale.read() * points + self.shift.read()
        size = _chunk(self, points.shape[0], chunk, _MOMENT_CHUNK_FLOATS)
        features = self.embedding.batch_values(xi, size)
        return jax.vmap(self.mlp)(features)[:, 0]

    def batch_jets(self, points, chunk=None):
        """Diagonal precision: the Gaussian sums of all points at once as matrix
        products ([`gaussian_moments`][jaxlab.pig.gaussian_moments]), then the MLP's jet
        per point."""
        if self.embedding.sigma is None:
            return super().batch_jets(points, chunk)
        scale = self.scale.read()
        xi = scale * points + self.shift.read()
        size = _chunk(self, points.shape[0], chunk, _MOMENT_CHUNK_FLOATS)
        value, grad, diag = self.embedding.batch_jets(xi, size)
        features = Jet(value, grad * scale[:, None], diag * scale[:, None] ** 2)
        return jax.vmap(lambda jet: self.mlp.jet(jet).scalar())(features)

    def centres(self) -> Float[Array, "CN d"]:
        """Gaussian centres in the box's (physical) coordinates."""
        return self.embedding.centres(self.scale.read(), self.shift.read())

    def cost_per_point(self) -> int:
        return self.embedding.n_total * (self.embedding.mu.shape[-1] + 2)


class PINN(Field):
    r"""The PINN baseline: a tanh MLP on the box mapped onto $[-1, 1]^d$, optionally on
    Fourier features $[\cos 2\pi B\xi, \sin 2\pi B\xi]$ with a fixed (untrained)
    $B_{ij} \sim \mathcal{N}(0, \text{fourier\_scale}^2)$."""

    mlp: MLP
    fourier: Setting | None

    def __init__(
        self,
        box_lower,
        box_upper,
        *,
        width: int = 64,
        depth: int = 4,
        activation: str = "tanh",
        fourier_features: int = 0,
        fourier_scale: float = 1.0,
        key: PRNGKeyArray,
    ):
        require_integer(width, "pinn_width")
        require_integer(depth, "pinn_depth")
        require_integer(fourier_features, "fourier_features", 0)
        scale, shift = _affine_to(box_lower, box_upper, -1.0, 1.0)
        self.scale, self.shift = Setting(scale), Setting(shift)
        d = scale.shape[0]
        k_b, k_m = jax.random.split(key)
        if fourier_features:
            b = fourier_scale * jax.random.normal(k_b, (fourier_features, d))
            self.fourier = Setting(2 * math.pi * b)
            inputs = 2 * fourier_features
        else:
            self.fourier, inputs = None, d
        self.mlp = MLP((inputs, *([width] * depth), 1), activation, key=k_m)

    def __call__(self, x):
        xi = self.scale.read() * x + self.shift.read()
        if self.fourier is not None:
            z = self.fourier.read() @ xi
            xi = jnp.concatenate([jnp.cos(z), jnp.sin(z)])
        return self.mlp(xi)[0]

    def jet(self, x) -> Jet:
        xi = self.coordinates(x)
        if self.fourier is not None:
            z = xi.affine(self.fourier.read())
            xi = z.cos().concatenate(z.sin())
        return self.mlp.jet(xi).scalar()

    def cost_per_point(self) -> int:
        widths = [w.shape[0] for w in self.mlp.weights]
        return sum(widths) * (2 * self.scale.value.shape[0] + 1)


_CHUNK_FLOATS = 2**21  # vmapped per-point calls
_MOMENT_CHUNK_FLOATS = 2**20  # PIG's batched Gaussian sums (faster in smaller chunks)


def _chunk(model: Field, n_points: int, chunk: int | None, floats: int = _CHUNK_FLOATS) -> int:
    if chunk is None or chunk <= 0:
        chunk = max(64, floats // max(1, model.cost_per_point()))
    return min(chunk, n_points)


def _map_points(fn, points, chunk: int):
    if chunk >= points.shape[0]:
        return jax.vmap(fn)(points)
    # Each chunk is rematerialized in the backward pass: memory holds one chunk's
    # point-by-Gaussian arrays, not all points'.
    return jax.lax.map(jax.checkpoint(lambda p: fn(p)), points, batch_size=chunk)


def values(model: Field, points: Float[ArrayLike, "P d"], chunk: int | None = None) -> Array:
    """$u$ at each point, `(P,)`, in chunks of `chunk` points (automatic if None: about
    $2^{20}$ floats of point-by-Gaussian arrays per chunk for PIG, $2^{21}$ for models
    evaluated point by point)."""
    return model.batch_values(points, chunk)


def jets(model: Field, points: Float[ArrayLike, "P d"], chunk: int | None = None, names: str = ""):
    """The [`Jet`][jaxlab.pig.Jet] of $u$ at each point (fields with a leading `(P,)`
    axis), in chunks as in [`values`][jaxlab.pig.values]."""
    out = model.batch_jets(points, chunk)
    return Jet(out.value, out.grad, out.diag, names)
