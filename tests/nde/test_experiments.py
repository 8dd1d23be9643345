import numpy as np
import pytest

import jaxlab
from jaxlab import ConfigError
from jaxlab.nde._oscillator import EXPERIMENT as oscillator_experiment, OscillatorConfig


@pytest.fixture(scope="session")
def oscillator(tmp_path_factory):
    """`nde.oscillator --quick`, 2 seeds: one sweep shared by the tests below."""
    metrics, out_dir = jaxlab.run_experiment(
        oscillator_experiment,
        OscillatorConfig.quick(),
        seeds=2,
        quick=True,
        out_dir=tmp_path_factory.mktemp("osc") / "run",
        progress=False,
    )
    return metrics["summary"], out_dir


def test_oscillator_hybrid_recovers_omega_and_beats_the_neural_ode(oscillator):
    """The headline at quick size: the hybrid's omega within 5% (measured: at most 3% over
    8 seeds), and its test error below the neural ODE's (about 10x below) for every seed."""
    summary, _ = oscillator
    for name in ("neural", "hybrid"):
        assert summary[f"{name}/test_mse"]["diverged"] == []
    assert max(summary["hybrid/param_rel_error"]["per_seed"]) < 0.05
    hybrid, neural = (np.array(summary[f"{m}/test_mse"]["per_seed"]) for m in ("hybrid", "neural"))
    assert np.all(hybrid < neural)


def test_oscillator_writes_its_curves_and_figure(oscillator):
    summary, out_dir = oscillator
    assert summary["hybrid/params"]["mean"] == 43  # omega, and the 2-8-2 correction
    history = np.load(out_dir / "history.npz")
    steps = OscillatorConfig.quick().steps
    for name in ("neural", "hybrid"):
        curve = history[f"{name}/train_mse"]
        assert curve.shape == (2, steps)
        assert np.all(curve[:, -10:].mean(1) < 0.1 * curve[:, :10].mean(1))  # it learns
    assert (out_dir / "figures" / "trajectories.png").is_file()


@pytest.mark.parametrize(
    "field, value", [("omega", -1.0), ("trajectories", 0), ("noise", -0.1), ("times", 1)]
)
def test_oscillator_config_rejects_bad_values(field, value):
    with pytest.raises(ConfigError, match=field):
        OscillatorConfig(**{field: value})


def test_spirals_neural_cde_classifies_irregular_series(tmp_path):
    from jaxlab.nde._spirals import EXPERIMENT, SpiralsConfig, spiral_data

    config = SpiralsConfig(train=64, test=64, steps=30, batch_size=16)
    (times, values, labels), _ = spiral_data(config)
    assert times.shape == (64, 70) and values.shape == (64, 70, 2)
    assert len({tuple(np.asarray(t)) for t in times}) == 64  # each series its own times
    metrics, out_dir = jaxlab.run_experiment(
        EXPERIMENT, config, seeds=2, out_dir=tmp_path / "run", progress=False
    )
    summary = metrics["summary"]
    assert summary["test_accuracy"]["diverged"] == []
    assert summary["test_accuracy"]["min"] >= 0.9
    history = np.load(out_dir / "history.npz")
    assert history["train_loss"].shape == (2, 30)
    assert (out_dir / "figures" / "spirals.png").is_file()


def test_vowels_neural_cde_on_the_real_data(tmp_path):
    from jaxlab.nde._vowels import EXPERIMENT, VowelsConfig, vowel_data

    config = VowelsConfig(hidden=16, width=32, depth=1, steps=40)
    (times, values, labels), (test_times, _, test_labels) = vowel_data(config)
    assert values.shape[0] == 270 and test_times.shape[0] == 370
    assert values.shape[-1] == 12 and set(np.asarray(labels)) == set(range(9))
    lengths = np.isfinite(np.asarray(test_times)).sum(1)
    assert lengths.min() == 7 and lengths.max() == 29  # variable lengths, NaN-padded
    metrics, out_dir = jaxlab.run_experiment(
        EXPERIMENT, config, seeds=1, out_dir=tmp_path / "run", progress=False
    )
    assert metrics["summary"]["test_accuracy"]["mean"] > 0.6  # chance is 1/9
    assert (out_dir / "figures" / "confusion.png").is_file()


@pytest.mark.parametrize(
    "field, value", [("drop", 1.0), ("interpolation", "cubic"), ("batch_size", 1000), ("rtol", 0.0)]
)
def test_spirals_config_rejects_bad_values(field, value):
    from jaxlab.nde._spirals import SpiralsConfig

    with pytest.raises(ConfigError, match=field):
        SpiralsConfig(**{field: value})


def test_vowels_without_aeon_says_how_to_install(monkeypatch):
    import sys

    from jaxlab.nde import _vowels

    _vowels._load.cache_clear()
    monkeypatch.setitem(sys.modules, "aeon.datasets", None)
    with pytest.raises(ConfigError, match=r'pip install "jaxlab\[data\]"'):
        _vowels.vowel_data(_vowels.VowelsConfig())
    _vowels._load.cache_clear()
