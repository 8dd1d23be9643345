"""Models as jaxlab trains them: trained parameters, carried buffers and fixed settings.

[`split_model`][jaxlab.split_model] is the one split the trainer, the sweep and the
benchmarks use; [`count_params`][jaxlab.count_params] counts what it trains.
"""

import dataclasses
import math
import sys
from collections.abc import Callable, Hashable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, PyTree


class Setting(eqx.Module):
    """A fixed setting of a model (a tolerance, a step size, a noise level): an array leaf
    that jaxlab never trains, whatever the optimizer.

    [`split_model`][jaxlab.split_model] leaves it out of the trained parameters and carries
    it with the model's other arrays, so a new value does not recompile; `read()` returns it
    behind `stop_gradient`.
    """

    value: Array

    def __init__(self, value: ArrayLike):
        self.value = jnp.asarray(value, dtype=float)

    def read(self) -> Array:
        return jax.lax.stop_gradient(self.value)


def _is_nnx(model: Any) -> bool:
    nnx = sys.modules.get("flax.nnx")
    return nnx is not None and isinstance(model, nnx.Module)


def _is_setting(x: Any) -> bool:
    return isinstance(x, Setting)


def _is_array(x: Any) -> bool:
    """An array, or the shape of one (a model built under `eqx.filter_eval_shape`)."""
    return eqx.is_array(x) or isinstance(x, jax.ShapeDtypeStruct)


def _trained(x: Any) -> bool:
    return _is_array(x) and not _is_setting(x) and jnp.issubdtype(x.dtype, jnp.inexact)


def _hashable(value: Any) -> Hashable:
    try:
        hash(value)
        return value
    except TypeError:
        return ("id", id(value))


@dataclasses.dataclass(frozen=True, eq=False)
class ModelLayout:
    """How one model splits into `(params, buffers)` and back, with its fixed structure.

    - `params`: the trained arrays: the `nnx.Param` variables of a `flax.nnx` module, the
      floating-point arrays (outside any [`Setting`][jaxlab.Setting]) of anything else.
    - `buffers`: every other array (settings, integer arrays, an nnx module's batch
      statistics and RNG state). They are carried per seed in the training state; an nnx
      module's buffers are read back after each loss call, so dropout RNGs advance and
      BatchNorm statistics update.

    Two layouts compare equal when the models share structure, shapes and static parts:
    compiled programs are cached on that.
    """

    merge_fn: Callable[[PyTree, PyTree], Any]
    buffers_fn: Callable[[Any], PyTree]
    key: Hashable

    def merge(self, params: PyTree, buffers: PyTree) -> Any:
        """The model with these parameters and buffers."""
        return self.merge_fn(params, buffers)

    def buffers(self, model: Any) -> PyTree:
        """A model's current buffers (after a call that may have updated them)."""
        return self.buffers_fn(model)

    def __eq__(self, other):
        return isinstance(other, ModelLayout) and self.key == other.key

    def __hash__(self):
        return hash(self.key)


def split_model(model: Any) -> tuple[PyTree, PyTree, ModelLayout]:
    """Split a model into `(params, buffers, layout)`; `layout.merge(params, buffers)`
    rebuilds it (see [`ModelLayout`][jaxlab.ModelLayout]).

    A `flax.nnx` module trains its `nnx.Param` variables; any other pytree (an equinox
    module) trains its floating-point arrays, except those wrapped in a
    [`Setting`][jaxlab.Setting].
    """
    if _is_nnx(model):
        from flax import nnx

        graphdef, params, buffers = nnx.split(model, nnx.Param, ...)

        def merge(p, b):
            return nnx.merge(graphdef, p, b, copy=True)

        def current(m):
            return nnx.split(m, nnx.Param, ...)[2]

        key = ("nnx", graphdef, _shapes(params), _shapes(buffers))
        return params, buffers, ModelLayout(merge, current, key)
    arrays, static = eqx.partition(model, _is_array)
    params, buffers = eqx.partition(arrays, _trained, is_leaf=_is_setting)
    static_leaves, static_def = jax.tree.flatten(static)
    key = (
        "pytree",
        static_def,
        tuple(_hashable(x) for x in static_leaves),
        _shapes(params),
        _shapes(buffers),
    )

    def merge(p, b):
        return eqx.combine(p, b, static, is_leaf=_is_setting)

    return params, buffers, ModelLayout(merge, lambda m: buffers_of(m), key)


def buffers_of(model: Any) -> PyTree:
    """The buffers (non-trained arrays) of an equinox model or pytree."""
    arrays = eqx.filter(model, _is_array)
    return eqx.filter(arrays, lambda x: not _trained(x), is_leaf=_is_setting)


def count_params(model: Any) -> int:
    """The number of trained scalars of `model` (the parameters of
    [`split_model`][jaxlab.split_model]; a complex one counts twice, real and imaginary).
    Also works on the shapes of a model (`eqx.filter_eval_shape`)."""
    params = split_model(model)[0]
    return sum(
        math.prod(x.shape) * (2 if jnp.issubdtype(x.dtype, jnp.complexfloating) else 1)
        for x in jax.tree.leaves(params)
    )


def _shapes(tree: Any) -> tuple:
    """The structure, shapes and dtypes of a pytree of arrays (hashable)."""
    leaves, treedef = jax.tree.flatten(tree)
    dtype = lambda x: x.dtype if hasattr(x, "dtype") else jnp.result_type(x)
    return treedef, tuple((jnp.shape(x), str(dtype(x))) for x in leaves)
