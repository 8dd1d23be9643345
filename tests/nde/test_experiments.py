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
