"""The registered experiments: keys, figures, per-seed divergence, and (slow) the quick
Helmholtz target."""

import dataclasses

import numpy as np
import pytest

import jaxlab
from jaxlab.pig.experiments import (
    AllenCahnConfig,
    HelmholtzConfig,
    KleinGordonConfig,
    NonlinearDiffusionConfig,
)


def test_experiments_are_registered():
    names = set(jaxlab.experiments())
    assert {"pig.helmholtz", "pig.helmholtz_hf", "pig.klein_gordon", "pig.flow_mixing",
            "pig.nonlinear_diffusion", "pig.allen_cahn"} <= names  # fmt: skip


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


TINY = dict(
    steps=3, n_gaussians=8, collocation=64, condition_points=8, monitor_points=32,
    pinn_width=8, pinn_depth=1, time_steps=0,
)  # fmt: skip


@pytest.mark.parametrize(
    "name, config",
    [
        ("pig.nonlinear_diffusion", dataclasses.replace(
            NonlinearDiffusionConfig.quick(), reference_grid=6, reference_times=3,
            solver_grid=21, model="pig", **TINY)),
        ("pig.allen_cahn", dataclasses.replace(AllenCahnConfig.quick(), causal_chunks=4, **TINY)),
    ],
    ids=["nonlinear_diffusion", "allen_cahn"],
)  # fmt: skip
def test_new_experiments_run_on_their_references(tmp_path, name, config):
    metrics, out = jaxlab.run_experiment(name, config, seeds=1, out_dir=tmp_path, progress=False)
    summary = metrics["summary"]
    for model in config.models():
        assert 0 < summary[f"{model}/final_rel_l2"]["mean"] < 10
        assert summary[f"{model}/best_rel_l2"]["mean"] > 0
    for figure in ("solution.png", "centres.png", "error_vs_iteration.png"):
        assert (out / "figures" / figure).exists()
    history = np.load(out / "history.npz")
    if name == "pig.allen_cahn":  # causal by default: the last chunk's weight, per step
        assert np.all((history["pig/causal_weight"] > 0) & (history["pig/causal_weight"] <= 1))
    else:
        assert "pig/causal_weight" not in history


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


@pytest.mark.slow
def test_quick_nonlinear_diffusion_beats_the_pinn(tmp_path):
    metrics, _ = jaxlab.run_experiment(
        "pig.nonlinear_diffusion", seeds=1, quick=True, out_dir=tmp_path / "d", progress=False
    )
    summary = metrics["summary"]
    assert summary["pig/final_rel_l2"]["mean"] <= 3e-2
    assert summary["pig/final_rel_l2"]["mean"] < summary["pinn/final_rel_l2"]["mean"]


@pytest.mark.slow
def test_quick_allen_cahn_beats_the_pinn(tmp_path):
    metrics, _ = jaxlab.run_experiment(
        "pig.allen_cahn", seeds=1, quick=True, out_dir=tmp_path / "a", progress=False
    )
    summary = metrics["summary"]
    assert summary["pig/final_rel_l2"]["mean"] < summary["pinn/final_rel_l2"]["mean"]
