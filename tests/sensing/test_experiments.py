"""The papers' claims at `--quick` size over several seeds, and at paper scale (`slow`)."""

import numpy as np
import pytest

import jaxlab
from jaxlab.sensing import OverparamConfig, RobustConfig


@pytest.fixture(scope="module")
def overparam(tmp_path_factory):
    metrics, out_dir = jaxlab.run_experiment(
        "sensing.overparam",
        OverparamConfig.quick(),
        seeds=6,
        quick=True,
        out_dir=tmp_path_factory.mktemp("overparam") / "run",
        progress=False,
    )
    return metrics["summary"]


def mean(summary, key):
    assert summary[key]["diverged"] == [], key
    return summary[key]["mean"]


@pytest.mark.claims
def test_exact_parameterization_is_linear(overparam):
    for name in ("symmetric_exact", "asymmetric_exact"):
        assert mean(overparam, f"{name}/final_error") < 1e-12
        assert mean(overparam, f"{name}/rate") < -0.02


@pytest.mark.claims
def test_symmetric_overparameterization_is_one_over_t_squared(overparam):
    assert -2.3 < mean(overparam, "symmetric_over/loglog_slope") < -1.5
    assert mean(overparam, "symmetric_over/final_error") > 1e-6  # far from linear convergence


@pytest.mark.claims
def test_asymmetric_rate_scales_like_alpha_squared_and_onestep_removes_it(overparam):
    # Every alpha is fitted on the same error band (1e-3 to 1e-6), which each crosses.
    exponents = np.array(overparam["asymmetric_over/alpha_exponent"]["per_seed"])
    assert np.all(np.abs(exponents - 2) < 0.4), exponents  # exponent 1 or 3 fails
    for a in (0.4, 0.2):
        start = mean(overparam, f"asymmetric_over/alpha={a:g}/fit_start")
        assert start < mean(overparam, f"asymmetric_over/alpha={a:g}/fit_end")
    onestep = [mean(overparam, f"asymmetric_onestep/alpha={a:g}/rate") for a in (0.4, 0.2)]
    assert abs(onestep[0] / onestep[1] - 1) < 0.2
    assert abs(np.median(overparam["asymmetric_onestep/alpha_exponent"]["per_seed"])) < 0.3
    assert mean(overparam, "asymmetric_onestep/alpha=0.2/rate") < 3 * mean(
        overparam, "asymmetric_over/alpha=0.2/rate"
    )


@pytest.mark.claims
def test_precgd_is_linear_and_alpha_free_when_over_parameterized(overparam):
    for problem in ("symmetric_over", "asymmetric_over"):
        for a in (0.4, 0.2):
            assert mean(overparam, f"precgd/{problem}/alpha={a:g}/final_error") < 1e-10
            assert mean(overparam, f"precgd/{problem}/alpha={a:g}/rate") < -0.05
        exponents = overparam[f"precgd/{problem}/alpha_exponent"]["per_seed"]
        assert np.all(np.abs(exponents) < 0.4), exponents


@pytest.mark.claims
def test_scaledgd_with_damping_at_sigma_r_stalls_at_these_alphas(overparam):
    # What docs/sensing.md reports: with lambda = sigma_r(M*) and alpha >= 0.2, the
    # directions M* does not need shrink sublinearly under ScaledGD(lambda) (their
    # preconditioner is ~1/lambda), so symmetric k > r stays far above the band.
    for a in (0.4, 0.2):
        entry = overparam[f"scaledgd/symmetric_over/alpha={a:g}/final_error"]
        assert entry["min"] > 1e-5, entry


