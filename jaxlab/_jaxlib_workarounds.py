"""Work around known defects of the installed jaxlib, before JAX starts its backends.

jaxlib 0.10.2 hands reductions on the CPU to YNNPACK fusions that return wrong values
when the reduction has more than 32,768 outputs (jax-ml/jax#39103: rows past that wrap
back to earlier inputs) and that run some reductions many times slower (jax-ml/jax#37465;
`jaxlab.pig`'s training step: 290 ms against 16 ms). XLA's flag
`--xla_cpu_experimental_ynn_fusion_type=-reduce` keeps reductions out of those fusions.
It is added to `XLA_FLAGS` when jaxlab is imported, unless the user's `XLA_FLAGS`
already sets that flag. XLA reads its flags once, when JAX first uses a device, so
import jaxlab before running any JAX computation.
"""

import os
import warnings

import jaxlib


YNN_FLAG = "--xla_cpu_experimental_ynn_fusion_type"
AFFECTED = ("0.10.2",)


def keep_reductions_out_of_ynn_fusions() -> bool:
    """Add `YNN_FLAG=-reduce` to `XLA_FLAGS` on an affected jaxlib; True if added."""
    flags = os.environ.get("XLA_FLAGS", "")
    if jaxlib.__version__ not in AFFECTED or YNN_FLAG in flags:
        return False
    from jax._src import xla_bridge

    if getattr(xla_bridge, "_backends", None):
        warnings.warn(
            f"jaxlib {jaxlib.__version__} can return wrong CPU reductions (jax-ml/jax#39103) "
            f"and JAX has already started, so jaxlab cannot add {YNN_FLAG}=-reduce to "
            "XLA_FLAGS: set it before starting Python, or import jaxlab before using JAX",
            stacklevel=3,
        )
        return False
    os.environ["XLA_FLAGS"] = f"{flags} {YNN_FLAG}=-reduce".strip()
    return True
