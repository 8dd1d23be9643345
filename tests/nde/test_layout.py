"""The package's layout: one module per registered experiment in `jaxlab/nde/experiments/`,
holding its config, its report and the experiment that joins them, and every config
importable from `jaxlab.nde`."""

import ast
import importlib
import inspect
from pathlib import Path

import pytest

import jaxlab
import jaxlab.nde.experiments
from jaxlab import nde


CONFIGS = {
    "oscillator": "OscillatorConfig",
    "spirals": "SpiralsConfig",
    "deq_digits": "DEQDigitsConfig",
    "ou": "OUConfig",
    "vowels": "VowelsConfig",
}


def test_one_module_per_registered_experiment():
    folder = Path(jaxlab.nde.experiments.__file__).parent
    modules = {path.stem for path in folder.glob("*.py")} - {"__init__"}
    registered = {name for name in jaxlab.experiments() if name.startswith("nde.")}
    assert modules == set(CONFIGS)
    assert registered == {f"nde.{name}" for name in CONFIGS}


@pytest.mark.parametrize("name, config", CONFIGS.items())
def test_each_config_is_importable_from_the_package(name, config):
    cls = getattr(nde, config)
    assert cls is getattr(jaxlab.nde.experiments, config)
    assert cls is jaxlab.get_experiment(f"nde.{name}").config
    assert issubclass(cls, jaxlab.Config)


@pytest.mark.parametrize("name, config", CONFIGS.items())
def test_each_experiment_module_defines_its_config_report_and_experiment(name, config):
    module = importlib.import_module(f"jaxlab.nde.experiments.{name}")
    tree = ast.parse(inspect.getsource(module))
    defined = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef):
            defined.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            defined |= {target.id for target in targets if isinstance(target, ast.Name)}
    assert defined == {config, "report", "EXPERIMENT"}
    experiment = module.EXPERIMENT
    assert experiment.name == f"nde.{name}"
    assert experiment.config is getattr(module, config)
    assert experiment.report is module.report
    assert jaxlab.get_experiment(f"nde.{name}") is experiment
