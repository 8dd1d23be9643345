"""Registered reproductions of PFGM++ (Xu et al., ICML 2023) at small scale:
`pfgmpp.toy` (2-D data), `pfgmpp.digits` (scikit-learn's 8x8 digits) and
`pfgmpp.robustness` (noise injection, weight quantization and fewer sampling steps).

Each trains one model per augmentation dimension D side by side with
[`Training`][jaxlab.Training] (named `"D=1"`, ..., `"D=inf"`: every model sees the same
batches), then samples from each final model with the Heun sampler started from its own
PFGM++ prior.
"""

import dataclasses
import functools
import math
from pathlib import Path

import jax
import numpy as np
from matplotlib.figure import Figure

from .._experiment import register, require, require_integer
from .._side_by_side import ModelSpec, Training
from .._train import sampler
from ._data import TOYS, digits, toy_sampler
from ._metrics import digits_features, frechet_distance, mmd, quantize, sliced_wasserstein
from ._networks import MLP, UNet
from ._recipe import EDMSettings, generate, training_loss, training_optimizer


INF = float("inf")


def label(D: float) -> str:
    """`"D=inf"`, `"D=1"`, `"D=2.5"`: the model name of augmentation dimension D."""
    return f"D={D:g}"


def _check_common(cfg) -> None:
    require(
        len(cfg.Ds) >= 1 and all(d > 0 for d in cfg.Ds) and len(set(cfg.Ds)) == len(cfg.Ds),
        "Ds",
        "one or more distinct numbers > 0 (inf allowed)",
        cfg.Ds,
    )
    require_integer(cfg.steps, "steps")
    require_integer(cfg.batch_size, "batch_size")
    require(cfg.learning_rate > 0, "learning_rate", "a number > 0", cfg.learning_rate)
    require_integer(cfg.width, "width", 4)


# --------------------------------------------------------------------------- toy


@dataclasses.dataclass(frozen=True)
class ToyConfig(EDMSettings):
    """Settings of `pfgmpp.toy`: a residual MLP (`width`, `depth`) with EDM
    preconditioning trained per D on 2-D `dataset` (`moons` or `eight_gaussians`, fresh
    draws every step) for `steps` Adam steps (warm-up, cosine decay from
    `learning_rate`); `n_samples` samples per model from `sample_steps` Heun steps,
    compared with as many fresh data points (SWD over `n_projections` directions, MMD)."""

    dataset: str = "moons"
    Ds: tuple[float, ...] = (1.0, 3.0, 10.0, 100.0, INF)
    steps: int = 4000
    batch_size: int = 256
    learning_rate: float = 2e-3
    width: int = 128
    depth: int = 3
    n_samples: int = 2000
    n_projections: int = 128

    def __post_init__(self):
        require(self.dataset in TOYS, "dataset", f"one of {', '.join(TOYS)}", self.dataset)
        super().__post_init__()
        _check_common(self)
        require_integer(self.depth, "depth")
        require_integer(self.n_samples, "n_samples", 2)

    @classmethod
    def quick(cls) -> "ToyConfig":
        return cls(steps=400, width=64, depth=2, batch_size=128, n_samples=500)


def _toy_models(cfg: ToyConfig) -> dict[str, ModelSpec]:
    draw = toy_sampler(cfg.dataset)

    def spec(D):
        def evaluate(model, key, data):
            k_gen, k_data, k_proj = jax.random.split(key, 3)
            samples, nfe = generate(model, k_gen, cfg, D, cfg.n_samples, (2,))
            real = draw(k_data, cfg.n_samples)
            return {
                "swd": sliced_wasserstein(samples, real, k_proj, cfg.n_projections),
                "mmd": mmd(samples, real),
                "nfe": nfe,
                "samples": samples,
            }

        return ModelSpec(
            init=lambda key: MLP(2, key=key, width=cfg.width, depth=cfg.depth),
            loss=training_loss(cfg, D),
            optimizer=training_optimizer(cfg),
            evaluate=evaluate,
        )

    return {label(D): spec(D) for D in cfg.Ds}


def _toy_batches(cfg: ToyConfig, data: None):
    draw = toy_sampler(cfg.dataset)
    return lambda key: draw(key, cfg.batch_size)


