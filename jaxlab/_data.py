"""The data stage: an experiment's arrays, checked once on the host and placed on every
device, then handed to the compiled programs as arguments.

Data never enter a program as a constant (a large constant makes a program slow to
compile and ties it to one data set) or through a host callback (a device-to-host round
trip per step on GPU/TPU, and a program JAX's persistent compilation cache refuses).
"""

from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ._experiment import ConfigError


def put(x: Any, sharding: NamedSharding) -> jax.Array:
    """A host array (the same on every process) placed with a global `sharding`."""
    if jax.process_count() == 1:
        return jax.device_put(x, sharding)
    if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
        return jax.random.wrap_key_data(
            put(jax.random.key_data(x), sharding), impl=jax.random.key_impl(x)
        )
    x = np.asarray(x)
    return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])


def check_finite(data: Any, field: str = "data") -> None:
    """A one-line [`ConfigError`][jaxlab.ConfigError] naming the first floating-point
    array of `data` that holds a NaN or an infinite value (checked on the host)."""
    for path, leaf in jax.tree_util.tree_leaves_with_path(data):
        if not hasattr(leaf, "dtype") or not np.issubdtype(leaf.dtype, np.inexact):
            continue
        bad = int(np.size(leaf) - np.count_nonzero(np.isfinite(np.asarray(leaf))))
        if bad:
            raise ConfigError(
                f"{field}{jax.tree_util.keystr(path)}: finite values, got {bad} NaN or "
                f"infinite value(s) in an array of shape {tuple(np.shape(leaf))}"
            )


def replicated(data: Any, field: str = "data") -> Any:
    """`data` (a pytree of host arrays) checked finite and copied once onto every device:
    the argument form in which compiled programs receive it."""
    if data is None:
        return None
    check_finite(data, field)
    everywhere = NamedSharding(Mesh(np.array(jax.devices()), ("seed",)), PartitionSpec())
    return jax.tree.map(lambda x: put(x if hasattr(x, "dtype") else np.asarray(x), everywhere), data)


def experiment_data(experiment: Any, config: Any) -> Any:
    """The declared data of an [`Experiment`][jaxlab.Experiment] for `config`, on the
    devices (None for an experiment that declares none)."""
    return None if experiment.data is None else replicated(experiment.data(config))
