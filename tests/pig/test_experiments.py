"""The registered experiments: keys, figures, per-seed divergence, and (slow) the quick
Helmholtz target."""

import dataclasses

import numpy as np
import pytest

import jaxlab
from jaxlab.pig.experiments import HelmholtzConfig, KleinGordonConfig


def test_experiments_are_registered():
    names = set(jaxlab.experiments())
    assert {"pig.helmholtz", "pig.helmholtz_hf", "pig.klein_gordon", "pig.flow_mixing"} <= names


def test_tiny_run_reports_every_key_and_figure(tmp_path):
    cfg = dataclasses.replace(
        KleinGordonConfig.quick(), steps=4, n_gaussians=10, collocation=64,
        condition_points=16, test_grid=8, monitor_points=32, pinn_width=8, pinn_depth=1,
        time_steps=1,
    )  # fmt: skip
    metrics, out = jaxlab.run_experiment(
        "pig.klein_gordon", cfg, seeds=2, out_dir=tmp_path / "kg", progress=False
    )
    summary = metrics["summary"]
    for model in ("pig", "pinn"):
        for key in ("final_rel_l2", "best_rel_l2", "ms_per_iter", "params"):
            assert len(summary[f"{model}/{key}"]["per_seed"]) == 2, key
        assert summary[f"{model}/best_rel_l2"]["min"] > 0
    assert summary["pig/params"]["mean"] == 4 * 10 * (3 + 3 + 1) + 4 * 16 + 16 + 17
    for figure in ("solution.png", "centres.png", "error_vs_iteration.png"):
        assert (out / "figures" / figure).exists()
    history = np.load(out / "history.npz")
    assert history["pig/rel_l2"].shape == (2, 4)


def test_unknown_model_name_is_a_one_line_error():
    with pytest.raises(jaxlab.ConfigError, match="^model: one of pig, pinn, both"):
        jaxlab.config_with(HelmholtzConfig.quick(), {"model": "siren"})


@pytest.mark.slow
def test_quick_helmholtz_reaches_its_bound_and_beats_the_pinn(tmp_path):
    metrics, _ = jaxlab.run_experiment(
        "pig.helmholtz", seeds=1, quick=True, out_dir=tmp_path / "h", progress=False
    )
    summary = metrics["summary"]
    assert summary["pig/final_rel_l2"]["mean"] <= 1e-2
    assert summary["pig/final_rel_l2"]["mean"] < summary["pinn/final_rel_l2"]["mean"]
