import numpy as np
import pytest

import jaxlab
from jaxlab import ConfigError
from jaxlab.nde.experiments import OscillatorConfig


@pytest.fixture(scope="module")
def oscillator(tmp_path_factory):
    config = OscillatorConfig(trajectories=8, times=20, width=16, steps=150, learning_rate=1e-2)
    metrics, out_dir = jaxlab.run_experiment(
        "nde.oscillator",
        config,
        seeds=2,
        quick=True,
        out_dir=tmp_path_factory.mktemp("osc") / "run",
        progress=False,
    )
    return metrics["summary"], out_dir


def test_oscillator_trains_both_models(oscillator):
    summary, out_dir = oscillator
    for name in ("neural", "hybrid"):
        assert summary[f"{name}/test_mse"]["diverged"] == []
    assert summary["hybrid/params"]["mean"] < summary["neural/params"]["mean"]
    history = np.load(out_dir / "history.npz")
    for name in ("neural", "hybrid"):
        curve = history[f"{name}/train_mse"]
        assert curve.shape == (2, 150)
        assert np.all(curve[:, -10:].mean(1) < 0.5 * curve[:, :10].mean(1))  # it learns
    assert (out_dir / "figures" / "trajectories.png").is_file()


@pytest.mark.parametrize(
    "field, value", [("omega", -1.0), ("trajectories", 0), ("noise", -0.1), ("times", 1)]
)
def test_oscillator_config_rejects_bad_values(field, value):
    with pytest.raises(ConfigError, match=field):
        OscillatorConfig(**{field: value})


def test_spirals_neural_cde_classifies_irregular_series(tmp_path):
    from jaxlab.nde._spirals import SpiralsConfig, spiral_data

    config = SpiralsConfig(train=64, test=64, steps=30, batch_size=16)
    (times, values, labels), _ = spiral_data(config)
    assert times.shape == (64, 70) and values.shape == (64, 70, 2)
    assert len({tuple(np.asarray(t)) for t in times}) == 64  # each series its own times
    metrics, out_dir = jaxlab.run_experiment(
        "nde.spirals", config, seeds=2, out_dir=tmp_path / "run", progress=False
    )
    summary = metrics["summary"]
    assert summary["test_accuracy"]["diverged"] == []
    assert summary["test_accuracy"]["min"] >= 0.9
    history = np.load(out_dir / "history.npz")
    assert history["train_loss"].shape == (2, 30)
    assert (out_dir / "figures" / "spirals.png").is_file()


def test_vowels_neural_cde_on_the_real_data(tmp_path):
    from jaxlab.nde._vowels import VowelsConfig, vowel_data

    config = VowelsConfig(hidden=16, width=32, depth=1, steps=40)
    (times, values, labels), (test_times, _, test_labels) = vowel_data(config)
    assert values.shape[0] == 270 and test_times.shape[0] == 370
    assert values.shape[-1] == 12 and set(np.asarray(labels)) == set(range(9))
    lengths = np.isfinite(np.asarray(test_times)).sum(1)
    assert lengths.min() == 7 and lengths.max() == 29  # variable lengths, NaN-padded
    metrics, out_dir = jaxlab.run_experiment(
        "nde.vowels", config, seeds=1, out_dir=tmp_path / "run", progress=False
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
