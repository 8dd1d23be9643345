"""What the nde models share about their settings: solvers and adjoints given by name or
as objects, positive settings (tolerances, steps, noise levels) held as
[`Setting`][jaxlab.Setting]s, the step-size controller they give, and NaN for a failed
solve."""

from collections.abc import Mapping
from typing import Any

import diffrax
import jax
import jax.numpy as jnp
import optimistix as optx
from jaxtyping import ArrayLike, PyTree

from .._experiment import ConfigError
from .._model import Setting


def concrete(value: Any) -> bool:
    """Whether `value` is known at trace time (not a tracer)."""
    return not isinstance(value, jax.core.Tracer)


def named(kind: str, table: Mapping[str, type], value: Any, **options) -> Any:
    """`table[value](**options)` for a name, `value` itself for an object."""
    if not isinstance(value, str):
        return value
    if value not in table:
        raise ConfigError(f"{kind}: one of {', '.join(table)}, got {value!r}")
    return table[value](**options)


def positive(name: str, value: ArrayLike | Setting | None) -> Setting | None:
    """`value` as a [`Setting`][jaxlab.Setting] (None stays None); a value known at trace
    time must be positive."""
    if value is None:
        return None
    if isinstance(value, Setting):
        value = value.value
    if concrete(value) and not float(value) > 0:
        raise ConfigError(f"{name}: a positive number, got {value!r}")
    return Setting(value)


def count(name: str, value: Any) -> int:
    """`value`, which must be a positive integer."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name}: a positive integer, got {value!r}")
    return value


def step_settings(
    rtol, atol, dt0, *, steps_on_ts: bool = False
) -> tuple[Setting | None, Setting | None, Setting | None]:
    """Validated `(rtol, atol, dt0)` of a diffrax solve: both tolerances (a PID
    controller, `dt0` its optional first step) or neither (a constant step `dt0`, required
    unless the solve `steps_on_ts`)."""
    rtol, atol, dt0 = positive("rtol", rtol), positive("atol", atol), positive("dt0", dt0)
    if (rtol is None) != (atol is None):
        raise ConfigError("rtol: give both rtol and atol (adaptive) or neither (constant dt0)")
    if rtol is None and dt0 is None and not steps_on_ts:
        raise ConfigError("dt0: required with a constant step (rtol=None)")
    return rtol, atol, dt0


def controller(rtol: Setting | None, atol: Setting | None) -> diffrax.AbstractStepSizeController:
    """A PID controller with these tolerances, or a constant step when `rtol` is None."""
    if rtol is None:
        return diffrax.ConstantStepSize()
    return diffrax.PIDController(rtol=rtol.read(), atol=atol.read())


def read(setting: Setting | None):
    """The value of a setting (behind `stop_gradient`), or None."""
    return None if setting is None else setting.read()


def or_nan(solution: diffrax.Solution | optx.Solution, value: PyTree) -> PyTree:
    """`value`, NaN wherever the diffrax or optimistix `solution` did not succeed (it hit
    `max_steps`, say): in a sweep that seed is then flagged instead of aborting the
    others."""
    results = diffrax.RESULTS if isinstance(solution, diffrax.Solution) else optx.RESULTS
    failed = solution.result != results.successful
    return jax.tree.map(lambda y: jnp.where(failed, jnp.nan, y), value)
