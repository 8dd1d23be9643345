"""The registered experiments end to end, at a tiny size (the `--quick` figures are in
docs/cape.md: they take minutes, not seconds)."""

import dataclasses

import numpy as np
import pytest

import jaxlab
from jaxlab import ConfigError
from jaxlab.cape.experiments import AdvectionConfig, BurgersConfig


TINY = dict(
    train_params=(0.4, 2.0),
    unseen_params=(1.0,),
    train_samples=4,
    val_samples=2,
    test_samples=2,
    nx=64,
    space=2,
    time=40,
    steps=4,
    batch_size=4,
    warmup_steps=1,
    width=4,
    modes=4,
    layers=1,
    hidden=8,
    cape_width=4,
    cape_modes=2,
)


def test_registered():
    names = jaxlab.experiments()
    assert {"cape.advection", "cape.burgers"} <= set(names)
    assert AdvectionConfig.quick().steps < AdvectionConfig().steps
    assert BurgersConfig().train_params[1] == 0.007


def test_tiny_advection_run_writes_every_key_and_figure(tmp_path):
    # Two of the four models keep the compile short (all four share this code path; the
    # parameter matching is tested at paper size in test_models.py).
    models = ("fno_cond", "cape_fno_no_curriculum")
    config = AdvectionConfig(**TINY, models=models)
    metrics, out = jaxlab.run_experiment(
        "cape.advection", config, seeds=2, out_dir=tmp_path / "run", progress=False
    )
    summary = metrics["summary"]
    for model in models:
        for key in ("seen_nrmse", "unseen_nrmse", "val_nrmse", "params", "inference_ms",
                    "unseen_crmse", "unseen_frmse_high"):
            entry = summary[f"{model}/{key}"]
            assert len(entry["per_seed"]) == 2 and entry["diverged"] == [], (model, key)
            assert np.isfinite(entry["mean"]) and entry["mean"] > 0
    history = np.load(out / "history.npz")
    assert history["cape_fno_no_curriculum/loss"].shape == (2, 4)
    # The curriculum starts teacher-forced (horizon 1) and ends autoregressive.
    horizon = history["fno_cond/horizon"][0]
    assert horizon[0] == 1 and horizon[-1] >= 2
    assert {p.name for p in (out / "figures").glob("*.png")} == {
        "nrmse_by_parameter.png",
        "error_by_step.png",
        "rollouts.png",
    }


@pytest.mark.parametrize(
    "change, field",
    [
        (dict(models=("fno", "unet")), "models"),
        (dict(warmup_steps=10), "warmup_steps"),
        (dict(cfl=0.8), "cfl"),
        (dict(train_params=(0.0,)), "train_params"),
    ],
)
def test_bad_settings_are_one_line_errors(change, field):
    with pytest.raises(ConfigError) as info:
        dataclasses.replace(AdvectionConfig(**TINY), **change)
    assert str(info.value).startswith(field) and "\n" not in str(info.value)
