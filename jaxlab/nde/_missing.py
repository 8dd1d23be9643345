"""NaN-marked arrays (padding, dropped observations) as declared data: the core refuses
data that are not finite, so such an array travels as its finite values and a mask of
where it held NaN, and is rebuilt inside the program."""

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike


def without_nan(x: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Host side: `x` with each NaN set to 0, and the boolean mask of where they were."""
    x = np.asarray(x)
    missing = np.isnan(x)
    return np.where(missing, 0, x).astype(x.dtype), missing


def with_nan(x: Array, missing: Array) -> Array:
    """`x` with NaN put back where `missing` (the inverse of `without_nan`)."""
    return jnp.where(missing, jnp.nan, x)
