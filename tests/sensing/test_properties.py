"""Property tests: identities that hold for every shape and scale."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from jaxlab import sensing, summarize


sizes = st.integers(min_value=2, max_value=7)


@settings(max_examples=8, deadline=None)
@given(n1=sizes, n2=sizes, m=st.integers(1, 40), seed=st.integers(0, 2**16))
def test_adjoint_identity_any_shape(n1, n2, m, seed):
    with jax.enable_x64(True):
        problem = sensing.asymmetric_problem(jax.random.key(seed), n1, n2, 1, m)
        kx, kv = jax.random.split(jax.random.key(seed + 1))
        x = jax.random.normal(kx, (n1, n2))
        v = jax.random.normal(kv, (m,))
        lhs, rhs = jnp.vdot(problem.apply(x), v), jnp.vdot(x, problem.adjoint(v))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10, atol=1e-12)


@settings(max_examples=8, deadline=None)
@given(
    n=st.integers(4, 9),
    k=st.integers(1, 4),
    scale=st.floats(0.1, 10.0),
    size=st.floats(0.01, 3.0),
    seed=st.integers(0, 2**16),
)
def test_rebalance_preserves_product_any_shape(n, k, scale, size, seed):
    kf, kg = jax.random.split(jax.random.key(seed))
    with jax.enable_x64(True):
        f = size * jax.random.normal(kf, (n, k))
        g = jax.random.normal(kg, (n, k))
        f2, g2 = sensing.rebalance(f, g, scale)
        np.testing.assert_allclose(
            f2 @ g2.T, f @ g.T, rtol=1e-9, atol=1e-11 * float(jnp.abs(f @ g.T).max())
        )
        np.testing.assert_allclose(f2.T @ f2, scale**2 * np.eye(k), atol=1e-9 * scale**2)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.one_of(st.floats(-1e6, 1e6), st.just(float("nan"))), min_size=1, max_size=9))
def test_summary_statistics_skip_exactly_the_diverged_seeds(values):
    entry = summarize({"x": np.array(values)})["x"]
    finite = [v for v in values if np.isfinite(v)]
    assert entry["diverged"] == [i for i, v in enumerate(values) if not np.isfinite(v)]
    if finite:
        assert entry["min"] == min(finite) and entry["max"] == max(finite)
        assert entry["mean"] == pytest.approx(np.mean(finite), rel=1e-12, abs=1e-9)
        assert entry["std"] == pytest.approx(np.std(finite), rel=1e-9, abs=1e-9)
    else:
        assert entry["mean"] is entry["std"] is None
