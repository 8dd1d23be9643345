"""Surrogates, the CAPE block, the curriculum, the rollout loss and PDEBench's metrics."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxlab
from jaxlab import ConfigError, cape


KEY = jax.random.key(0)
SMALL = dict(width=8, modes=6, layers=2, hidden=16, cape_width=8, cape_modes=4, grid=32)


def test_spectral_convolution_keeps_only_its_modes():
    conv = cape.SpectralConv1d(1, 1, 3, key=KEY)
    x = jnp.arange(32) / 32
    high = jnp.sin(2 * jnp.pi * 5 * x)[None]
    np.testing.assert_allclose(conv(high), 0.0, atol=1e-6)
    low = jnp.sin(2 * jnp.pi * 2 * x)[None]
    assert float(jnp.max(jnp.abs(conv(low)))) > 1e-3


def test_cape_block_is_the_identity_when_its_gates_and_skip_are_zero():
    block = cape.CAPEBlock(1, 1, width=8, modes=4, key=KEY)
    zero = lambda tree: jax.tree.map(jnp.zeros_like, tree)
    block = eqx.tree_at(
        lambda b: [g.second for g in b.gates], block, [zero(g.second) for g in block.gates]
    )
    block = eqx.tree_at(lambda b: b.skip, block, zero(block.skip))
    u = jax.random.normal(KEY, (1, 32))
    # Up to the LayerNorm of a constant: round-off amplified by 1/sqrt(eps).
    np.testing.assert_allclose(eqx.filter_jit(block)(u, jnp.array([0.4])), u, atol=1e-4)


def test_circular_cape_block_commutes_with_shifts_and_zero_padding_does_not():
    u = jax.random.normal(KEY, (1, 32))
    p = jnp.array([0.7])
    circular = cape.CAPEBlock(1, 1, width=8, modes=4, key=KEY)
    np.testing.assert_allclose(
        circular(jnp.roll(u, 4, axis=-1), p), jnp.roll(circular(u, p), 4, axis=-1), atol=1e-5
    )
    zeros = cape.CAPEBlock(1, 1, width=8, modes=4, padding="zeros", key=KEY)
    assert not np.allclose(
        zeros(jnp.roll(u, 4, axis=-1), p), jnp.roll(zeros(u, p), 4, axis=-1), atol=1e-5
    )


def test_faithful_norm_fixes_the_resolution_and_the_default_does_not():
    default = cape.CAPEBlock(1, 1, width=8, modes=4, key=KEY)
    for n in (32, 64):
        assert default(jnp.ones((1, n)), jnp.array([1.0])).shape == (1, n)
    faithful = cape.CAPEBlock(1, 1, width=8, modes=4, faithful_norm=True, grid=32, key=KEY)
    assert faithful.norm_weight.shape == (32,)


@eqx.filter_jit
def step_and_gradient(model, u, p):
    """The vmapped step `(next, guess)` and the gradient of the next frames' sum of
    squares, as one program."""
    loss = lambda m: (jnp.sum(jax.vmap(m)(u, p)[0] ** 2), jax.vmap(m)(u, p))
    return eqx.filter_grad(loss, has_aux=True)(model)[::-1]


def test_surrogates_share_one_interface_and_survive_jit_vmap_grad():
    u = jax.random.normal(KEY, (5, 1, 32))
    p = jnp.full((5, 1), 0.4)
    for kind in ("fno", "fno_cond", "cape_fno", "unet", "unet_cond", "cape_unet"):
        model = cape.build_surrogate(kind, key=KEY, **SMALL)
        (nxt, guess), grads = step_and_gradient(model, u, p)
        assert nxt.shape == (5, 1, 32)
        assert (guess is None) == (not kind.startswith("cape"))
        assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))
    cond = cape.build_surrogate("fno_cond", key=KEY, **SMALL)
    # The conditioned model reads the parameter; the plain one cannot.
    assert not np.allclose(cond(u[0], jnp.array([0.2]))[0], cond(u[0], jnp.array([2.0]))[0])


def test_matched_widths_give_parameter_counts_within_ten_percent():
    kwargs = dict(modes=12, hidden=128, cape_width=64, cape_modes=16)

    def count(kind, width):
        build = lambda k: cape.build_surrogate(kind, width=width, key=k, **kwargs)
        return jaxlab.count_params(eqx.filter_eval_shape(build, KEY))

    target = count("cape_fno", 20)
    assert target == jaxlab.count_params(
        cape.build_surrogate("cape_fno", width=20, key=KEY, **kwargs)
    )
    for kind in ("fno", "fno_cond", "unet", "unet_cond"):
        width = cape.matched_width(kind, target, **kwargs)
        n = count(kind, width)
        assert abs(count(kind, width + 1) - target) >= abs(n - target)
        assert abs(n / target - 1) < 0.1, (kind, width, n, target)
    with pytest.raises(ConfigError, match="^model: one of"):
        cape.build_surrogate("mpnn", key=KEY)


def test_circular_unet_commutes_with_shifts_by_its_pooling_factor():
    """Three levels pool by 4 in all: with circular padding, shifting the input by a
    multiple of 4 cells shifts the output the same way; zero padding breaks it."""
    u = jax.random.normal(KEY, (2, 32))
    circular = cape.UNet1d(2, 3, width=4, levels=3, key=KEY)
    out = circular(u)
    assert out.shape == (3, 32)
    for shift in (4, 8, -12):
        np.testing.assert_allclose(
            circular(jnp.roll(u, shift, -1)), jnp.roll(out, shift, -1), atol=1e-5
        )
    zeros = cape.UNet1d(2, 3, width=4, levels=3, padding="zeros", key=KEY)
    assert not np.allclose(zeros(jnp.roll(u, 4, -1)), jnp.roll(zeros(u), 4, -1), atol=1e-3)
    with pytest.raises(ConfigError, match="^grid: a multiple of 4"):
        circular(jnp.ones((2, 30)))


def test_curriculum_goes_from_teacher_forcing_to_autoregression():
    steps, warmup, frames = 100, 3, 41
    horizons = np.array(
        [int(cape.curriculum_horizon(s, steps, warmup, frames)) for s in range(steps)]
    )
    assert np.all(np.diff(horizons) >= 0)
    assert np.all(horizons[: warmup + 1] == 1)
    assert horizons[-1] >= frames - 1
    mask = np.asarray(cape.curriculum_mask(50, steps, warmup, frames))
    assert mask.shape == (frames - 1,) and mask[0] and not mask[-1]  # the first steps are AR
    assert np.all(cape.curriculum_mask(0, steps, warmup, frames, curriculum=False))
    # The schedule is data: a jitted mask takes the step as an argument (no recompile).
    jitted = jax.jit(lambda s: cape.curriculum_mask(s, steps, warmup, frames))
    np.testing.assert_array_equal(jitted(50), mask)


def test_teacher_forced_loss_is_the_sum_of_one_step_losses_and_rollout_matches():
    model = cape.build_surrogate("cape_fno", key=KEY, **SMALL)
    u = jax.random.normal(KEY, (6, 1, 32)) + 2.0
    p = jnp.array([0.4])
    loss = eqx.filter_jit(cape.trajectory_loss)
    main, aux = loss(model, u, p, jnp.zeros(5, bool), KEY)
    rel = lambda a, b: jnp.linalg.norm(a - b) / jnp.linalg.norm(b)
    steps = [model(u[t], p) for t in range(5)]
    np.testing.assert_allclose(
        main, sum(rel(s[0], u[t + 1]) for t, s in enumerate(steps)), rtol=1e-5
    )
    np.testing.assert_allclose(
        aux, sum(rel(s[1], u[t + 1]) for t, s in enumerate(steps)), rtol=1e-5
    )
    # Fully autoregressive: the inputs are the model's own rollout.
    main_ar, _ = loss(model, u, p, jnp.ones(5, bool), KEY)
    roll = cape.rollout(model, u[0], p, 5)
    np.testing.assert_allclose(main_ar, sum(rel(roll[t], u[t + 1]) for t in range(5)), rtol=1e-5)
    preds = cape.predict_trajectories(model, u[None, :, 0], p[None])
    np.testing.assert_allclose(preds[0, 1:], roll[:, 0], rtol=1e-5, atol=1e-6)


def test_warmup_trains_only_the_cape_block():
    model = cape.build_surrogate("cape_fno", key=KEY, **SMALL)
    batch = {
        "u": jax.random.normal(KEY, (2, 4, 32)) + 2,
        "params": jnp.full((2, 1), 0.4),
        "ar": jnp.zeros(3, bool),
        "step": jnp.int32(0),
    }
    loss = lambda m: cape.rollout_loss(m, batch, KEY, warmup_steps=5)[0]
    grads = eqx.filter_jit(eqx.filter_grad(loss))(model)
    assert all(np.all(g == 0) for g in jax.tree.leaves((grads.net, grads.mix)))
    assert any(np.any(g != 0) for g in jax.tree.leaves(grads.block))


def test_metrics_follow_pdebench_definitions(as_user):
    true = jax.random.normal(KEY, (4, 11, 32)) + 1.0
    zero = cape.pdebench_metrics(true, true)
    assert all(float(v) == 0.0 for v in zero.values())
    pred = true + 0.1  # a uniform error
    m = cape.pdebench_metrics(pred, true)
    np.testing.assert_allclose(m["rmse"], 0.1, rtol=1e-5)
    np.testing.assert_allclose(m["max_error"], 0.1, rtol=1e-5)
    np.testing.assert_allclose(m["brmse"], 0.1, rtol=1e-5)
    np.testing.assert_allclose(m["crmse"], 0.1, rtol=1e-5)  # sum over x of 0.1, over N_x
    np.testing.assert_allclose(m["frmse_low"], 0.1 / 4, rtol=1e-4)  # all in k = 0
    np.testing.assert_allclose(m["frmse_high"], 0.0, atol=1e-6)
    # With a zero error on the given frame, keeping it scales the mean by (T - s)/T.
    pred = pred.at[:, 0].set(true[:, 0])
    kept = cape.pdebench_metrics(pred, true, include_initial=True)["rmse"]
    dropped = cape.pdebench_metrics(pred, true)["rmse"]
    np.testing.assert_allclose(kept, dropped * 10 / 11, rtol=1e-5)
    jitted = jax.jit(cape.pdebench_metrics)(pred, true)
    np.testing.assert_allclose(
        jitted["nrmse"], cape.pdebench_metrics(pred, true)["nrmse"], rtol=1e-6
    )
    with pytest.raises(ConfigError, match="^pred: the shape of true"):
        cape.pdebench_metrics(pred[:, :5], true)