TOY = Training(_toy_models, batches=_toy_batches)


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3))
def _toy_floor(dataset, n, n_projections, seeds, key):
    data = toy_sampler(dataset)

    def one(k):
        k1, k2, k3 = jax.random.split(k, 3)
        a, b = data(k1, n), data(k2, n)
        return sliced_wasserstein(a, b, k3, n_projections), mmd(a, b)

    return jax.vmap(one)(jax.random.split(key, seeds))


def _scalars(cfg, final, metrics=("swd", "mmd")) -> dict[str, np.ndarray]:
    out = {}
    for D in cfg.Ds:
        name = label(D)
        for metric in metrics:
            out[f"{name}/{metric}"] = np.asarray(final[f"{name}/{metric}"], dtype=float)
        out[f"{name}/diverged"] = np.asarray(final[f"{name}/diverged"], dtype=float)
    return out


def _axis_D(ax, Ds):
    finite = [d for d in Ds if math.isfinite(d)]
    top = max(finite) * 10 if finite else 1.0
    xs = [d if math.isfinite(d) else top for d in Ds]
    ax.set_xscale("log")
    ax.set_xticks(xs, [f"{d:g}" if math.isfinite(d) else "inf" for d in Ds])
    ax.set_xlabel("D")
    return xs


def _metric_vs_D(cfg, metrics, names, floors, path: Path, title: str) -> None:
    fig = Figure(figsize=(5.0 * len(names), 4))
    axes = np.atleast_1d(fig.subplots(1, len(names)))
    for ax, metric, floor in zip(axes, names, floors):
        xs = _axis_D(ax, cfg.Ds)
        values = np.array([metrics[f"{label(D)}/{metric}"] for D in cfg.Ds])  # (Ds, seeds)
        ax.errorbar(
            xs, np.nanmean(values, 1), yerr=np.nanstd(values, 1), marker="o", capsize=3, lw=1.3
        )
        for seed_values in values.T:
            ax.plot(xs, seed_values, ".", color="gray", alpha=0.4)
        if floor is not None:
            ax.axhline(np.nanmean(floor), color="k", ls="--", label="floor (data vs data)")
            ax.legend(fontsize=8)
        ax.set_ylabel(metric)
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def report_toy(cfg: ToyConfig, results, out_dir: Path | None) -> dict:
    """Per-seed `D=X/swd`, `D=X/mmd`, the data floors `data/swd_floor`, `data/mmd_floor`
    (two independent draws of `n_samples` real points) and the sample count; figures of
    samples against data and of the metrics against D."""
    final = results["final"]
    metrics = _scalars(cfg, final)
    seeds = metrics[f"{label(cfg.Ds[0])}/swd"].shape[0]
    swd_floor, mmd_floor = _toy_floor(
        cfg.dataset, cfg.n_samples, cfg.n_projections, seeds, jax.random.key(12345)
    )
    metrics["data/swd_floor"] = np.asarray(swd_floor, dtype=float)
    metrics["data/mmd_floor"] = np.asarray(mmd_floor, dtype=float)
    metrics["data/n_samples"] = np.full(seeds, float(cfg.n_samples))
    metrics["data/nfe"] = np.asarray(final[f"{label(cfg.Ds[0])}/nfe"], dtype=float)
    if out_dir is not None:
        real = np.asarray(toy_sampler(cfg.dataset)(jax.random.key(7), cfg.n_samples))
        fig = Figure(figsize=(2.6 * (len(cfg.Ds) + 1), 2.9))
        axes = fig.subplots(1, len(cfg.Ds) + 1, sharex=True, sharey=True)
        axes[0].scatter(*real.T, s=1, color="k")
        axes[0].set_title(f"data ({cfg.dataset})")
        for ax, D in zip(axes[1:], cfg.Ds):
            samples = np.asarray(final[f"{label(D)}/samples"][0])
            ax.scatter(*real.T, s=1, color="0.85")
            ax.scatter(*samples.T, s=1, color="C0")
            swd = metrics[f"{label(D)}/swd"][0]
            ax.set_title(f"{label(D)}  swd {swd:.3f}", fontsize=9)
        axes[0].set_xlim(-1.5, 1.5)
        axes[0].set_ylim(-1.5, 1.5)
        fig.tight_layout()
        fig.savefig(out_dir / "samples.png", dpi=110)
        _metric_vs_D(
            cfg,
            metrics,
            ("swd", "mmd"),
            (metrics["data/swd_floor"], metrics["data/mmd_floor"]),
            out_dir / "metric_vs_D.png",
            f"pfgmpp.toy ({cfg.dataset}), {seeds} seeds",
        )
    return metrics


