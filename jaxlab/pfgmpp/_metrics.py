r"""Sample-quality metrics: sliced Wasserstein distance and multi-bandwidth MMD for point
clouds; for digits a Fréchet distance in the features of a small classifier that jaxlab
trains on scikit-learn's digits (`fid_digits`) and the label coverage of the samples;
and min-max weight quantization for the robustness tests."""

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from .._data import check_finite
from .._experiment import require, require_integer
from .._model import Setting
from .._train import fit
from ._data import digits


def sliced_wasserstein(
    x: Float[ArrayLike, "n d"],
    y: Float[ArrayLike, "n d"],
    key: PRNGKeyArray,
    n_projections: int = 128,
) -> Float[Array, ""]:
    r"""Sliced 2-Wasserstein distance between two equal-size point clouds:
    $\big(\mathbb E_\theta\, W_2^2(\theta^\top x, \theta^\top y)\big)^{1/2}$ over
    `n_projections` random unit directions $\theta$ (as POT's
    `sliced_wasserstein_distance` with `p=2`); each 1-D $W_2^2$ compares sorted
    projections."""
    require(x.shape == y.shape, "y", f"a point cloud of shape {x.shape}", y.shape)
    check_finite(x, "x")
    check_finite(y, "y")
    return _sliced_wasserstein(x, y, key, n_projections)


@functools.partial(jax.jit, static_argnames="n_projections")
def _sliced_wasserstein(x, y, key, n_projections):
    x, y = x.reshape(x.shape[0], -1), y.reshape(y.shape[0], -1)
    theta = jax.random.normal(key, (x.shape[1], n_projections))
    theta = theta / jnp.linalg.norm(theta, axis=0)
    px, py = jnp.sort(x @ theta, axis=0), jnp.sort(y @ theta, axis=0)
    return jnp.sqrt(jnp.mean((px - py) ** 2))


def mmd(
    x: Float[ArrayLike, "n d"],
    y: Float[ArrayLike, "m d"],
    kernel_mul: float = 2.0,
    kernel_num: int = 5,
) -> Float[Array, ""]:
    r"""Squared maximum mean discrepancy (biased V-statistic) with a sum of `kernel_num`
    Gaussian kernels of bandwidths $h\,m^{k}$, $k = -\lfloor K/2\rfloor, \dots$, where
    $h$ is the mean pairwise squared distance of the pooled samples (the official toy
    notebook's metric): $\overline{K_{xx}} + \overline{K_{yy}} - 2\overline{K_{xy}}$."""
    check_finite(x, "x")
    check_finite(y, "y")
    return _mmd(x, y, kernel_mul, kernel_num)


@functools.partial(jax.jit, static_argnames="kernel_num")
def _mmd(x, y, kernel_mul, kernel_num):
    x, y = x.reshape(x.shape[0], -1), y.reshape(y.shape[0], -1)
    z = jnp.concatenate([x, y])
    sq = jnp.sum(z**2, axis=1)
    d2 = jnp.maximum(sq[:, None] + sq[None, :] - 2 * z @ z.T, 0.0)
    n = z.shape[0]
    bandwidth = jax.lax.stop_gradient(jnp.sum(d2) / (n * n - n)) / kernel_mul ** (kernel_num // 2)
    kernel = sum(jnp.exp(-d2 / (bandwidth * kernel_mul**k)) for k in range(kernel_num))
    nx = x.shape[0]
    return jnp.mean(kernel[:nx, :nx]) + jnp.mean(kernel[nx:, nx:]) - 2 * jnp.mean(kernel[:nx, nx:])


def frechet_distance(features_a: ArrayLike, features_b: ArrayLike) -> float:
    r"""$\|\mu_a - \mu_b\|^2 + \operatorname{tr}\big(\Sigma_a + \Sigma_b -
    2(\Sigma_a^{1/2}\Sigma_b\Sigma_a^{1/2})^{1/2}\big)$ between two feature sets (rows are
    samples), in float64 on the host (the trace of the geometric mean through symmetric
    eigendecompositions)."""
    a, b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    w, v = np.linalg.eigh(cov_a)
    root_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    middle = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    cross = np.sum(np.sqrt(np.clip(middle, 0, None)))
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * cross)


