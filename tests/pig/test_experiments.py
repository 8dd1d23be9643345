"""The registered experiments: keys, figures and per-seed divergence of a tiny run, and
(`claims`) the quick-size targets of docs/pig.md."""

import dataclasses

import numpy as np
import pytest

import jaxlab
from jaxlab.pig import (
    HelmholtzConfig,
    KleinGordonConfig,
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


def final(summary, model):
    entry = summary[f"{model}/final_rel_l2"]
    assert entry["diverged"] == [], model
    return entry["mean"]


def test_unknown_model_name_is_a_one_line_error():
    with pytest.raises(jaxlab.ConfigError, match="^model: one of pig, pinn, both"):
        jaxlab.config_with(HelmholtzConfig.quick(), {"model": "siren"})


@pytest.mark.claims
@pytest.mark.parametrize(
    "name, bound",
    [("pig.helmholtz", 1e-2), ("pig.klein_gordon", 5e-2), ("pig.nonlinear_diffusion", 3e-2),
     ("pig.flow_mixing", None), ("pig.allen_cahn", None)],
)  # fmt: skip
def test_quick_pig_beats_the_pinn(quick_run, name, bound):
    """docs/pig.md's quick table: PIG's final error below the PINN's on every problem, and
    within the quick target where one is set (flow mixing's 2e-2 is not met: 2.57e-2)."""
    summary, _ = quick_run(name)
    assert final(summary, "pig") < final(summary, "pinn")
    if bound is not None:
        assert final(summary, "pig") <= bound


@pytest.mark.claims
@pytest.mark.parametrize("name", ["pig.nonlinear_diffusion", "pig.allen_cahn"])
def test_quick_run_report_their_references(quick_run, name):
    """The experiments with numerical reference solutions (method of lines, spectral)
    report every model's errors against them, and Allen-Cahn its causal weights."""
    summary, out = quick_run(name)
    for model in ("pig", "pinn"):
        assert 0 < final(summary, model) < 10
        assert summary[f"{model}/best_rel_l2"]["mean"] > 0
    for figure in ("solution.png", "centres.png", "error_vs_iteration.png"):
        assert (out / "figures" / figure).exists()
    history = np.load(out / "history.npz")
    if name == "pig.allen_cahn":  # causal by default: the last chunk's weight, per step
        weight = history["pig/causal_weight"]
        # exp(-tol * earlier chunks' loss): 0 (float32 underflow) while the earlier chunks
        # are unfitted, and back up once they are.
        assert np.all((weight >= 0) & (weight <= 1)) and np.all(weight[:, -1] > 0)
    else:
        assert "pig/causal_weight" not in history