# --------------------------------------------------------------------------- digits


NETWORKS = ("mlp", "unet")


@dataclasses.dataclass(frozen=True)
class DigitsConfig(EDMSettings):
    """Settings of `pfgmpp.digits`: one network per D, trained on the digits train split
    (1198 images) with minibatches of `batch_size` for `steps` Adam steps; as many
    samples as the test split holds (599) are compared with the test split
    (`fid_digits`), the floor being a train subset of the same size against the test
    split.

    `network="mlp"` (default) is the residual MLP (`width`, `depth`) on the flattened
    image; `network="unet"` the small U-Net (`unet_width` channels at 8x8, twice that
    at 4x4), about 50x slower per step on a CPU."""

    Ds: tuple[float, ...] = (16.0, 64.0, 256.0, INF)
    steps: int = 4000
    batch_size: int = 128
    learning_rate: float = 1e-3
    network: str = "mlp"
    width: int = 256
    depth: int = 3
    unet_width: int = 16

    def __post_init__(self):
        super().__post_init__()
        _check_common(self)
        require(self.network in NETWORKS, "network", f"one of {', '.join(NETWORKS)}", self.network)
        require_integer(self.depth, "depth")
        require_integer(self.unet_width, "unet_width", 4)

    @classmethod
    def quick(cls) -> "DigitsConfig":
        return cls(Ds=(16.0, INF), steps=400, width=128, depth=2, sample_steps=10)


def _digits_network(cfg, key):
    if cfg.network == "unet":
        return UNet(1, key=key, width=cfg.unet_width)
    return MLP(64, key=key, width=cfg.width, depth=cfg.depth)


def _digits_models(cfg, evaluate_fn) -> dict[str, ModelSpec]:
    return {
        label(D): ModelSpec(
            init=functools.partial(_digits_network, cfg),
            loss=training_loss(cfg, D),
            optimizer=training_optimizer(cfg),
            evaluate=functools.partial(evaluate_fn, cfg=cfg, D=D),
        )
        for D in cfg.Ds
    }


def _digits_evaluate(model, key, data, *, cfg, D):
    n = digits()[2].shape[0]
    samples, nfe = generate(model, key, cfg, D, n, (1, 8, 8))
    return {"samples": samples, "nfe": nfe}


def _digits_data(cfg) -> dict[str, np.ndarray]:
    """The training images (host side, once per run; an argument of the programs)."""
    return {"train": digits()[0]}


def _digits_batches(cfg, data):
    return sampler(data["train"], cfg.batch_size)


DIGITS = Training(lambda cfg: _digits_models(cfg, _digits_evaluate), _digits_data, _digits_batches)


def _fid_floor(seeds: int) -> np.ndarray:
    x_train, _, x_test, _ = digits()
    test_features = digits_features(x_test)[0]
    rng = np.random.default_rng(2024)
    floors = []
    for _ in range(seeds):
        subset = x_train[rng.choice(len(x_train), len(x_test), replace=False)]
        floors.append(frechet_distance(digits_features(subset)[0], test_features))
    return np.array(floors)


def _fid_and_coverage(samples: np.ndarray, test_features: np.ndarray) -> tuple[float, float]:
    if not np.all(np.isfinite(samples)):
        return np.nan, np.nan
    features, labels = digits_features(samples)
    counts = np.bincount(labels, minlength=10)
    coverage = float(np.sum(counts >= 0.25 * len(labels) / 10))
    return frechet_distance(features, test_features), coverage


def _image_grid(ax, images, rows=6, cols=10):
    images = np.clip(np.asarray(images)[: rows * cols].reshape(-1, 8, 8), -1, 1)
    grid = np.ones((rows * 9, cols * 9))
    for i, image in enumerate(images):
        r, c = divmod(i, cols)
        grid[r * 9 : r * 9 + 8, c * 9 : c * 9 + 8] = (image + 1) / 2
    ax.imshow(grid, cmap="gray_r", vmin=0, vmax=1)
    ax.axis("off")


