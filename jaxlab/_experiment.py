"""Experiments: a frozen config, a pure per-seed computation, a host-side report, and
the registry that names them."""

import dataclasses
import importlib
import importlib.metadata
import sys
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

import jax


class ConfigError(ValueError):
    """Bad user input: the message is one line naming the field and what is allowed."""


def require(ok: Any, field: str, allowed: str, value: Any) -> None:
    """Raise [`ConfigError`][jaxlab.ConfigError] `"field: allowed, got value"` unless `ok`.

    Traced values (a field swept with `vmap`) are not checked: `ok` is then ignored.
    """
    if isinstance(value, jax.core.Tracer) or isinstance(ok, jax.core.Tracer):
        return
    if not ok:
        raise ConfigError(f"{field}: {allowed}, got {value!r}")


def require_integer(value: Any, field: str, minimum: int = 1) -> None:
    """[`require`][jaxlab.require] an `int` (not a `bool`) of at least `minimum`."""
    allowed = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= minimum
    require(ok, field, allowed, value)


def import_extra(module: str, user: str, package: str, extra: str = "data") -> types.ModuleType:
    """`module`, imported; if it is missing, the one-line [`ConfigError`][jaxlab.ConfigError]
    `'user: needs package: pip install "jaxlab[extra]"'` (the same hint everywhere)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(f'{user}: needs {package}: pip install "jaxlab[{extra}]"') from None


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A registered reproduction.

    **Fields:**

    - `name`: `"package.name"`, e.g. `"sensing.overparam"`.
    - `description`: one line, shown by `jaxlab list`.
    - `config`: a frozen dataclass whose defaults are the paper-scale settings. It may
      define a classmethod `quick()` (a small variant for tests and CI) and a class
      attribute `x64 = True` if it needs float64.
    - `report`: `report(config, results, out_dir) -> dict[str, array]`, host side:
      `results` carry a leading seed axis; it draws figures into `out_dir` and returns
      per-seed metrics (`/`-separated keys, arrays of shape `(seeds,)`; NaN marks a seed
      that diverged).
    - `run`: `run(config, key) -> pytree of arrays`, pure and jit-able, for ONE seed.
    - `init`, `advance`, `finish`: instead of `run`, for long runs shown in chunks:
      `init(config, key) -> state`, `advance(config, state, n_steps) -> (state, history)`
      and `finish(config, state) -> final`, each for one seed; the config must have a
      `steps` field. The sweep then passes `{"final": final, "history": history}` as
      `results`, the history concatenated along its step axis.
    - `history`: optional `history(config, results) -> dict[str, array (seeds, T)]`:
      per-seed curves saved to `history.npz`.
    - `data`: optional `data(config) -> pytree of arrays`, host side: the experiment's data
      (training set, reference solutions, test sets). The sweep calls it once, checks it
      is finite, places it on every device and passes it to the compiled programs as a
      last argument, never as a constant: `run(config, key, data)`,
      `init(config, key, data)`, `advance(config, state, n_steps, data)`,
      `finish(config, state, data)`.
    """

    name: str
    description: str
    config: type
    report: Callable[..., Mapping[str, Any]]
    run: Callable[..., Any] | None = None
    init: Callable[..., Any] | None = None
    advance: Callable[..., Any] | None = None
    finish: Callable[..., Any] | None = None
    history: Callable[[Any, Any], Mapping[str, Any]] | None = None
    data: Callable[[Any], Any] | None = None

    def __post_init__(self):
        parts = (self.init, self.advance, self.finish)
        plain = self.run is not None and all(f is None for f in parts)
        chunked = self.run is None and all(f is not None for f in parts)
        if not (plain or chunked):
            raise ValueError(f"{self.name}: give either run or all of init/advance/finish")

    @property
    def chunked(self) -> bool:
        return self.run is None

    def default_config(self, quick: bool = False):
        """The paper-scale config, or its `quick()` variant."""
        return self.config.quick() if quick else self.config()


_REGISTRY: dict[str, Experiment] = {}
ENTRY_POINTS = "jaxlab.experiments"


