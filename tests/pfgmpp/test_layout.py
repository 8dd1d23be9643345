"""The pfgmpp configs: every field declared with a doc, and validated from its
declaration (one-line errors; `inf` only for D). The layout is in tests/test_layout.py."""

import dataclasses

import pytest

import jaxlab
from jaxlab import Config, ConfigError, pfgmpp


EXPERIMENTS = {"toy": "ToyConfig", "digits": "DigitsConfig", "robustness": "RobustnessConfig"}


@pytest.mark.parametrize("config", [*EXPERIMENTS.values(), "Settings", "EDMSettings"])
def test_configs_declare_every_field(config):
    cls = getattr(pfgmpp, config)
    assert issubclass(cls, Config)
    for field in dataclasses.fields(cls):
        assert jaxlab.field_doc(field), f"{config}.{field.name} has no doc"
    cls()
    if hasattr(cls, "quick"):
        cls.quick()


@pytest.mark.parametrize(
    "config, change, message",
    [
        (
            "ToyConfig",
            {"Ds": (1.0, 0.0)},
            "Ds: each item a positive number (inf allowed), got (1.0, 0.0)",
        ),
        ("ToyConfig", {"Ds": (1.0, float("nan"))}, "Ds: each item a positive number"),
        ("ToyConfig", {"Ds": (1.0, 1.0)}, "Ds: distinct dimensions, got (1.0, 1.0)"),
        ("ToyConfig", {"Ds": ()}, "Ds: a tuple of 1 or more numbers, got ()"),
        ("ToyConfig", {"width": 2}, "width: an integer >= 4, got 2"),
        ("ToyConfig", {"sigma_data": 0.0}, "sigma_data: a positive number, got 0.0"),
        ("ToyConfig", {"clip": 0.5}, "clip: a number in [0, 0.5), got 0.5"),
        ("DigitsConfig", {"network": "vit"}, "network: one of mlp, unet, got 'vit'"),
        ("DigitsConfig", {"sigma_min": 90.0}, "sigma_min: a number below sigma_max=80.0, got 90.0"),
        ("RobustnessConfig", {"alphas": (-0.1,)}, "alphas: each item a number >= 0, got (-0.1,)"),
        ("RobustnessConfig", {"bits": (8, True)}, "bits: each item an integer >= 2, got (8, True)"),
        ("Settings", {"n_eval": -1}, "n_eval: an integer >= 0, got -1"),
        ("Settings", {"steps": 0}, "steps: a positive integer, got 0"),
    ],
)
def test_a_bad_field_is_one_line_naming_it(config, change, message):
    cls = getattr(pfgmpp, config)
    with pytest.raises(ConfigError) as error:
        dataclasses.replace(cls(), **change)
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


def test_infinite_D_is_allowed_but_other_infinities_are_not():
    """D = inf is EDM; a float field elsewhere must be finite."""
    assert pfgmpp.ToyConfig(Ds=(float("inf"),)).Ds == (float("inf"),)
    with pytest.raises(ConfigError, match="^sigma_max: a finite number, got inf$"):
        pfgmpp.ToyConfig(sigma_max=float("inf"))
