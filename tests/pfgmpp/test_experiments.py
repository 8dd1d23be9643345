"""The registered experiments: keys, figures, targets at quick size, bad configs."""

import dataclasses

import jax
import numpy as np
import pytest

import jaxlab
from jaxlab import ConfigError, config_with
from jaxlab.pfgmpp import DigitsConfig, RobustnessConfig, ToyConfig
from jaxlab.pfgmpp._data import toy_sampler
from jaxlab.pfgmpp._evaluation import conditions, robustness_evaluate
from jaxlab.pfgmpp._recipe import label


INF = float("inf")


@pytest.fixture(scope="session")
def toy(tmp_path_factory):
    out = tmp_path_factory.mktemp("toy") / "run"
    experiment = jaxlab.get_experiment("pfgmpp.toy")
    metrics, _ = jaxlab.run_experiment(
        experiment, ToyConfig.quick(), seeds=2, quick=True, out_dir=out, progress=False
    )
    return metrics["summary"], out, experiment


@pytest.mark.claims
def test_toy_keys_figures_and_target(toy):
    summary, out, _ = toy
    for D in ToyConfig().Ds:
        name = label(D)
        assert summary[f"{name}/diverged"]["per_seed"] == [0.0, 0.0]
        for metric in ("swd", "mmd"):
            assert summary[f"{name}/{metric}"]["diverged"] == [], name
    assert summary["data/n_samples"]["mean"] == 500
    assert summary["data/nfe"]["mean"] == 2 * 18 - 1
    floor = summary["data/swd_floor"]["mean"]
    best = min(summary[f"{label(D)}/swd"]["mean"] for D in ToyConfig().Ds)
    # Quick size (400 steps, 500 samples); the default target is 2x at 4,000 steps.
    assert best < 2.5 * floor, (best, floor)
    assert {p.name for p in (out / "figures").glob("*.png")} >= {"samples.png", "metric_vs_D.png"}
    history = np.load(out / "history.npz")
    assert history["D=inf/loss"].shape == (2, 400)


def test_digits_tiny_run_cached_and_deterministic(tmp_path):
    cfg = DigitsConfig(Ds=(16.0,), steps=3, width=8, depth=1, batch_size=8, sample_steps=2)
    experiment = jaxlab.get_experiment("pfgmpp.digits")
    metrics, out = jaxlab.run_experiment(
        experiment, cfg, seeds=2, out_dir=tmp_path / "run", progress=False
    )
    summary = metrics["summary"]
    assert set(summary) >= {
        "D=16/fid_digits",
        "D=16/label_coverage",
        "data/fid_floor",
        "data/n_samples",
    }
    assert summary["data/n_samples"]["mean"] == len(jaxlab.pfgmpp.digits()[2])
    assert summary["data/nfe"]["mean"] == 3
    assert (out / "figures" / "samples.png").exists()
    # A second sweep compiles nothing and reproduces the samples; other seeds differ.
    again = jaxlab.sweep(experiment, cfg, seeds=2)
    assert again.compile_seconds == 0.0
    samples = np.asarray(again.results["final"]["D=16/samples"])
    first = jaxlab.sweep(experiment, cfg, seeds=2)
    np.testing.assert_array_equal(samples, np.asarray(first.results["final"]["D=16/samples"]))
    assert not np.allclose(samples[0], samples[1])
    other = jaxlab.sweep(experiment, cfg, seeds=2, key=1)
    assert not np.allclose(samples, np.asarray(other.results["final"]["D=16/samples"]))


def fake_digits_results(cfg, keys, seeds=2):
    """Final results as the sweep returns them: test images plus noise of growing size."""
    x_test = jaxlab.pfgmpp.digits()[2]
    rng = np.random.default_rng(0)
    final = {}
    for i, D in enumerate(cfg.Ds):
        for j, key in enumerate(keys):
            noisy = x_test + (0.1 + 0.2 * i + 0.1 * j) * rng.normal(size=(seeds,) + x_test.shape)
            final[f"{label(D)}/{key}"] = noisy.astype(np.float32)
        final[f"{label(D)}/diverged"] = np.array([False, True])
        final[f"{label(D)}/nfe"] = np.full(seeds, 35)
    return {"final": final}


def test_robustness_report_keys(tmp_path):
    cfg = RobustnessConfig.quick()
    keys = [f"{k}={t}/samples" for k, t, _ in conditions(cfg)]
    results = fake_digits_results(cfg, keys)
    # A diverged model's samples are NaN (Training.finish sets them so).
    for D in cfg.Ds:
        for key in keys:
            results["final"][f"{label(D)}/{key}"][1] = np.nan
    metrics = jaxlab.get_experiment("pfgmpp.robustness").report(cfg, results, tmp_path)
    for D in cfg.Ds:
        for a in ("0", "0.1", "0.2"):
            assert metrics[f"{label(D)}/alpha={a}/fid_digits"].shape == (2,)
        for b in cfg.bits:
            assert f"{label(D)}/bits={b}/fid_digits" in metrics
        for s in cfg.step_counts:
            assert f"{label(D)}/steps={s}/fid_digits" in metrics
        assert np.isnan(metrics[f"{label(D)}/alpha=0/fid_digits"][1])
    # More noise, larger FID.
    assert metrics["D=16/alpha=0/fid_digits"][0] < metrics["D=inf/alpha=0/fid_digits"][0]
    assert (tmp_path / "robustness.png").exists() and (tmp_path / "samples.png").exists()


def test_robust_evaluate_runs():
    cfg = RobustnessConfig(
        Ds=(4.0, INF), width=4, sample_steps=2, alphas=(0.0, 0.2), bits=(5,), step_counts=(1,)
    )
    model = jaxlab.pfgmpp.UNet(1, key=jax.random.key(0), width=4)
    evaluate = jax.jit(lambda m, k: robustness_evaluate(m, k, None, cfg=cfg, D=4.0))
    out = evaluate(model, jax.random.key(1))
    assert set(out) == {"alpha=0/samples", "alpha=0.2/samples", "bits=5/samples", "steps=1/samples"}
    assert not np.allclose(out["alpha=0/samples"], out["alpha=0.2/samples"])
    assert not np.allclose(out["alpha=0/samples"], out["bits=5/samples"])


@pytest.mark.parametrize(
    "config, assignment, field",
    [
        (ToyConfig, {"dataset": "spirals"}, "dataset"),
        (ToyConfig, {"Ds": "0,inf"}, "Ds"),
        (ToyConfig, {"Ds": "-3"}, "Ds"),
        (ToyConfig, {"sigma_min": "100"}, "sigma_min"),
        (ToyConfig, {"sample_steps": "0"}, "sample_steps"),
        (ToyConfig, {"steps": "-1"}, "steps"),
        (DigitsConfig, {"Ds": "16,16"}, "Ds"),
        (RobustnessConfig, {"bits": "0"}, "bits"),
        (RobustnessConfig, {"step_counts": "0"}, "step_counts"),
    ],
)
def test_bad_config_is_one_line(config, assignment, field):
    with pytest.raises(ConfigError, match=f"^{field}: ") as info:
        config_with(config(), assignment)
    assert "\n" not in str(info.value)


def test_unknown_toy_dataset_in_sampler():
    with pytest.raises(ConfigError, match="^dataset: "):
        toy_sampler("spirals")


def test_configs_are_settable_from_strings():
    cfg = config_with(ToyConfig(), {"Ds": "1,inf", "dataset": "eight_gaussians"})
    assert cfg.Ds == (1.0, INF) and cfg.dataset == "eight_gaussians"
    assert dataclasses.replace(DigitsConfig.quick()).Ds == (16.0, INF)
