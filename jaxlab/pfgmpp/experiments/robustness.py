"""`pfgmpp.robustness`: the digits models of a small D and of D = inf under the paper's
robustness tests (noise injected into the sampler, quantized weights, fewer Heun
steps), scored by `fid_digits`."""

import dataclasses
import functools
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ..._config import option
from ..._side_by_side import Training
from .._data import digits, digits_batches, digits_train
from .._evaluation import conditions, fid_and_coverage, fid_floor, robustness_evaluate
from .._metrics import digits_features
from .._networks import digits_network
from .._recipe import INF, label, models_per_D
from ._shared import samples_figure
from .digits import DigitsConfig


@dataclasses.dataclass(frozen=True)
class RobustnessConfig(DigitsConfig):
    """Settings of `pfgmpp.robustness`: the `pfgmpp.digits` training for a small D and
    D = inf, then the paper's robustness tests on each final model: noise injected into
    the sampler before each step ($x \\leftarrow x + \\alpha\\sigma_i\\varepsilon$,
    `alphas`), weights quantized per tensor to `bits`, and fewer Heun steps
    (`step_counts`)."""

    Ds: tuple[float, ...] = option(
        (16.0, INF), "augmentation dimensions D, one model each (inf: EDM)",
        above=0,
        finite=False,
    )
    alphas: tuple[float, ...] = option(
        (0.0, 0.1, 0.2),
        "noise injections tested: x += alpha sigma_i eps before each Heun step",
        minimum=0,
    )
    bits: tuple[int, ...] = option(
        (8, 6, 5), "weight bits tested (per-tensor min-max quantization)", minimum=2
    )
    step_counts: tuple[int, ...] = option((18, 12, 8), "Heun step counts tested", minimum=1)

    @classmethod
    def quick(cls) -> "RobustnessConfig":
        return cls(steps=400, width=128, depth=2, sample_steps=10, step_counts=(10, 6))


def report(cfg: RobustnessConfig, results, out_dir: Path | None) -> dict:
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
        for kind, text, _ in conditions(cfg):
            samples = np.asarray(final[f"{name}/{kind}={text}/samples"])
            metrics[f"{name}/{kind}={text}/fid_digits"] = np.array(
                [fid_and_coverage(s, test_features)[0] for s in samples]
            )
    metrics["data/fid_floor"] = fid_floor(seeds)
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
            conds = [(t, v) for k, t, v in conditions(cfg) if k == kind]
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
        samples_figure(
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


EXPERIMENT = Training(
    functools.partial(models_per_D, network=digits_network, evaluate=robustness_evaluate),
    digits_train,
    digits_batches,
).experiment(
    "pfgmpp.robustness",
    "PFGM++ robustness on digits (small D vs inf): noise injection, quantization, steps",
    RobustnessConfig,
    report,
)
