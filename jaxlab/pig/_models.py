r"""The Gaussian feature embedding, Physics-Informed Gaussians (embedding + small MLP) and
the PINN baseline (MLP, optionally on Fourier features).

Every model is a scalar field $u(x)$ on one point $x \in \mathbb{R}^d$ (physical
coordinates), with `__call__(x)` for the value and `jet(x)` for the value, gradient and
pure second derivatives (see [`Jet`][jaxlab.pig.Jet]); batches of points go through
[`values`][jaxlab.pig.values] and [`jets`][jaxlab.pig.jets], which chunk over points.
"""

import math
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from .._experiment import require, require_integer
from .._train import Setting
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

    def __call__(self, xi: Float[Array, " d"]) -> Float[Array, " k"]:
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
        r"""Diagonal precision $a = 1/\sigma^2$, written so that, batched over points,
        every sum over Gaussians is a matrix product: with $S[c] = \sum_n G_{cn} c_{cn}$,

        $$ \partial_i \mathrm{FE} = -\xi_i S[wa_i] + S[wa_i\mu_i], \quad
           \partial_{ii} \mathrm{FE} = \xi_i^2 S[wa_i^2] - 2\xi_i S[wa_i^2\mu_i]
           + S[wa_i^2\mu_i^2] - S[wa_i]. $$

        The expanded squares lose a few digits to cancellation (about $10^{-5}$ relative
        in float32 at $\sigma = 0.1$ on a centred $[-1, 1]^d$ frame), for about half the
        cost of the direct form in the backward pass. The exponent itself is direct,
        $q = \sum_i a_i(\xi_i - \mu_i)^2 \ge 0$: expanded, it loses every digit once a
        trained $\sigma$ shrinks towards 0, turns negative and overflows $G$."""
        a = 1 / self.sigma**2
        mu, w = self.mu, self.weight  # (C, N, d), (C, N, F)
        g = jnp.exp(-jnp.sum(a * (xi - mu) ** 2, axis=-1) / 2)
        a2 = a**2
        coef = jnp.concatenate([a, a * mu, a2, a2 * mu, a2 * mu**2], axis=-1)  # (C, N, 5d)
        gw = g[..., None] * w
        s0 = jnp.sum(gw, axis=1)
        s = jnp.einsum("cnf,cnj->jcf", gw, coef)
        d = xi.shape[0]
        sa, sam, sa2, sa2m, sa2m2 = (s[i * d : (i + 1) * d] for i in range(5))  # (d, C, F)
        x = xi[:, None, None]
        grad = sam - x * sa
        diag = x**2 * sa2 - 2 * x * sa2m + sa2m2 - sa
        return s0.reshape(-1), grad.reshape(d, -1), diag.reshape(d, -1)

    def centres(self, scale: Array, shift: Array) -> Float[Array, "CN d"]:
        """The centres in physical coordinates ($x = (\\mu - \\text{shift})/\\text{scale}$)."""
        return ((self.mu - shift) / scale).reshape(-1, self.mu.shape[-1])


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

    def coordinates(self, x: Float[Array, " d"]) -> Jet:
        return coordinate_jet(x, self.scale.read(), self.shift.read())

    def __call__(self, x: Float[Array, " d"]) -> Float[Array, ""]:
        raise NotImplementedError

    def jet(self, x: Float[Array, " d"]) -> Jet:
        """The value, gradient `(d,)` and pure second derivatives `(d,)` at `x`."""
        raise NotImplementedError

    def cost_per_point(self) -> int:
        """About how many floats one point's evaluation holds (to size chunks)."""
        return 1024


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


_CHUNK_FLOATS = 2**21


def _chunk(model: Field, n_points: int, chunk: int | None) -> int:
    if chunk is None or chunk <= 0:
        chunk = max(64, _CHUNK_FLOATS // max(1, model.cost_per_point()))
    return min(chunk, n_points)


def _map_points(fn, points, chunk: int):
    if chunk >= points.shape[0]:
        return jax.vmap(fn)(points)
    # Each chunk is rematerialized in the backward pass: memory holds one chunk's
    # point-by-Gaussian arrays, not all points'.
    return jax.lax.map(jax.checkpoint(lambda p: fn(p)), points, batch_size=chunk)


def values(model: Field, points: Float[Array, "P d"], chunk: int | None = None) -> Array:
    """$u$ at each point, `(P,)`, in chunks of `chunk` points (automatic if None: about
    $2^{21}$ floats of point-by-Gaussian arrays per chunk)."""
    return _map_points(model, points, _chunk(model, points.shape[0], chunk))


def jets(model: Field, points: Float[Array, "P d"], chunk: int | None = None, names: str = ""):
    """The [`Jet`][jaxlab.pig.Jet] of $u$ at each point (fields with a leading `(P,)`
    axis), in chunks as in [`values`][jaxlab.pig.values]."""
    out = _map_points(model.jet, points, _chunk(model, points.shape[0], chunk))
    return Jet(out.value, out.grad, out.diag, names)
