import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import jaxlib
import numpy as np
import pytest

from jaxlab._jaxlib_workarounds import AFFECTED, YNN_FLAG


def test_a_reduction_with_more_than_32768_outputs_is_right_under_jit():
    """jaxlib 0.10.2 without the flag gets rows 40 and up wrong here (jax-ml/jax#39103;
    measured: relative error 0.92): 41 points against 4 x 200 Gaussians, as in `jaxlab.pig`,
    exp(-sum_k a_k (x_k - mu_k)^2 / 2)."""
    rng = np.random.default_rng(0)
    mu = rng.uniform(-1, 1, (4, 200, 3)).astype(np.float32)
    precision = np.full((4, 200, 3), 1 / 0.09, np.float32)
    x = rng.uniform(-1, 1, (41, 3)).astype(np.float32)
    expected = np.exp(-np.sum(precision * (x[:, None, None, :] - mu) ** 2, -1) / 2)

    @jax.jit
    def gaussians(mu, a, x):
        return jnp.exp(-jnp.sum(a * (x[:, None, None, :] - mu) ** 2, -1) / 2)

    np.testing.assert_allclose(gaussians(mu, precision, x), expected, rtol=1e-5, atol=1e-7)


CHECK = """
import os, warnings
warnings.simplefilter("error")
if os.environ.get("START_JAX_FIRST"):
    import jax
    jax.numpy.zeros(1)
import jaxlab
print(os.environ.get("XLA_FLAGS", ""))
"""


def _flags_after_import(**env):
    base = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "START_JAX_FIRST")}
    done = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, env={**base, **env}
    )
    return done.returncode, done.stdout.strip(), done.stderr


@pytest.mark.skipif(jaxlib.__version__ not in AFFECTED, reason="jaxlib without the defect")
def test_the_flag_is_added_once_and_a_late_import_warns():
    assert _flags_after_import(XLA_FLAGS="--xla_force_host_platform_device_count=2")[:2] == (
        0,
        f"--xla_force_host_platform_device_count=2 {YNN_FLAG}=-reduce",
    )
    mine = f"{YNN_FLAG}=dot"
    assert _flags_after_import(XLA_FLAGS=mine)[:2] == (0, mine)  # the user's choice stays
    code, _, err = _flags_after_import(START_JAX_FIRST="1")
    assert code != 0 and "import jaxlab before using JAX" in err