class DigitsClassifier(eqx.Module):
    """The feature network of `fid_digits`: an MLP 64 -> 256 -> 64 -> 10 with SiLU;
    `features` is the 64-wide penultimate layer."""

    hidden: eqx.nn.Linear
    penultimate: eqx.nn.Linear
    head: eqx.nn.Linear

    def __init__(self, key: PRNGKeyArray):
        k1, k2, k3 = jax.random.split(key, 3)
        self.hidden = eqx.nn.Linear(64, 256, key=k1)
        self.penultimate = eqx.nn.Linear(256, 64, key=k2)
        self.head = eqx.nn.Linear(64, 10, key=k3)

    def features(self, x: Float[ArrayLike, "..."]) -> Float[Array, " 64"]:
        return jax.nn.silu(self.penultimate(jax.nn.silu(self.hidden(x.reshape(-1)))))

    def __call__(self, x: Float[ArrayLike, "..."]) -> Float[Array, " 10"]:
        return self.head(self.features(x))


def _classifier_loss(model, batch, key):
    x, y = batch
    noisy = x + 0.1 * jax.random.normal(key, x.shape)  # light noise: smoother features
    logits = jax.vmap(model)(noisy)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    return loss + 1e-4 * sum(
        jnp.sum(w**2) for w in (model.hidden.weight, model.penultimate.weight)
    ), {}


@functools.lru_cache(maxsize=2)
def digits_classifier(steps: int = 2000, seed: int = 0) -> tuple[DigitsClassifier, float]:
    """The `fid_digits` classifier, trained once per process (cached in memory) with
    [`fit`][jaxlab.fit] on the digits train split: Adam 1e-3, batches of 128, `steps`
    steps, a fixed `seed`. Returns `(model, test accuracy)`."""
    x_train, y_train, x_test, y_test = digits()
    out = fit(
        _classifier_loss,
        DigitsClassifier,
        optax.adam(1e-3),
        (jnp.asarray(x_train), jnp.asarray(y_train)),
        steps=steps,
        seeds=1,
        key=seed,
        batch_size=128,
        chunk_size=steps,
    )
    model = out.model(0)
    accuracy = float(jnp.mean(jnp.argmax(jax.vmap(model)(x_test), axis=1) == y_test))
    return model, accuracy


@eqx.filter_jit
def _features_and_labels(model, x):
    return jax.vmap(model.features)(x), jnp.argmax(jax.vmap(model)(x), axis=1)


def digits_features(images: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Classifier features `(n, 64)` and predicted labels `(n,)` of digit images
    `(n, 1, 8, 8)` (or `(n, 64)`) in [-1, 1]."""
    model, _ = digits_classifier()
    images = jnp.asarray(images, jnp.float32).reshape(-1, 1, 8, 8)
    features, labels = _features_and_labels(model, images)
    return np.asarray(features), np.asarray(labels)


def fid_digits(images: ArrayLike, reference: ArrayLike | None = None) -> float:
    """Fréchet distance between digit `images` and `reference` images (default: the
    test split) in the classifier's penultimate features (see
    [`digits_classifier`][jaxlab.pfgmpp.digits_classifier]). Biased upward for small
    sample counts: compare only figures with the same counts."""
    if reference is None:
        reference = digits()[2]
    check_finite(images, "images")
    return frechet_distance(digits_features(images)[0], digits_features(reference)[0])


def label_coverage(images: ArrayLike, share: float = 0.25) -> int:
    """How many of the 10 digit labels the classifier gives to at least `share` of their
    fair share (`share * n / 10`) of the `n` images (a mode-dropping check)."""
    labels = digits_features(images)[1]
    counts = np.bincount(labels, minlength=10)
    return int(np.sum(counts >= share * len(labels) / 10))


def quantize(model, bits: int):
    r"""Per-tensor min-max uniform quantization of a model's weights to `bits` bits (the
    official robustness protocol): every floating-point array with two or more
    dimensions (linear and convolution weights; biases, norms and
    [`Setting`][jaxlab.Setting]s are kept) becomes
    $w_{\min} + \mathrm{round}\big((w - w_{\min})/\Delta\big)\,\Delta$,
    $\Delta = (w_{\max} - w_{\min})/(2^{b} - 1)$."""
    require_integer(bits, "bits")
    levels = 2**bits - 1

    def one(w):
        if not (eqx.is_inexact_array(w) and w.ndim >= 2):
            return w
        lo, hi = jnp.min(w), jnp.max(w)
        step = jnp.where(hi > lo, (hi - lo) / levels, 1.0)
        return lo + jnp.round((w - lo) / step) * step

    return jax.tree.map(one, model, is_leaf=lambda x: isinstance(x, Setting))
