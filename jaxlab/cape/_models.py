r"""Neural PDE surrogates: the 1-D FNO, the CAPE block, and the three ways of giving a
surrogate the PDE parameters.

Every module here acts on ONE example, channels first: a state $u$ of shape `(C, N)`
and parameters $p$ of shape `(P,)`; batches come from `jax.vmap`.

**CAPE block** (Takamoto et al. 2023). With $\tilde p$ the (log-)parameters, three
two-layer MLPs give channel gates $e_j = W_{j2}\,\mathrm{GELU}(W_{j1}\tilde p + b_{j1}) + b_{j2}
\in \mathbb{R}^{w}$, $j = 0, 1, 2$. From the stem $h = \mathrm{GELU}(\mathrm{Conv}_k u)$
($h$ has $w/2$ channels),

$$\begin{aligned}
y &= \mathrm{GELU}\big(\mathrm{Up}_4\,\mathcal{K}(\mathrm{Pool}_4 h) \odot e_0
   + \mathrm{Conv}_1 h \odot e_1 + \mathrm{DWConv}_k h \odot e_2 + \mathrm{Conv}'_1 h\big),\\
\hat u &= u + \mathrm{LayerNorm}_N(\mathrm{Conv}''_1\, y),
\end{aligned}$$

with $\mathcal{K}$ a spectral convolution (16 modes) on the 4-fold average-pooled grid,
$\mathrm{Up}_4$ nearest upsampling, $\mathrm{DWConv}_k$ depthwise. $\hat u$ is a guess
of the next state: the base network maps $[u, \hat u]$ (2C channels) to 2C channels, a
final 1x1 convolution to the C channels of $u_{t+1}$, and an auxiliary loss pulls
$\hat u$ towards $u_{t+1}$.

Departures, each switchable: convolutions pad circularly (the data are periodic;
`padding="zeros"` is the original); the LayerNorm's affine is per channel, so the block
works at any resolution (`faithful_norm=True` gives the original per-position affine of
shape N, which fixes the resolution).
"""

import abc
import functools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from .._experiment import require, require_integer
from .._model import count_params


def _pad_mode(padding: str) -> str:
    require(padding in ("circular", "zeros"), "padding", "'circular' or 'zeros'", padding)
    return {"circular": "CIRCULAR", "zeros": "ZEROS"}[padding]


