"""The report of the experiments' comparison (host side): per-seed metrics of each model,
its parameter count and the time of one rollout, and the figures."""

import time as _time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.figure import Figure

from .._model import count_params
from ._comparison import init_model
from ._dataset import dataset
from ._training import predict_trajectories


def inference_ms(config, name, repeats: int) -> float:
    """Milliseconds for one full autoregressive rollout of one trajectory (compiled,
    warmed up, median of `repeats`)."""
    model = init_model(config, name, jax.random.key(0))
    seen = dataset(config)["seen"]
    u, p = jnp.asarray(seen["u"][:1]), jnp.asarray(seen["params"][:1])
    run = eqx.filter_jit(predict_trajectories)
    jax.block_until_ready(run(model, u, p))
    times = []
    for _ in range(repeats):
        start = _time.perf_counter()
        jax.block_until_ready(run(model, u, p))
        times.append(_time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def interpolated(train: np.ndarray, unseen: np.ndarray) -> np.ndarray:
    """Which unseen parameter sets `(S, P)` lie inside the box spanned by the training
    sets `(T, P)`, each parameter between its smallest and largest trained value."""
    return np.all((unseen >= train.min(axis=0)) & (unseen <= train.max(axis=0)), axis=1)


def comparison_report(config, results, out_dir) -> dict[str, np.ndarray]:
    """Per seed, for each model `MODEL` of `config.models`: `MODEL/seen_nrmse`,
    `/unseen_nrmse`, `/val_nrmse` and PDEBench's other errors on the unseen parameters
    (`/unseen_rmse`, `/unseen_crmse`, `/unseen_max_error`, `/unseen_brmse`,
    `/unseen_frmse_low|mid|high`), `/params` (its parameter count) and, unless
    `inference_repeats` is 0, `/inference_ms`; `cape_fno/unseen_vs_fno` (and
    `cape_unet/unseen_vs_unet`), the ratio of unseen nRMSEs; `/unseen_interp_nrmse` and
    `/unseen_extrap_nrmse`, the unseen nRMSE over the unseen parameter sets inside and
    outside the box the training sets span (each key only where such sets exist; with
    equal test samples per set, their set-weighted mean is `/unseen_nrmse`). Figures:
    nRMSE per parameter set, per rollout step, and example rollouts."""
    final = {k: np.asarray(v) for k, v in results["final"].items()}
    seeds = next(iter(final.values())).shape[0]
    train = np.array(config.parameter_sets("train_params"))
    inside = interpolated(train, np.array(config.parameter_sets("unseen_params")))
    metrics = {}
    for name in config.models:
        unseen_by_set = final[f"{name}/nrmse_by_param"][:, len(train) :]
        for kind, sets in (("interp", inside), ("extrap", ~inside)):
            if sets.any():
                metrics[f"{name}/unseen_{kind}_nrmse"] = unseen_by_set[:, sets].mean(axis=1)
        for metric in (
            "seen_nrmse",
            "unseen_nrmse",
            "val_nrmse",
            "unseen_rmse",
            "unseen_crmse",
            "unseen_max_error",
            "unseen_brmse",
            "unseen_frmse_low",
            "unseen_frmse_mid",
            "unseen_frmse_high",
        ):
            metrics[f"{name}/{metric}"] = final[f"{name}/{metric}"]
        model = init_model(config, name, jax.random.key(0))
        metrics[f"{name}/params"] = np.full(seeds, count_params(model), float)
        if config.inference_repeats:
            ms = inference_ms(config, name, config.inference_repeats)
            metrics[f"{name}/inference_ms"] = np.full(seeds, ms)
    for base in ("fno", "unet"):
        if base in config.models and f"cape_{base}" in config.models:
            metrics[f"cape_{base}/unseen_vs_{base}"] = (
                metrics[f"cape_{base}/unseen_nrmse"] / metrics[f"{base}/unseen_nrmse"]
            )
    _figures(config, final, Path(out_dir))
    return metrics


def _figures(config, final, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    data = dataset(config)
    train, unseen = config.parameter_sets("train_params"), config.parameter_sets("unseen_params")
    sets = train + unseen
    seen = [True] * len(train) + [False] * len(unseen)
    # One parameter: against its value (log axis); several: sets in order, labelled.
    values = [v[0] for v in sets] if config.n_params == 1 else list(range(len(sets)))
    order = np.argsort(values)

    fig = Figure(figsize=(7 if config.n_params == 1 else 10, 4.5))
    ax = fig.subplots()
    for name in config.models:
        curve = np.nanmean(final[f"{name}/nrmse_by_param"], axis=0)
        ax.plot(np.array(values)[order], curve[order], "-", lw=1, label=name)
        for v, c, s in zip(values, curve, seen):
            ax.plot(v, c, "o" if s else "x", color=ax.lines[-1].get_color(), ms=5)
    ax.set(yscale="log", ylabel="rollout nRMSE (o seen, x unseen)")
    if config.n_params == 1:
        ax.set(xscale="log", xlabel=f"{config.pde} parameter")
    else:
        ax.set_xticks(values, [",".join(f"{x:g}" for x in v) for v in sets], rotation=60)
        ax.set(xlabel=f"{config.pde} parameters")
    ax.legend()
    fig.savefig(out_dir / "nrmse_by_parameter.png", dpi=120, bbox_inches="tight")

    fig = Figure(figsize=(10, 4))
    axes = fig.subplots(1, 2)
    for ax, split in zip(axes, ("seen", "unseen")):
        for name in config.models:
            ax.semilogy(np.nanmean(final[f"{name}/{split}_nrmse_by_step"], axis=0)[1:], label=name)
        ax.set(title=f"{split} parameters", xlabel="rollout step", ylabel="nRMSE")
    axes[0].legend()
    fig.savefig(out_dir / "error_by_step.png", dpi=120, bbox_inches="tight")

    rows = ["truth", *config.models]
    fig = Figure(figsize=(3 * len(rows), 5.5))
    axes = fig.subplots(2, len(rows), squeeze=False)
    for r, split in enumerate(("seen", "unseen")):
        truth = data[split]["u"][0]
        value = ",".join(f"{x:g}" for x in data[split]["params"][0])
        images = [truth] + [final[f"{n}/{split}_example"][0] for n in config.models]
        for c, (title, image) in enumerate(zip(rows, images)):
            axes[r, c].imshow(
                image,
                aspect="auto",
                origin="lower",
                cmap="RdBu_r",
                vmin=truth.min(),
                vmax=truth.max(),
            )
            axes[r, c].set(title=f"{title} ({split} {value})", xlabel="x", ylabel="t")
    fig.savefig(out_dir / "rollouts.png", dpi=110, bbox_inches="tight")
