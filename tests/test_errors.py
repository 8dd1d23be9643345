"""One way to reject bad input in every package: `ConfigError` with a one-line message."""

import ast
import importlib
import pathlib

import jax
import jax.numpy as jnp
import pytest

import jaxlab
from jaxlab import ConfigError, cape, nde, pfgmpp


PACKAGES = ("sensing", "nde", "pig", "cape", "pfgmpp")


@pytest.mark.parametrize("package", PACKAGES)
def test_packages_raise_only_config_errors(package):
    """No package raises `ValueError` or `TypeError` of its own: bad input is a
    [`ConfigError`][jaxlab.ConfigError] (a `ValueError`) in the "field: allowed, got X"
    form, raised through `jaxlab.require` or directly."""
    root = pathlib.Path(jaxlab.__file__).parent / package
    raised = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                name = getattr(node.exc.func, "id", None)
                if name in ("ValueError", "TypeError"):
                    raised.append(f"{path.name}:{node.lineno} {name}")
    assert raised == []


KEY = jax.random.key(0)


def pfgmpp_mlp_on_three_columns():
    net = pfgmpp.MLP(2, key=KEY, width=8, depth=1)
    pfgmpp.pfgmpp_loss(net, jnp.ones((4, 3)), KEY, 1.0)


def nde_field_on_a_longer_state():
    field = nde.MLPField(size=2, width=8, depth=1, key=KEY)
    nde.NeuralODE(field)(jnp.linspace(0.0, 1.0, 3), jnp.ones(3))


def cape_curriculum_on_longer_trajectories():
    data = {"u": jnp.ones((4, 11, 16)), "params": jnp.ones((4, 1))}
    cape.curriculum_sampler(jaxlab.sampler(data, 2), 100, 10, frames=10)(KEY)


@pytest.mark.parametrize(
    "call, message",
    [
        (pfgmpp_mlp_on_three_columns, "x: one example of 2 values (MLP(2)), got (3,)"),
        (nde_field_on_a_longer_state, "y: shape (2,) (MLPField(size=2)), got (3,)"),
        (
            cape_curriculum_on_longer_trajectories,
            "frames: the data's 11 frames per trajectory, got 10",
        ),
    ],
    ids=["pfgmpp", "nde", "cape"],
)
def test_a_model_meeting_data_of_the_wrong_shape_names_both(call, message):
    """Where a user's arrays meet a model, a wrong shape is a one-line `ConfigError`
    naming the argument, the shape it got and the one it needs, not an XLA error."""
    with pytest.raises(ConfigError) as info:
        call()
    assert str(info.value) == message


@pytest.mark.parametrize(
    "package, config",
    [("sensing", "OverparamConfig"), ("nde", "SpiralsConfig"), ("pig", "HelmholtzConfig"),
     ("cape", "BurgersConfig"), ("pfgmpp", "ToyConfig")],
)  # fmt: skip
def test_configs_are_importable_from_their_package(package, config):
    module = importlib.import_module(f"jaxlab.{package}")
    cls = getattr(module, config)
    assert any(e.config is cls for e in jaxlab.experiments().values())
    with pytest.raises(AttributeError, match="NoSuchConfig"):
        module.NoSuchConfig