def _sources() -> dict[str, importlib.metadata.EntryPoint]:
    """The installed modules that register experiments: the entry points of the group
    `jaxlab.experiments` (jaxlab's five packages, and any installed package's own), by
    entry name, the prefix of the experiments' names."""
    return {entry.name: entry for entry in importlib.metadata.entry_points(group=ENTRY_POINTS)}


def register(experiment: Experiment) -> Experiment:
    """Add `experiment` to the registry under its name."""
    if experiment.name in _REGISTRY and _REGISTRY[experiment.name] is not experiment:
        raise ValueError(f"experiment {experiment.name!r} is already registered")
    _REGISTRY[experiment.name] = experiment
    return experiment


def experiments() -> dict[str, Experiment]:
    """Every registered experiment, by name: those of every module in the entry-point
    group `jaxlab.experiments` (imported here) and those registered in this process."""
    for entry in _sources().values():
        entry.load()
    return dict(sorted(_REGISTRY.items()))


def package_configs(package: str) -> Callable[[str], type]:
    """A module `__getattr__` for a package that registers experiments: its experiments'
    configs by class name (`from jaxlab.nde import SpiralsConfig`), its experiments'
    module imported on first use only."""

    def __getattr__(name: str) -> type:
        if name.endswith("Config") and package in _sources():
            _sources()[package].load()
            for experiment in _REGISTRY.values():
                if experiment.name.startswith(f"{package}.") and experiment.config.__name__ == name:
                    return experiment.config
        raise AttributeError(f"module 'jaxlab.{package}' has no attribute {name!r}")

    return __getattr__


def get_experiment(name: str) -> Experiment:
    """The experiment called `name`; a [`ConfigError`][jaxlab.ConfigError] if unknown.
    Only the module of its entry point (the part of `name` before the first dot) is
    imported when the name is registered there."""
    if isinstance(name, str) and name in _REGISTRY:
        return _REGISTRY[name]
    source = _sources().get(name.split(".")[0]) if isinstance(name, str) else None
    if source is not None:
        source.load()
        if name in _REGISTRY:
            return _REGISTRY[name]
    known = experiments()
    require(name in known, "experiment", f"one of {', '.join(known)}", name)
    return known[name]


def field_types(cls: type) -> dict[str, Any]:
    """The annotated type of each field of the dataclass `cls` (string annotations
    resolved in the module of the class that declares the field). Unlike
    `typing.get_type_hints`, it ignores `__no_type_check__`, which configs set."""
    types_ = {}
    for field in dataclasses.fields(cls):
        kind = field.type
        if isinstance(kind, str):
            owner = next(c for c in cls.__mro__ if field.name in vars(c).get("__annotations__", {}))
            kind = eval(kind, vars(sys.modules[owner.__module__]))
        types_[field.name] = kind
    return types_


def _parse(text: str, kind: Any, field: str) -> Any:
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        if text.lower() == "none" and len(options) < len(typing.get_args(kind)):
            return None
        return _parse(text, options[0], field)
    if origin is tuple:
        args = typing.get_args(kind)
        item = args[0] if args else str
        return tuple(_parse(t.strip(), item, field) for t in text.split(",") if t.strip())
    if kind is bool:
        lowered = text.lower()
        require(lowered in ("true", "false", "1", "0"), field, "true or false", text)
        return lowered in ("true", "1")
    if kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            raise ConfigError(f"{field}: expected {kind.__name__}, got {text!r}") from None
    return text


def config_with(config: Any, assignments: Mapping[str, str]) -> Any:
    """A copy of `config` with fields set from strings (`{"k": "7", "alphas": "0.1,0.2"}`),
    each parsed by the field's annotated type and validated by the config itself."""
    hints = field_types(type(config))
    names = [f.name for f in dataclasses.fields(config)]
    values = {}
    for field, text in assignments.items():
        require(
            field in names,
            "--set",
            f"a field of {type(config).__name__}: {', '.join(names)}",
            field,
        )
        values[field] = _parse(text, hints[field], field)
    return dataclasses.replace(config, **values)