class SpectralConv1d(eqx.Module):
    """$\\mathcal{K}x = \\mathcal{F}^{-1}(W \\cdot \\mathcal{F}x)$ on the lowest `modes`
    Fourier modes (complex weights stored as real and imaginary parts), `(in, N) -> (out, N)`."""

    real: Float[Array, "cin cout modes"]
    imag: Float[Array, "cin cout modes"]
    modes: int = eqx.field(static=True)

    def __init__(self, in_channels: int, out_channels: int, modes: int, *, key: PRNGKeyArray):
        require_integer(modes, "modes")
        scale = 1.0 / (in_channels * out_channels)
        k1, k2 = jax.random.split(key)
        shape = (in_channels, out_channels, modes)
        self.real = scale * jax.random.uniform(k1, shape)
        self.imag = scale * jax.random.uniform(k2, shape)
        self.modes = modes

    def __call__(self, x: Float[ArrayLike, "cin n"]) -> Float[Array, "cout n"]:
        n = x.shape[-1]
        m = min(self.modes, n // 2 + 1)
        coefficients = jnp.fft.rfft(x, axis=-1)[:, :m]
        weights = (self.real + 1j * self.imag)[..., :m]
        out = jnp.einsum("im,iom->om", coefficients, weights)
        out = jnp.pad(out, ((0, 0), (0, n // 2 + 1 - m)))
        return jnp.fft.irfft(out, n=n, axis=-1).astype(x.dtype)


class Pointwise(eqx.Module):
    """A 1x1 convolution, `(in, N) -> (out, N)`: $Wx + b$ at every point (a matmul)."""

    weight: Float[Array, "cout cin"]
    bias: Float[Array, "cout 1"]

    def __init__(self, in_channels: int, out_channels: int, *, key: PRNGKeyArray):
        bound = 1.0 / math.sqrt(in_channels)
        k1, k2 = jax.random.split(key)
        self.weight = jax.random.uniform(
            k1, (out_channels, in_channels), minval=-bound, maxval=bound
        )
        self.bias = jax.random.uniform(k2, (out_channels, 1), minval=-bound, maxval=bound)

    def __call__(self, x: Float[ArrayLike, "cin n"]) -> Float[Array, "cout n"]:
        return self.weight @ x + self.bias


class FNO1d(eqx.Module):
    """The 1-D Fourier neural operator (Li et al. 2021) as PDEBench builds it: the input
    channels and the grid coordinate lifted to `width` channels, `layers` Fourier layers
    $v \\leftarrow \\mathrm{GELU}(\\mathcal{K}v + Wv)$ (no GELU after the last), then a
    two-layer projection (`hidden` = 128 channels). `(in, N) -> (out, N)`; `padding` zero cells are
    appended before the Fourier layers (PDEBench: 2; periodic data: 0)."""

    lift: Pointwise
    spectral: list[SpectralConv1d]
    pointwise: list[Pointwise]
    project: Pointwise
    out: Pointwise
    padding: int = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        width: int = 20,
        modes: int = 12,
        layers: int = 4,
        padding: int = 0,
        hidden: int = 128,
        *,
        key: PRNGKeyArray,
    ):
        for name, value in (("width", width), ("layers", layers), ("in_channels", in_channels)):
            require_integer(value, name)
        keys = jax.random.split(key, 2 * layers + 3)
        self.lift = Pointwise(in_channels + 1, width, key=keys[0])
        self.spectral = [SpectralConv1d(width, width, modes, key=k) for k in keys[1 : layers + 1]]
        self.pointwise = [Pointwise(width, width, key=k) for k in keys[layers + 1 : -2]]
        self.project = Pointwise(width, hidden, key=keys[-2])
        self.out = Pointwise(hidden, out_channels, key=keys[-1])
        self.padding = padding

    def __call__(self, x: Float[ArrayLike, "cin n"]) -> Float[Array, "cout n"]:
        n = x.shape[-1]
        grid = ((jnp.arange(n) + 0.5) / n).astype(x.dtype)
        v = self.lift(jnp.concatenate([x, grid[None]]))
        if self.padding:
            v = jnp.pad(v, ((0, 0), (0, self.padding)))
        last = len(self.spectral) - 1
        for i, (k, w) in enumerate(zip(self.spectral, self.pointwise)):
            v = k(v) + w(v)
            v = v if i == last else jax.nn.gelu(v)
        if self.padding:
            v = v[:, :n]
        return self.out(jax.nn.gelu(self.project(v)))


class _ConvPair(eqx.Module):
    """Two width-3 convolutions, each followed by GELU, `(in, N) -> (out, N)`."""

    first: eqx.nn.Conv1d
    second: eqx.nn.Conv1d

    def __init__(self, in_channels: int, out_channels: int, mode: str, *, key: PRNGKeyArray):
        k1, k2 = jax.random.split(key)
        conv = functools.partial(eqx.nn.Conv1d, kernel_size=3, padding=1, padding_mode=mode)
        self.first = conv(in_channels, out_channels, key=k1)
        self.second = conv(out_channels, out_channels, key=k2)

    def __call__(self, x: Float[ArrayLike, "cin n"]) -> Float[Array, "cout n"]:
        return jax.nn.gelu(self.second(jax.nn.gelu(self.first(x))))


class UNet1d(eqx.Module):
    """A 1-D U-Net (Ronneberger et al. 2015; PDEBench's base model, without batch norm):
    level $l = 0, \\dots, L-1$ has $w 2^l$ channels and two width-3 convolutions with GELU;
    average pooling by 2 on the way down; on the way up, a 1x1 convolution, repetition
    to twice the length, the skip connection concatenated, two convolutions; a 1x1
    output layer. `(in, N) -> (out, N)`, $N$ divisible by $2^{L-1}$. With circular
    padding the map commutes with shifts by multiples of $2^{L-1}$ cells."""

    encoder: list[_ConvPair]
    lift: list[Pointwise]
    decoder: list[_ConvPair]
    out: Pointwise

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        width: int = 16,
        levels: int = 3,
        padding: str = "circular",
        *,
        key: PRNGKeyArray,
    ):
        for name, value in (("width", width), ("levels", levels), ("in_channels", in_channels)):
            require_integer(value, name)
        mode = _pad_mode(padding)
        channels = [width * 2**level for level in range(levels)]
        keys = iter(jax.random.split(key, 3 * levels))
        inputs = [in_channels, *channels[:-1]]
        self.encoder = [_ConvPair(i, c, mode, key=next(keys)) for i, c in zip(inputs, channels)]
        self.lift = [Pointwise(c, h, key=next(keys)) for c, h in zip(channels[1:], channels)]
        self.decoder = [_ConvPair(2 * c, c, mode, key=next(keys)) for c in channels[:-1]]
        self.out = Pointwise(channels[0], out_channels, key=next(keys))

    def __call__(self, x: Float[ArrayLike, "cin n"]) -> Float[Array, "cout n"]:
        factor = 2 ** (len(self.encoder) - 1)
        require(x.shape[-1] % factor == 0, "grid", f"a multiple of {factor} cells", x.shape[-1])
        skips = []
        for level, block in enumerate(self.encoder):
            x = block(x)
            if level < len(self.decoder):
                skips.append(x)
                x = x.reshape(x.shape[0], -1, 2).mean(axis=-1)
        for level in reversed(range(len(self.decoder))):
            x = jnp.repeat(self.lift[level](x), 2, axis=-1)
            x = self.decoder[level](jnp.concatenate([skips[level], x]))
        return self.out(x)


class _MLP(eqx.Module):
    first: eqx.nn.Linear
    second: eqx.nn.Linear

    def __init__(self, n_in, hidden, n_out, *, key):
        k1, k2 = jax.random.split(key)
        self.first = eqx.nn.Linear(n_in, hidden, key=k1)
        self.second = eqx.nn.Linear(hidden, n_out, key=k2)

    def __call__(self, p):
        return self.second(jax.nn.gelu(self.first(p)))


class CAPEBlock(eqx.Module):
    """The CAPE block (module docs): `(u (C, N), p (P,)) -> û (C·guesses, N)`.

    **Arguments:** `channels` C, `n_params` P, `width` $w$ (the paper's widening factor,
    64), `kernel` $k$ (5), `modes` of the pooled spectral convolution (16), `pool` (4),
    `guesses` $\\ell$ (1), `padding` (`"circular"` or the original `"zeros"`),
    `faithful_norm` with `grid` N (a per-position LayerNorm affine, the original).
    """

    stem: eqx.nn.Conv1d
    gates: list[_MLP]
    spectral: SpectralConv1d
    pointwise: Pointwise
    depthwise: eqx.nn.Conv1d
    skip: Pointwise
    mix: Pointwise
    norm_weight: Array
    norm_bias: Array
    pool: int = eqx.field(static=True)
    guesses: int = eqx.field(static=True)

    def __init__(
        self,
        channels: int = 1,
        n_params: int = 1,
        width: int = 64,
        kernel: int = 5,
        modes: int = 16,
        pool: int = 4,
        guesses: int = 1,
        padding: str = "circular",
        faithful_norm: bool = False,
        grid: int = 128,
        *,
        key: PRNGKeyArray,
    ):
        require(
            isinstance(width, int) and width >= 2 and width % 2 == 0,
            "width",
            "an even integer >= 2",
            width,
        )
        require(isinstance(kernel, int) and kernel % 2 == 1, "kernel", "an odd integer", kernel)
        mode = _pad_mode(padding)
        half = width // 2
        keys = jax.random.split(key, 9)
        same = kernel // 2
        self.stem = eqx.nn.Conv1d(
            channels, half, kernel, padding=same, use_bias=False, padding_mode=mode, key=keys[0]
        )
        self.gates = [_MLP(n_params, half, width, key=k) for k in keys[1:4]]
        self.spectral = SpectralConv1d(half, width, modes, key=keys[4])
        self.pointwise = Pointwise(half, width, key=keys[5])
        self.depthwise = eqx.nn.Conv1d(
            half,
            width,
            kernel,
            padding=same,
            groups=half,
            use_bias=False,
            padding_mode=mode,
            key=keys[6],
        )
        self.skip = Pointwise(half, width, key=keys[7])
        self.mix = Pointwise(width, channels * guesses, key=keys[8])
        shape = (grid,) if faithful_norm else (channels * guesses, 1)
        self.norm_weight = jnp.ones(shape)
        self.norm_bias = jnp.zeros(shape)
        self.pool = pool
        self.guesses = guesses

    def __call__(
        self, u: Float[ArrayLike, "c n"], p: Float[ArrayLike, " p"]
    ) -> Float[Array, "cl n"]:
        n = u.shape[-1]
        require(n % self.pool == 0, "grid", f"a multiple of pool={self.pool} cells", n)
        h = jax.nn.gelu(self.stem(u))
        e0, e1, e2 = (g(p)[:, None] for g in self.gates)
        pooled = jnp.mean(h.reshape(h.shape[0], n // self.pool, self.pool), axis=-1)
        y0 = jnp.repeat(self.spectral(pooled), self.pool, axis=-1)
        y = jax.nn.gelu(y0 * e0 + self.pointwise(h) * e1 + self.depthwise(h) * e2 + self.skip(h))
        y = self.mix(y)
        mean = jnp.mean(y, axis=-1, keepdims=True)
        var = jnp.var(y, axis=-1, keepdims=True)
        y = (y - mean) * jax.lax.rsqrt(var + 1e-5) * self.norm_weight + self.norm_bias
        return jnp.tile(u, (self.guesses, 1)) + y


def _transform(p, log_params):
    return jnp.log10(p) if log_params else p


class Surrogate(eqx.Module):
    """One step of a neural PDE surrogate: `(u_t (C, N), params (P,)) -> (u_{t+1}, guess)`,
    where `guess` is CAPE's $\\hat u$ (None for the other surrogates)."""

    @abc.abstractmethod
    def __call__(self, u, params) -> tuple[Array, Array | None]:
        raise NotImplementedError


class Unconditioned(Surrogate):
    """The base network alone: it never sees the parameters."""

    net: eqx.Module

    def __call__(self, u, params):
        return self.net(u), None


class ParameterChannels(Surrogate):
    """The parameters (log10 with `log_params`) appended as constant input channels."""

    net: eqx.Module
    log_params: bool = eqx.field(static=True, default=True)

    def __call__(self, u, params):
        p = _transform(params, self.log_params).astype(u.dtype)
        channels = jnp.broadcast_to(p[:, None], (p.shape[0], u.shape[-1]))
        return self.net(jnp.concatenate([u, channels])), None


class CAPESurrogate(Surrogate):
    """CAPE wrapped around a base network: $\\hat u$ = `block(u, p)`, then
    `mix(net([u, û]))` (module docs)."""

    block: CAPEBlock
    net: eqx.Module
    mix: Pointwise
    log_params: bool = eqx.field(static=True, default=True)

    def __call__(self, u, params):
        guess = self.block(u, _transform(params, self.log_params).astype(u.dtype))
        return self.mix(self.net(jnp.concatenate([u, guess]))), guess


KINDS = ("fno", "fno_cond", "cape_fno", "unet", "unet_cond", "cape_unet")


def build_surrogate(
    kind: str,
    *,
    channels: int = 1,
    n_params: int = 1,
    width: int = 20,
    modes: int = 12,
    layers: int = 4,
    hidden: int = 128,
    levels: int = 3,
    cape_width: int = 64,
    cape_kernel: int = 5,
    cape_modes: int = 16,
    padding: str = "circular",
    faithful_norm: bool = False,
    grid: int = 128,
    log_params: bool = True,
    key: PRNGKeyArray,
) -> Surrogate:
    """A surrogate whose base network is an [`FNO1d`][jaxlab.cape.FNO1d] (`width`,
    `modes`, `layers`, `hidden`) or a [`UNet1d`][jaxlab.cape.UNet1d] (`width`, `levels`,
    `padding`): `kind` is the base alone (`"fno"`, `"unet"`:
    [`Unconditioned`][jaxlab.cape.Unconditioned]), with the parameters as channels
    (`"fno_cond"`, `"unet_cond"`: [`ParameterChannels`][jaxlab.cape.ParameterChannels]),
    or under CAPE (`"cape_fno"`, `"cape_unet"`: [`CAPESurrogate`][jaxlab.cape.CAPESurrogate])."""
    require(kind in KINDS, "model", f"one of {', '.join(KINDS)}", kind)
    k_net, k_block, k_mix = jax.random.split(key, 3)

    def base(cin, cout):
        if "unet" in kind:
            return UNet1d(cin, cout, width, levels, padding, key=k_net)
        return FNO1d(cin, cout, width, modes, layers, hidden=hidden, key=k_net)

    if kind in ("fno", "unet"):
        return Unconditioned(base(channels, channels))
    if kind.endswith("_cond"):
        return ParameterChannels(base(channels + n_params, channels), log_params)
    block = CAPEBlock(
        channels,
        n_params,
        cape_width,
        cape_kernel,
        cape_modes,
        padding=padding,
        faithful_norm=faithful_norm,
        grid=grid,
        key=k_block,
    )
    net = base(2 * channels, 2 * channels)
    return CAPESurrogate(block, net, Pointwise(2 * channels, channels, key=k_mix), log_params)


def matched_width(kind: str, target: int, **kwargs) -> int:
    """The base network's width for surrogate `kind` whose parameter count is nearest
    `target` (the count is quadratic in the width, for the FNO and the U-Net alike)."""

    def count(width):
        return count_params(
            eqx.filter_eval_shape(
                lambda k: build_surrogate(kind, width=width, key=k, **kwargs), jax.random.key(0)
            )
        )

    # The count is a quadratic in the width: fit it exactly from three widths, solve.
    c1, c2, c3 = count(1), count(2), count(3)
    a = (c3 - 2 * c2 + c1) / 2
    b = c2 - c1 - 3 * a
    c = c1 - a - b
    root = (-b + math.sqrt(max(b * b - 4 * a * (c - target), 0.0))) / (2 * a)
    candidates = {max(1, math.floor(root)), max(1, math.ceil(root))}
    return min(sorted(candidates), key=lambda w: abs(count(w) - target))
