"""The experiments' layout (one file per experiment, its config importable from the
package) and the rules their configs declare."""

import ast
import dataclasses
import importlib
import inspect

import pytest

import jaxlab
from jaxlab import ConfigError, sensing


EXPERIMENTS = {"overparam": "OverparamConfig", "robust": "RobustConfig"}


def test_every_config_is_importable_from_the_package():
    from jaxlab.sensing import OverparamConfig, RobustConfig

    configs = {"sensing.overparam": OverparamConfig, "sensing.robust": RobustConfig}
    registered = {n: e for n, e in jaxlab.experiments().items() if n.startswith("sensing.")}
    assert {n: e.config for n, e in registered.items()} == configs
    for cls in configs.values():
        assert issubclass(cls, jaxlab.Config)


@pytest.mark.parametrize("name, config", EXPERIMENTS.items())
def test_each_experiment_file_defines_its_config_report_and_experiment(name, config):
    """`experiments/NAME.py` defines exactly `NameConfig`, `report` and `EXPERIMENT`
    (everything else it defines is private), and they are joined in `EXPERIMENT`."""
    module = importlib.import_module(f"jaxlab.sensing.experiments.{name}")
    tree = ast.parse(inspect.getsource(module))
    defined = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            defined.add(node.name)
        elif isinstance(node, ast.Assign):
            defined.update(t.id for t in node.targets if isinstance(t, ast.Name))
    assert {d for d in defined if not d.startswith("_")} == {config, "report", "EXPERIMENT"}
    experiment = module.EXPERIMENT
    assert experiment.name == f"sensing.{name}"
    assert experiment.config is getattr(module, config) is getattr(sensing, config)
    assert experiment.report is module.report
    assert jaxlab.get_experiment(f"sensing.{name}") is experiment


@pytest.mark.parametrize(
    "config, field, value, allowed",
    [
        ("OverparamConfig", "n", 1, "an integer >= 2"),
        ("OverparamConfig", "rank", 60, "an integer in [1, n=50]"),
        ("OverparamConfig", "k", 1, "an integer in [rank=3, n=50]"),
        ("OverparamConfig", "steps", 1, "an integer >= 2"),
        ("OverparamConfig", "alphas", (0.1, -1.0), "each item a positive number"),
        ("OverparamConfig", "rebalance_tol", 1.0, "a number in (0, 1)"),
        ("OverparamConfig", "band_lower", 1e-2, "a number in (0, band_upper=0.001)"),
        ("OverparamConfig", "condition_number", 0.5, "a number >= 1"),
        ("OverparamConfig", "scaledgd_damping_ratio", -1.0, "a number >= 0"),
        ("RobustConfig", "k", 31, "an integer in [rank=3, n=30]"),
        ("RobustConfig", "decay", 1.5, "a number in (0, 1]"),
        ("RobustConfig", "outlier_fractions", (0.6,), "each item a number in [0, 0.5)"),
        ("RobustConfig", "outlier_magnitude", -1.0, "a number >= 0"),
        ("RobustConfig", "outlier_mode", "swap", "one of add, replace"),
        ("RobustConfig", "noise_levels", (0.0,), "each item a positive number"),
    ],
)
def test_a_bad_field_is_one_line_naming_it(config, field, value, allowed):
    cls = getattr(sensing, config)
    with pytest.raises(ConfigError) as error:
        cls(**{field: value})
    assert str(error.value) == f"{field}: {allowed}, got {value!r}"
    with pytest.raises(ConfigError, match=f"^{field}: "):  # replace checks too
        dataclasses.replace(cls.quick(), **{field: value})
