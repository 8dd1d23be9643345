"""Evaluation of the experiments' trained models: samples from each final model (in the
compiled `finish`, one function per experiment) and their scores on the host (the data
floors, `fid_digits` and label coverage)."""

import functools

import jax
import numpy as np

from ._data import digits, toy_sampler
from ._metrics import digits_features, frechet_distance, mmd, quantize, sliced_wasserstein
from ._recipe import generate


def toy_evaluate(model, key, data, *, cfg, D):
    """`pfgmpp.toy`: `cfg.n_samples` samples of the model of dimension `D` against as
    many fresh data points: `swd` (over `cfg.n_projections` directions), `mmd`, the
    sampler's `nfe` and the `samples`."""
    draw = toy_sampler(cfg.dataset)
    k_gen, k_data, k_proj = jax.random.split(key, 3)
    samples, nfe = generate(model, k_gen, cfg, D, cfg.n_samples, (2,))
    real = draw(k_data, cfg.n_samples)
    return {
        "swd": sliced_wasserstein(samples, real, k_proj, cfg.n_projections),
        "mmd": mmd(samples, real),
        "nfe": nfe,
        "samples": samples,
    }


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3))
def toy_floor(dataset, n, n_projections, seeds, key):
    """Per seed, the SWD and MMD of two independent draws of `n` points of `dataset`:
    the floor a perfect model would reach."""
    data = toy_sampler(dataset)

    def one(k):
        k1, k2, k3 = jax.random.split(k, 3)
        a, b = data(k1, n), data(k2, n)
        return sliced_wasserstein(a, b, k3, n_projections), mmd(a, b)

    return jax.vmap(one)(jax.random.split(key, seeds))


def digits_evaluate(model, key, data, *, cfg, D):
    """`pfgmpp.digits`: as many samples as the test split holds, and the sampler's `nfe`."""
    n = digits()[2].shape[0]
    samples, nfe = generate(model, key, cfg, D, n, (1, 8, 8))
    return {"samples": samples, "nfe": nfe}


def robustness_evaluate(model, key, data, *, cfg, D):
    """`pfgmpp.robustness`: test-split-many samples under each condition of
    `conditions` (`"alpha=A/samples"`, `"bits=B/samples"`, `"steps=S/samples"`),
    all from the same prior draws."""
    n = digits()[2].shape[0]
    shape = (1, 8, 8)
    out = {}
    # Common random numbers: every condition starts from the same prior draws.
    for alpha in cfg.alphas:
        out[f"alpha={alpha:g}/samples"] = generate(model, key, cfg, D, n, shape, alpha=alpha)[0]
    for bits in cfg.bits:
        out[f"bits={bits}/samples"] = generate(quantize(model, bits), key, cfg, D, n, shape)[0]
    for steps in cfg.step_counts:
        out[f"steps={steps}/samples"] = generate(model, key, cfg, D, n, shape, steps=steps)[0]
    return out


def conditions(cfg) -> list[tuple[str, str, float]]:
    """The robustness tests of `cfg` as `(kind, text, value)`: noise injection `alpha`,
    weight `bits` and Heun `steps`, in the order of `robustness_evaluate`."""
    return (
        [("alpha", f"{a:g}", a) for a in cfg.alphas]
        + [("bits", str(b), b) for b in cfg.bits]
        + [("steps", str(s), s) for s in cfg.step_counts]
    )


def fid_floor(seeds: int) -> np.ndarray:
    """Per seed, `fid_digits` of a random train subset of the test split's size against
    the test split (fixed NumPy seed): the floor a perfect model would reach."""
    x_train, _, x_test, _ = digits()
    test_features = digits_features(x_test)[0]
    rng = np.random.default_rng(2024)
    floors = []
    for _ in range(seeds):
        subset = x_train[rng.choice(len(x_train), len(x_test), replace=False)]
        floors.append(frechet_distance(digits_features(subset)[0], test_features))
    return np.array(floors)


def fid_and_coverage(samples: np.ndarray, test_features: np.ndarray) -> tuple[float, float]:
    """`fid_digits` of one seed's `samples` against the test split's features, and the
    number of labels (of 10) holding at least a quarter of their share; NaN for
    non-finite samples."""
    if not np.all(np.isfinite(samples)):
        return np.nan, np.nan
    features, labels = digits_features(samples)
    counts = np.bincount(labels, minlength=10)
    coverage = float(np.sum(counts >= 0.25 * len(labels) / 10))
    return frechet_distance(features, test_features), coverage
