"""Configs validated from declared field metadata.

A config is a frozen dataclass deriving from [`Config`][jaxlab.Config] whose fields are
declared with [`option`][jaxlab.option]: a default, a one-line doc, and what is allowed
(choices, bounds). The annotation gives the type. On construction (and on every
`dataclasses.replace`) each field is checked against its type and its declaration, then
`check()` runs the rules that join several fields. Bad input is one
[`ConfigError`][jaxlab.ConfigError] line, `"field: what is allowed, got value"`.

Values that are JAX arrays (a numeric field swept with `vmap`, traced or not) are not
checked: their value is not known, or they were checked before being swept.
"""

import dataclasses
import functools
import numbers
import types
import typing
from collections.abc import Collection
from typing import Any

import jax
import numpy as np

from ._experiment import field_types, require


def option(
    default: Any,
    doc: str,
    *,
    choices: Collection[Any] | None = None,
    minimum: int | float | None = None,
    maximum: int | float | None = None,
    above: int | float | None = None,
    below: int | float | None = None,
    min_length: int = 1,
    finite: bool = True,
) -> Any:
    """A config field: its `default`, its one-line `doc` (shown by `jaxlab describe`) and
    what is allowed: one of `choices`, or a number in the bounds (`minimum <= x <=
    maximum`, `above < x < below`; a float is finite unless `finite=False`). For a tuple
    field the rules hold for each item, and it has at least `min_length` items."""
    rules = {
        "choices": tuple(choices) if choices is not None else None,
        "minimum": minimum,
        "maximum": maximum,
        "above": above,
        "below": below,
        "min_length": min_length,
        "finite": None if finite else False,
    }
    metadata = {"doc": doc, "rules": {k: v for k, v in rules.items() if v is not None}}
    if isinstance(default, list | dict | set):
        raise TypeError("option: a config default must be immutable (use a tuple)")
    return dataclasses.field(default=default, metadata=metadata)


def with_default(config: type, name: str, default: Any) -> Any:
    """The field `name` of the config class `config` declared again for another
    `default`, with the same doc and rules: how a subclass changes an inherited default
    (`steps: int = with_default(Settings, "steps", 500)`)."""
    fields = {f.name: f for f in dataclasses.fields(config)}
    require(name in fields, "with_default", f"a field of {config.__name__}", name)
    return option(default, field_doc(fields[name]), **fields[name].metadata.get("rules", {}))


def field_doc(field: dataclasses.Field) -> str:
    """The one-line doc declared with [`option`][jaxlab.option] (`""` if none)."""
    return field.metadata.get("doc", "")


def field_rule(cls: type, field: dataclasses.Field) -> str:
    """What `field` of the config class `cls` allows, in words ("a positive integer",
    "one of ode, cde", "each item a number >= 0")."""
    kind = _hints(cls)[field.name]
    rules = field.metadata.get("rules", {})
    optional = typing.get_origin(kind) in (typing.Union, types.UnionType)
    if optional:
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
    if typing.get_origin(kind) is tuple:
        text = f"each item {_allowed(typing.get_args(kind)[0], rules)}"
    else:
        text = _allowed(kind, rules)
    return f"{text}, or None" if optional else text


@dataclasses.dataclass(frozen=True)
class Config:
    """Base of every config: fields declared with [`option`][jaxlab.option] are validated
    on construction; a subclass adds rules joining several fields in `check()`."""

    # A config checks its own fields, and lets through the JAX arrays of a field swept
    # by `vmap`; a run-time type checker (the tests' jaxtyping hook) would refuse those.
    __no_type_check__ = True

    def __post_init__(self):
        validate_fields(self)
        self.check()

    def check(self) -> None:
        """Rules that join several fields (raise through [`require`][jaxlab.require])."""


def validate_fields(config: Any) -> None:
    """Check each field of the dataclass `config` against its annotated type and the rules
    declared with [`option`][jaxlab.option]."""
    hints = _hints(type(config))
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        _check_value(field.name, value, hints[field.name], field.metadata.get("rules", {}))


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return field_types(cls)


def _check_value(name: str, value: Any, kind: Any, rules: dict[str, Any]) -> None:
    if isinstance(value, jax.Array):
        return
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(kind)
        if value is None and type(None) in args:
            return
        kind = next(a for a in args if a is not type(None))
        origin = typing.get_origin(kind)
    if origin is tuple:
        item_kind = typing.get_args(kind)[0]
        length = rules.get("min_length", 1)
        require(
            isinstance(value, tuple) and len(value) >= length,
            name,
            f"a tuple of {length} or more {_kind_name(item_kind)}s",
            value,
        )
        require(
            all(_allowed_item(item, item_kind, rules) for item in value),
            name,
            f"each item {_allowed(item_kind, rules)}",
            value,
        )
        return
    require(_allowed_item(value, kind, rules), name, _allowed(kind, rules), value)


def _allowed_item(value: Any, kind: Any, rules: dict[str, Any]) -> bool:
    if not _is_kind(value, kind):
        return False
    if "choices" in rules:
        return value in rules["choices"]
    if kind in (int, float):
        return all(
            (
                rules.get("minimum") is None or value >= rules["minimum"],
                rules.get("maximum") is None or value <= rules["maximum"],
                rules.get("above") is None or value > rules["above"],
                rules.get("below") is None or value < rules["below"],
                kind is int or not rules.get("finite", True) or not np.isnan(value),
                kind is int or not rules.get("finite", True) or np.isfinite(value),
            )
        )
    return True


def _is_kind(value: Any, kind: Any) -> bool:
    if kind is bool:
        return isinstance(value, bool | np.bool_)
    if isinstance(value, bool | np.bool_):
        return False
    if kind is int:
        return isinstance(value, numbers.Integral)
    if kind is float:
        return isinstance(value, numbers.Real)
    return isinstance(value, kind) if isinstance(kind, type) else True


def _kind_name(kind: Any) -> str:
    return {int: "integer", float: "number", str: "string", bool: "boolean"}.get(
        kind, getattr(kind, "__name__", str(kind))
    )


def _allowed(kind: Any, rules: dict[str, Any]) -> str:
    """`rules` in words: "one of a, b", "an integer >= 1", "a number in (0, 1]"."""
    text = _bounds(kind, rules)
    return f"{text} (inf allowed)" if rules.get("finite", True) is False else text


def _bounds(kind: Any, rules: dict[str, Any]) -> str:
    if "choices" in rules:
        return "one of " + ", ".join(str(c) for c in rules["choices"])
    noun = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(
        kind, f"a {_kind_name(kind)}"
    )
    low = ("[", rules["minimum"]) if "minimum" in rules else None
    low = ("(", rules["above"]) if "above" in rules else low
    high = ("]", rules["maximum"]) if "maximum" in rules else None
    high = (")", rules["below"]) if "below" in rules else high
    if low and high:
        return f"{noun} in {low[0]}{low[1]}, {high[1]}{high[0]}"
    if low:
        if kind is int and low == ("[", 1):
            return "a positive integer"
        if low == ("(", 0):
            return f"a positive {'integer' if kind is int else 'number'}"
        return f"{noun} {'>=' if low[0] == '[' else '>'} {low[1]}"
    if high:
        return f"{noun} {'<=' if high[0] == ']' else '<'} {high[1]}"
    return noun if kind is not float else "a finite number"