@pytest.mark.claims
def test_robust_subgradient_beats_l2_under_outliers(tmp_path):
    metrics, _ = jaxlab.run_experiment(
        "sensing.robust",
        RobustConfig.quick(),
        seeds=3,
        quick=True,
        out_dir=tmp_path / "robust",
        progress=False,
    )
    summary = metrics["summary"]
    for p in ("0", "0.1", "0.2", "0.3"):
        assert mean(summary, f"subgm/outliers/p={p}/final_error") < 5e-3, p
        assert mean(summary, f"subgm_exact_rank/outliers/p={p}/final_error") < 5e-3, p
    for p in ("0.1", "0.2", "0.3"):
        # l2 GD stays finite (its step is stable) but fits the outliers.
        l2 = summary[f"l2gd/outliers/p={p}/final_error"]
        assert l2["diverged"] == [] and l2["min"] > 100 * mean(
            summary, f"subgm/outliers/p={p}/final_error"
        )
    assert mean(summary, "l2gd/outliers/p=0/final_error") < 1e-3  # no outliers: recovers M*
    # Dense noise: no exact recovery; the error is proportional to the noise level.
    for method in ("subgm", "l2gd"):
        assert abs(mean(summary, f"{method}/dense_noise/noise_exponent") - 1) < 0.2
        assert mean(summary, f"{method}/dense_noise/noise=0.01/final_error") > 1e-4


# Paper scale: the default configs, 8 seeds (`pytest -m slow`). A run of sensing.overparam
# at its defaults takes minutes even on an idle 2-core CPU (T = 14000). The bounds leave
# room around the figures of a default run (jax 0.10.2, 2-core AMD EPYC, float64).


@pytest.mark.slow
def test_paper_scale_overparam_claims(tmp_path):
    metrics, _ = jaxlab.run_experiment(
        "sensing.overparam", seeds=8, out_dir=tmp_path / "overparam", progress=False
    )
    summary = metrics["summary"]
    for name in ("symmetric_exact", "asymmetric_exact"):
        assert mean(summary, f"{name}/final_error") < 1e-12  # measured 4e-16, 7e-16
    # 1/T^2: measured slope -1.87 +- 0.02 (a lower bound, fitted on a finite window)
    assert -2.3 < mean(summary, "symmetric_over/loglog_slope") < -1.6
    # alpha^2 over alpha = 0.4, 0.2, 0.1: measured exponent 2.11 +- 0.07 (exponent 1 or 3 fails)
    exponents = summary["asymmetric_over/alpha_exponent"]["per_seed"]
    assert abs(np.median(exponents) - 2) < 0.3, exponents
    # one-step modification and PrecGD: no alpha dependence (measured -0.01, 0.00 and 0.15)
    assert abs(mean(summary, "asymmetric_onestep/alpha_exponent")) < 0.1
    for problem in ("symmetric_over", "asymmetric_over"):
        assert abs(mean(summary, f"precgd/{problem}/alpha_exponent")) < 0.3, problem


@pytest.mark.slow
def test_paper_scale_robust_claims(tmp_path):
    metrics, _ = jaxlab.run_experiment(
        "sensing.robust", seeds=8, out_dir=tmp_path / "robust", progress=False
    )
    summary = metrics["summary"]
    for p in ("0", "0.1", "0.2", "0.3"):
        # SubGM recovers M* under outliers (measured 1e-4 to 1e-3)
        assert mean(summary, f"subgm/outliers/p={p}/final_error") < 3e-3, p
        assert mean(summary, f"subgm_exact_rank/outliers/p={p}/final_error") < 1e-3, p
    for p in ("0.1", "0.2", "0.3"):
        # l2 GD fits the outliers (measured 3.3 to 5.6)
        l2 = summary[f"l2gd/outliers/p={p}/final_error"]
        assert l2["diverged"] == [] and l2["min"] > 100 * mean(
            summary, f"subgm/outliers/p={p}/final_error"
        )
    assert mean(summary, "l2gd/outliers/p=0/final_error") < 1e-6  # measured 3e-9
    for method in ("subgm", "l2gd"):  # error proportional to the noise (measured 1.11, 1.00)
        assert abs(mean(summary, f"{method}/dense_noise/noise_exponent") - 1) < 0.2
