"""One layout for the five packages (docs/experiments.md): `PACKAGE.NAME` lives in
`jaxlab/PACKAGE/experiments/NAME.py`, which defines its config `NameConfig`, its `report`
and `EXPERIMENT` (joining them) and nothing else public; each config is importable from
its package."""

import ast
import importlib
import inspect
from pathlib import Path

import pytest

import jaxlab


PACKAGES = ("sensing", "nde", "pig", "cape", "pfgmpp")
NAMES = sorted(name for name in jaxlab.experiments() if name.split(".")[0] in PACKAGES)


def _public_top_level_names(module) -> set[str]:
    defined = set()
    for node in ast.parse(inspect.getsource(module)).body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef):
            defined.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            defined |= {t.id for t in targets if isinstance(t, ast.Name)}
    return {name for name in defined if not name.startswith("_")}


@pytest.mark.parametrize("package", PACKAGES)
def test_one_file_per_registered_experiment(package):
    folder = Path(importlib.import_module(f"jaxlab.{package}.experiments").__file__).parent
    files = {p.stem for p in folder.glob("*.py") if not p.stem.startswith("_")}
    registered = {name.split(".", 1)[1] for name in NAMES if name.startswith(f"{package}.")}
    assert files == registered


@pytest.mark.parametrize("name", NAMES)
def test_each_file_holds_its_config_report_and_experiment(name):
    package, stem = name.split(".", 1)
    module = importlib.import_module(f"jaxlab.{package}.experiments.{stem}")
    experiment = module.EXPERIMENT
    config = experiment.config
    # The naming rule: CamelCase of NAME (acronyms upper case), then "Config".
    assert config.__name__.lower() == stem.replace("_", "") + "config"
    assert _public_top_level_names(module) == {config.__name__, "report", "EXPERIMENT"}
    assert experiment.name == name and jaxlab.get_experiment(name) is experiment
    assert config is getattr(module, config.__name__) and experiment.report is module.report
    package_module = importlib.import_module(f"jaxlab.{package}")
    assert getattr(package_module, config.__name__) is config  # from jaxlab.PKG import ...
    assert issubclass(config, jaxlab.Config)