def _samples_figure(cfg, final, metrics, path: Path, key_of) -> None:
    x_test = digits()[2]
    fig = Figure(figsize=(3.2 * (len(cfg.Ds) + 1), 2.4))
    axes = fig.subplots(1, len(cfg.Ds) + 1)
    _image_grid(axes[0], x_test)
    axes[0].set_title("data (test split)", fontsize=9)
    for ax, D in zip(axes[1:], cfg.Ds):
        _image_grid(ax, final[f"{label(D)}/samples"][0])
        ax.set_title(f"{label(D)}  fid {metrics[key_of(D)][0]:.2f}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def report_digits(cfg: DigitsConfig, results, out_dir: Path | None) -> dict:
    """Per-seed `D=X/fid_digits` and `D=X/label_coverage` (of 10), the floor
    `data/fid_floor` (a train subset against the test split, same sample count), the
    sample count `data/n_samples` and the classifier's test accuracy; figures of
    samples and of the metrics against D."""
    from ._metrics import digits_classifier

    final = results["final"]
    x_test = digits()[2]
    test_features = digits_features(x_test)[0]
    metrics = {}
    seeds = np.asarray(final[f"{label(cfg.Ds[0])}/diverged"]).shape[0]
    for D in cfg.Ds:
        name = label(D)
        samples = np.asarray(final[f"{name}/samples"])
        pairs = [_fid_and_coverage(s, test_features) for s in samples]
        metrics[f"{name}/fid_digits"] = np.array([p[0] for p in pairs])
        metrics[f"{name}/label_coverage"] = np.array([p[1] for p in pairs])
        metrics[f"{name}/diverged"] = np.asarray(final[f"{name}/diverged"], dtype=float)
    metrics["data/fid_floor"] = _fid_floor(seeds)
    metrics["data/n_samples"] = np.full(seeds, float(len(x_test)))
    metrics["data/nfe"] = np.asarray(final[f"{label(cfg.Ds[0])}/nfe"], dtype=float)
    metrics["data/classifier_accuracy"] = np.full(seeds, digits_classifier()[1])
    if out_dir is not None:
        _samples_figure(
            cfg, final, metrics, out_dir / "samples.png", lambda D: f"{label(D)}/fid_digits"
        )
        _metric_vs_D(
            cfg,
            metrics,
            ("fid_digits", "label_coverage"),
            (metrics["data/fid_floor"], None),
            out_dir / "metric_vs_D.png",
            f"pfgmpp.digits, {seeds} seeds",
        )
    return metrics


# ----------------------------------------------------------------------- robustness


@dataclasses.dataclass(frozen=True)
class RobustnessConfig(DigitsConfig):
    """Settings of `pfgmpp.robustness`: the `pfgmpp.digits` training for a small D and
    D = inf, then the paper's robustness tests on each final model: noise injected into
    the sampler before each step ($x \\leftarrow x + \\alpha\\sigma_i\\varepsilon$,
    `alphas`), weights quantized per tensor to `bits`, and fewer Heun steps
    (`step_counts`)."""

    Ds: tuple[float, ...] = (16.0, INF)
    alphas: tuple[float, ...] = (0.0, 0.1, 0.2)
    bits: tuple[int, ...] = (8, 6, 5)
    step_counts: tuple[int, ...] = (18, 12, 8)

    def __post_init__(self):
        super().__post_init__()
        require(
            len(self.alphas) >= 1 and all(a >= 0 for a in self.alphas),
            "alphas",
            "one or more numbers >= 0",
            self.alphas,
        )
        require(
            len(self.bits) >= 1 and all(isinstance(b, int) and b >= 2 for b in self.bits),
            "bits",
            "one or more integers >= 2",
            self.bits,
        )
        require(
            len(self.step_counts) >= 1
            and all(isinstance(s, int) and s >= 1 for s in self.step_counts),
            "step_counts",
            "one or more positive integers",
            self.step_counts,
        )

    @classmethod
    def quick(cls) -> "RobustnessConfig":
        return cls(steps=400, width=128, depth=2, sample_steps=10, step_counts=(10, 6))


def _robust_evaluate(model, key, data, *, cfg, D):
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


ROBUSTNESS = Training(
    lambda cfg: _digits_models(cfg, _robust_evaluate), _digits_data, _digits_batches
)


def _conditions(cfg):
    return (
        [("alpha", f"{a:g}", a) for a in cfg.alphas]
        + [("bits", str(b), b) for b in cfg.bits]
        + [("steps", str(s), s) for s in cfg.step_counts]
    )


def report_robustness(cfg: RobustnessConfig, results, out_dir: Path | None) -> dict:
    """Per-seed `D=X/alpha=A/fid_digits`, `D=X/bits=B/fid_digits`,
    `D=X/steps=S/fid_digits`, the floor and the sample count; a figure of FID against
    each perturbation's strength for each D."""
    final = results["final"]
    x_test = digits()[2]
    test_features = digits_features(x_test)[0]
    metrics = {}
    seeds = np.asarray(final[f"{label(cfg.Ds[0])}/diverged"]).shape[0]
    for D in cfg.Ds:
        name = label(D)
        metrics[f"{name}/diverged"] = np.asarray(final[f"{name}/diverged"], dtype=float)
        for kind, text, _ in _conditions(cfg):
            samples = np.asarray(final[f"{name}/{kind}={text}/samples"])
            metrics[f"{name}/{kind}={text}/fid_digits"] = np.array(
                [_fid_and_coverage(s, test_features)[0] for s in samples]
            )
    metrics["data/fid_floor"] = _fid_floor(seeds)
    metrics["data/n_samples"] = np.full(seeds, float(len(x_test)))
    if out_dir is not None:
        kinds = [
            ("alpha", r"noise injection $\alpha$"),
            ("bits", "weight bits"),
            ("steps", "Heun steps"),
        ]
        fig = Figure(figsize=(13, 3.8))
        axes = fig.subplots(1, 3)
        for ax, (kind, xlabel) in zip(axes, kinds):
            conds = [(t, v) for k, t, v in _conditions(cfg) if k == kind]
            xs = [v for _, v in conds]
            for D in cfg.Ds:
                values = np.array([metrics[f"{label(D)}/{kind}={t}/fid_digits"] for t, _ in conds])
                ax.errorbar(
                    xs,
                    np.nanmean(values, 1),
                    yerr=np.nanstd(values, 1),
                    marker="o",
                    capsize=3,
                    label=label(D),
                )
            ax.axhline(np.mean(metrics["data/fid_floor"]), color="k", ls="--", lw=1, label="floor")
            if kind in ("bits", "steps"):
                ax.invert_xaxis()
            ax.set(xlabel=xlabel, ylabel="fid_digits", yscale="log")
            ax.legend(fontsize=8)
        fig.suptitle(f"pfgmpp.robustness, {seeds} seeds (mean and spread)")
        fig.tight_layout()
        fig.savefig(out_dir / "robustness.png", dpi=110)
        _samples_figure(
            cfg,
            {f"{label(D)}/samples": final[f"{label(D)}/alpha=0/samples"] for D in cfg.Ds}
            if 0.0 in cfg.alphas
            else {
                f"{label(D)}/samples": final[f"{label(D)}/steps={cfg.step_counts[0]}/samples"]
                for D in cfg.Ds
            },
            {
                f"{label(D)}/fid": metrics[
                    f"{label(D)}/alpha=0/fid_digits"
                    if 0.0 in cfg.alphas
                    else f"{label(D)}/steps={cfg.step_counts[0]}/fid_digits"
                ]
                for D in cfg.Ds
            },
            out_dir / "samples.png",
            lambda D: f"{label(D)}/fid",
        )
    return metrics


TOY_EXPERIMENT = register(
    TOY.experiment(
        "pfgmpp.toy",
        "PFGM++ on 2-D data (moons, eight Gaussians) for D in {1, 3, 10, 100, inf}: SWD/MMD",
        ToyConfig,
        report_toy,
    )
)
DIGITS_EXPERIMENT = register(
    DIGITS.experiment(
        "pfgmpp.digits",
        "PFGM++ (MLP; --set network=unet) on scikit-learn's 8x8 digits, D in {16, 64, 256, "
        "inf}: fid_digits",
        DigitsConfig,
        report_digits,
    )
)
ROBUSTNESS_EXPERIMENT = register(
    ROBUSTNESS.experiment(
        "pfgmpp.robustness",
        "PFGM++ robustness on digits (small D vs inf): noise injection, quantization, steps",
        RobustnessConfig,
        report_robustness,
    )
)
