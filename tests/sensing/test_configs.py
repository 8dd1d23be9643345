"""The rules the sensing configs declare: each bad field is one line naming it."""

import dataclasses

import pytest

from jaxlab import ConfigError, sensing


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
