"""Declarative config validation: types from annotations, rules from `jaxlab.option`."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxlab
from jaxlab import Config, ConfigError, option


@dataclasses.dataclass(frozen=True)
class Example(Config):
    steps: int = option(10, "training steps", minimum=1)
    learning_rate: float = option(1e-3, "Adam's step size", above=0)
    drop: float = option(0.3, "fraction of times dropped", minimum=0, below=1)
    model: str = option("ode", "the vector field", choices=("ode", "cde"))
    widths: tuple[int, ...] = option((8, 8), "hidden widths", minimum=1)
    flag: bool = option(False, "a switch")
    scale: float | None = option(None, "a scale, or None for the data's", above=0)
    batch: int = option(4, "examples per step", minimum=1)

    def check(self):
        jaxlab.require(self.batch <= self.steps, "batch", f"at most steps={self.steps}", self.batch)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"steps": 0}, "steps: a positive integer, got 0"),
        ({"steps": True}, "steps: a positive integer, got True"),
        ({"steps": 2.0}, "steps: a positive integer, got 2.0"),
        ({"learning_rate": 0.0}, "learning_rate: a positive number, got 0.0"),
        ({"learning_rate": float("nan")}, "learning_rate: a positive number, got nan"),
        ({"learning_rate": "0.1"}, "learning_rate: a positive number, got '0.1'"),
        ({"drop": 1.0}, "drop: a number in [0, 1), got 1.0"),
        ({"model": "sde"}, "model: one of ode, cde, got 'sde'"),
        ({"widths": ()}, "widths: a tuple of 1 or more integers, got ()"),
        ({"widths": [8]}, "widths: a tuple of 1 or more integers, got [8]"),
        ({"widths": (8, 0)}, "widths: each item a positive integer, got (8, 0)"),
        ({"flag": 1}, "flag: true or false, got 1"),
        ({"scale": -1.0}, "scale: a positive number, got -1.0"),
        ({"batch": 11}, "batch: at most steps=10, got 11"),
    ],
)
def test_a_bad_field_is_one_line_naming_it(change, message):
    with pytest.raises(ConfigError) as error:
        Example(**change)
    assert str(error.value) == message
    with pytest.raises(ConfigError):  # replace validates too
        dataclasses.replace(Example(), **change)


def test_good_values_pass_and_keep_their_values():
    config = Example(steps=5, learning_rate=1, drop=0.0, widths=(1,), scale=None, batch=5)
    assert (config.steps, config.learning_rate, config.scale) == (5, 1, None)
    assert Example(scale=2.5).scale == 2.5


def test_swept_fields_are_not_checked_while_traced():
    """`vmap` over a numeric field: the values are tracers inside, arrays outside."""
    rates = jnp.array([1e-3, 1e-2, -1.0])  # checked before sweeping, if at all
    out = jax.vmap(lambda r: dataclasses.replace(Example(), learning_rate=r).learning_rate)(rates)
    assert jnp.array_equal(out, rates)


def test_every_registered_config_declares_a_doc_and_validates_its_defaults():
    """Each field of each experiment's config says what it is (`jaxlab describe` prints
    it), and the paper-scale and quick configs pass their own rules."""
    for name, experiment in jaxlab.experiments().items():
        assert issubclass(experiment.config, Config), name
        for field in dataclasses.fields(experiment.config):
            assert jaxlab.field_doc(field), f"{name}: {field.name} has no doc"
        experiment.default_config(False)
        experiment.default_config(True)


def test_infinity_only_where_declared():
    @dataclasses.dataclass(frozen=True)
    class Dimensions(Config):
        Ds: tuple[float, ...] = option((1.0, float("inf")), "D, inf for EDM", above=0, finite=False)
        sigma: float = option(1.0, "a noise level", above=0)

    assert Dimensions().Ds[-1] == float("inf")
    message = r"^Ds: each item a positive number \(inf allowed\), got \(nan,\)$"
    with pytest.raises(ConfigError, match=message):
        Dimensions(Ds=(float("nan"),))
    with pytest.raises(ConfigError, match="^sigma: a positive number, got inf$"):
        Dimensions(sigma=float("inf"))


def test_a_mutable_default_is_refused_at_declaration():
    with pytest.raises(TypeError, match="immutable"):
        option([1, 2], "a list")


def test_a_subclass_changes_a_default_and_keeps_the_doc_and_rules():
    @dataclasses.dataclass(frozen=True)
    class Shorter(Example):
        steps: int = jaxlab.with_default(Example, "steps", 5)
        batch: int = jaxlab.with_default(Example, "batch", 2)

    assert (Shorter().steps, Shorter().batch) == (5, 2)
    fields = {f.name: f for f in dataclasses.fields(Shorter)}
    assert jaxlab.field_doc(fields["steps"]) == "training steps"
    with pytest.raises(ConfigError, match="^steps: a positive integer, got 0$"):
        Shorter(steps=0)
    with pytest.raises(ConfigError, match="^with_default: a field of Example, got 'stepz'$"):
        jaxlab.with_default(Example, "stepz", 5)


def test_a_swept_field_reaches_the_config_through_the_sweep():
    """`jaxlab.sweep(..., over=)` rebuilds the config with a traced field (the tests'
    type checker must not refuse it: configs check themselves)."""

    def run(config, key):
        return {"scaled": config.learning_rate * jax.random.normal(key, ())}

    rates = jnp.array([1e-3, 1e-2])
    result = jaxlab.sweep(run, Example(), seeds=2, over={"learning_rate": rates})
    scaled = np.asarray(result.results["scaled"])
    assert scaled.shape == (2, 2)  # (values, seeds)
    np.testing.assert_allclose(scaled[1], 10 * scaled[0], rtol=1e-6)  # same keys per value
