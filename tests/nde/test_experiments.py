import numpy as np
import pytest

import jaxlab
from jaxlab import ConfigError
from jaxlab.nde import OscillatorConfig, SpiralsConfig, VowelsConfig


@pytest.fixture(scope="session")
def oscillator(tmp_path_factory):
    """`nde.oscillator --quick`, 2 seeds: one sweep shared by the tests below."""
    metrics, out_dir = jaxlab.run_experiment(
        jaxlab.get_experiment("nde.oscillator"),
        OscillatorConfig.quick(),
        seeds=2,
        quick=True,
        out_dir=tmp_path_factory.mktemp("osc") / "run",
        progress=False,
    )
    return metrics["summary"], out_dir


@pytest.mark.claims
def test_oscillator_hybrid_recovers_omega_and_beats_the_neural_ode(oscillator):
    """The headline at quick size: the hybrid's omega within 5% (measured: at most 3% over
    8 seeds), and its test error below the neural ODE's (about 10x below) for every seed."""
    summary, _ = oscillator
    for name in ("neural", "hybrid"):
        assert summary[f"{name}/test_mse"]["diverged"] == []
    assert max(summary["hybrid/param_rel_error"]["per_seed"]) < 0.05
    hybrid, neural = (np.array(summary[f"{m}/test_mse"]["per_seed"]) for m in ("hybrid", "neural"))
    assert np.all(hybrid < neural)


@pytest.mark.claims
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
    "field, value",
    [("omega", -1.0), ("trajectories", 0), ("noise", -0.1), ("times", 1), ("steps", True),
     ("data_seed", -1)],
)  # fmt: skip
def test_oscillator_config_rejects_bad_values(field, value):
    with pytest.raises(ConfigError, match=field):
        OscillatorConfig(**{field: value})


def test_spirals_are_irregular_and_the_splits_disjoint():
    from jaxlab.nde._spirals import spiral_data

    config = SpiralsConfig(train=64, validation=64, test=64)
    train, validation, test = spiral_data(config)
    times, values, labels = train
    assert times.shape == (64, 70) and values.shape == (64, 70, 2)
    assert validation[1].shape == (64, 70, 2)
    assert len({tuple(np.asarray(t)) for t in times}) == 64  # each series its own times
    # The three sets are drawn from different keys: no series is in two of them.
    series = [{np.asarray(v).tobytes() for v in split[1]} for split in (train, validation, test)]
    assert len(set.union(*series)) == 3 * 64


@pytest.mark.claims
def test_spirals_neural_cde_classifies_irregular_series(tmp_path):
    config = SpiralsConfig(train=64, validation=64, test=64, steps=30, batch_size=16)
    metrics, out_dir = jaxlab.run_experiment(
        "nde.spirals", config, seeds=2, out_dir=tmp_path / "run", progress=False
    )
    summary = metrics["summary"]
    assert summary["test_accuracy"]["diverged"] == []
    assert summary["test_accuracy"]["min"] >= 0.9
    assert summary["val_accuracy"]["min"] >= 0.9
    history = np.load(out_dir / "history.npz")
    assert history["train_loss"].shape == (2, 30)
    assert (out_dir / "figures" / "spirals.png").is_file()


def test_vowels_validation_split_is_stratified_and_disjoint():
    from jaxlab.nde._vowels import _split, vowel_data

    config = VowelsConfig()
    train, validation, (test_times, _, _) = vowel_data(config)
    assert train[1].shape[0] == 216 and validation[1].shape[0] == 54
    assert test_times.shape[0] == 370
    assert train[1].shape[-1] == 12
    np.testing.assert_array_equal(np.bincount(validation[2]), [6] * 9)  # stratified
    np.testing.assert_array_equal(np.bincount(train[2]), [24] * 9)
    indices = _split(config)
    assert len(np.union1d(*indices)) == 270 and len(np.intersect1d(*indices)) == 0
    assert not np.array_equal(_split(VowelsConfig(data_seed=1))[1], indices[1])
    lengths = np.isfinite(np.asarray(test_times)).sum(1)
    assert lengths.min() == 7 and lengths.max() == 29  # variable lengths, NaN-padded


@pytest.mark.parametrize("model, chance_multiple", [("cde", 5), ("gru", 4)])
@pytest.mark.claims
def test_vowels_cde_and_gru_baseline_on_the_real_data(tmp_path, model, chance_multiple):
    """Both classifiers learn the 9 speakers well above chance (1/9) at a small size;
    measured (1 seed): test accuracy 0.89 (CDE, 40 steps), 0.82 (GRU, 60 steps)."""
    config = VowelsConfig(model=model, steps=40 if model == "cde" else 60)
    metrics, out_dir = jaxlab.run_experiment(
        "nde.vowels", config, seeds=1, out_dir=tmp_path / "run", progress=False
    )
    summary = metrics["summary"]
    for split in ("val", "test"):
        assert summary[f"{split}_accuracy"]["mean"] > chance_multiple / 9
    assert (out_dir / "figures" / "confusion.png").is_file()


@pytest.mark.parametrize(
    "field, value",
    [
        ("drop", 1.0),
        ("interpolation", "cubic"),
        ("batch_size", 1000),
        ("rtol", 0.0),
        ("model", "lstm"),
        ("validation", 0),
        ("steps", True),
        ("grid", float("inf")),
    ],
)
def test_spirals_config_rejects_bad_values(field, value, as_user):
    with pytest.raises(ConfigError, match=f"^{field}:"):
        SpiralsConfig(**{field: value})


@pytest.mark.parametrize(
    "field, value",
    [("model", "lstm"), ("validation_fraction", 0.0), ("validation_fraction", 0.6),
     ("batch_size", 217)],
)  # fmt: skip
def test_vowels_config_rejects_bad_values(field, value):
    with pytest.raises(ConfigError, match=f"^{field}:"):
        VowelsConfig(**{field: value})


def test_vowels_without_aeon_says_how_to_install(monkeypatch):
    import sys

    from jaxlab.nde import _vowels

    _vowels._load.cache_clear()
    monkeypatch.setitem(sys.modules, "aeon.datasets", None)
    with pytest.raises(ConfigError, match=r'pip install "jaxlab\[data\]"'):
        _vowels.vowel_data(VowelsConfig())
    _vowels._load.cache_clear()
