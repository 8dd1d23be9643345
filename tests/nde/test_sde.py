import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxlab
from jaxlab import ConfigError, init_state, split_model, train_chunk
from jaxlab.nde import OUConfig
from jaxlab.nde._latent_sde import LatentSDE, _gaussian_kl
from jaxlab.nde._ou import _losses, _optimizers, exact_moments, sample_paths
from jaxlab.nde._sde_gan import CDEDiscriminator, LipSwish, SDEGenerator, clip_weights


EXPERIMENT = jaxlab.get_experiment("nde.ou")

TS = jnp.linspace(0.0, 1.0, 6)
YS = jnp.sin(3 * TS)[:, None].at[2].set(jnp.nan)  # one missing value


class Affine(eqx.Module):
    """`slope * z + offset`, whatever else it is called with."""

    slope: float
    offset: jax.Array

    def __call__(self, t, z, *rest):
        return self.slope * z + self.offset


SIZES = dict(data_size=1, latent_size=2, context_size=3, hidden_size=4, width=8, depth=1)


def latent_model(solver="euler", substeps=1, key=0, posterior_inputs="bridge"):
    return LatentSDE(
        **SIZES, solver=solver, substeps=substeps, posterior_inputs=posterior_inputs,
        key=jax.random.key(key),
    )  # fmt: skip


def with_fields(model, f, h, g, z0=None):
    """`model` with prior drift f, posterior drift h, diffusion g (and a fixed z0)."""
    model = eqx.tree_at(lambda m: (m.prior_drift, m.posterior_drift, m.diffusion), model, (f, h, g))
    if z0 is not None:  # q(z0) = N(z0, e^{-30}): a point mass
        bias = jnp.concatenate([z0, jnp.full_like(z0, -30.0)])
        layer = model.posterior_initial
        layer = eqx.tree_at(lambda x: (x.weight, x.bias), layer, (0 * layer.weight, bias))
        model = eqx.tree_at(lambda m: m.posterior_initial, model, layer)
    return model


@pytest.mark.parametrize(
    "solver, posterior_inputs",
    [("euler", "bridge"), ("ito_milstein", "bridge"), ("reversible_heun", "bridge"),
     ("euler", "context")],
)  # fmt: skip
def test_path_kl_of_constant_drift_difference_is_exact(solver, posterior_inputs):
    # f = -z + b, h = -z + a, g constant: (h - f)/g is constant, KL = 0.5 |(a - b)/g|^2 T.
    a, b, g = jnp.array([0.3, -1.0]), jnp.array([0.1, 0.5]), jnp.array([0.7, 2.0])
    model = with_fields(
        latent_model(solver, substeps=3, posterior_inputs=posterior_inputs),
        Affine(-1.0, b), Affine(-1.0, a), Affine(0.0, g),
    )  # fmt: skip
    kl = eqx.filter_jit(lambda m: m.posterior(TS, YS, jax.random.key(1))[2])(model)
    np.testing.assert_allclose(kl, 0.5 * jnp.sum(((a - b) / g) ** 2) * TS[-1], rtol=1e-5)


def test_path_kl_matches_girsanov_for_an_ou_posterior():
    # Prior dz = sigma dW, posterior dz = -theta z dt + sigma dW from z0: the KL is
    # E sum_k 0.5 (theta z_k / sigma)^2 dt over the Euler chain, whose second moment
    # m_{k+1} = (1 - theta dt)^2 m_k + sigma^2 dt is exact.
    theta, sigma, z0 = 1.5, 0.8, jnp.array([1.0, -2.0])
    model = with_fields(
        latent_model(substeps=10),
        Affine(0.0, jnp.zeros(2)),
        Affine(-theta, jnp.zeros(2)),
        Affine(0.0, jnp.full(2, sigma)),
        z0=z0,
    )
    keys = jax.random.split(jax.random.key(0), 4000)
    kls = eqx.filter_jit(jax.vmap(lambda m, k: m.posterior(TS, YS, k)[2], (None, 0)))(model, keys)
    dt, second, expected = 0.02, z0**2, 0.0
    for _ in range(50):
        expected += 0.5 * theta**2 * jnp.sum(second) / sigma**2 * dt
        second = (1 - theta * dt) ** 2 * second + sigma**2 * dt
    assert abs(kls.mean() - expected) < 3 * kls.std() / np.sqrt(4000)


def test_context_posterior_sees_the_data_only_through_the_gru():
    # A GRU with zero weights keeps a zero state: the context posterior then ignores the
    # data, the default one still reads the next observation.
    for inputs, depends in (("context", False), ("bridge", True)):
        model = latent_model(posterior_inputs=inputs)
        model = eqx.tree_at(lambda m: m.encoder, model, replace_fn=lambda e: jax.tree.map(
            lambda x: jnp.zeros_like(x) if eqx.is_inexact_array(x) else x, e))  # fmt: skip
        draw = eqx.filter_jit(lambda m, y: m.posterior(TS, y, jax.random.key(0))[0])
        changed = not np.allclose(draw(model, YS), draw(model, YS + 1.0))
        assert changed == depends, inputs


def test_gaussian_kl_matches_monte_carlo():
    mq, sq, mp, sp = 0.3, 0.5, -0.2, 1.3
    x = mq + sq * jax.random.normal(jax.random.key(0), (400_000,))
    log_ratio = -0.5 * ((x - mq) / sq) ** 2 - np.log(sq) + 0.5 * ((x - mp) / sp) ** 2 + np.log(sp)
    kl = _gaussian_kl(*(jnp.array([v]) for v in (mq, np.log(sq), mp, np.log(sp))))
    np.testing.assert_allclose(kl, log_ratio.mean(), atol=4 * log_ratio.std() / np.sqrt(4e5))


def test_prior_sde_has_the_ou_moments_of_its_euler_chain():
    # dz = -theta z dt + sigma dW: checks the Brownian tree's scale on the refined grid.
    theta, sigma = 1.0, 0.6
    model = with_fields(
        latent_model(substeps=4),
        Affine(-theta, jnp.zeros(2)),
        Affine(0.0, jnp.zeros(2)),
        Affine(0.0, jnp.full(2, sigma)),
    )
    model = eqx.tree_at(lambda m: m.prior_initial, model, jnp.array([[1.0, -1.0], [-30, -30]]))
    keys = jax.random.split(jax.random.key(0), 20_000)
    zs = eqx.filter_jit(jax.vmap(lambda m, k: m.sample(TS, k, latent=True), (None, 0)))(model, keys)
    dt, mean, var = 0.05, jnp.array([1.0, -1.0]), 0.0
    for _ in range(20):
        mean, var = (1 - theta * dt) * mean, (1 - theta * dt) ** 2 * var + sigma**2 * dt
    np.testing.assert_allclose(zs[:, -1].mean(0), mean, atol=0.02)
    np.testing.assert_allclose(zs[:, -1].var(0), var, rtol=0.05)


def test_lipswish_is_1_lipschitz():
    x = jnp.linspace(-20.0, 20.0, 200_001)
    slope = jax.vmap(jax.grad(LipSwish()))(x)
    assert jnp.max(jnp.abs(slope)) <= 1.0
    assert jnp.max(slope) > 0.99  # and the constant is nearly tight
    np.testing.assert_allclose(LipSwish()(x), 0.909 * x * jax.nn.sigmoid(x), rtol=1e-6)


@pytest.mark.parametrize("c", [None, 0.05])
def test_clip_weights_bounds_every_linear_layer(c):
    disc = CDEDiscriminator(data_size=1, hidden_size=8, width=16, depth=1, key=jax.random.key(0))
    disc = eqx.tree_at(lambda d: d.control.mlp.layers[0].weight, disc, replace_fn=lambda w: 10 * w)
    clipped = clip_weights(disc, c)
    layers = lambda m: [  # noqa: E731
        x
        for x in jax.tree.leaves(m, is_leaf=lambda x: isinstance(x, eqx.nn.Linear))
        if isinstance(x, eqx.nn.Linear)
    ]
    for before, after in zip(layers(disc), layers(clipped)):
        size = 1 if after.out_features == "scalar" else after.out_features
        bound = 1 / size if c is None else c
        assert jnp.max(jnp.abs(after.weight)) <= bound
        inside = jnp.abs(before.weight) <= bound
        np.testing.assert_array_equal(after.weight[inside], before.weight[inside])
        np.testing.assert_array_equal(after.bias, before.bias)
    params, _ = eqx.partition(disc, eqx.is_inexact_array)  # a parameter tree works too
    assert jax.tree.structure(clip_weights(params, c)) == jax.tree.structure(params)


@pytest.mark.parametrize("diffusion", ["constant", "linear"])
def test_exact_moments_solve_the_moment_odes_and_match_monte_carlo(diffusion):
    """exact_moments against the moment ODEs m' = mu t - theta m, v' = -2 theta v + g(t)^2
    (solved numerically), against 20,000 Euler-Maruyama paths (dt = 0.005; standard
    errors about 0.012 for the mean and 0.5% for the std, Euler's bias O(dt)), and
    against the exact sampler."""
    cfg = OUConfig(diffusion=diffusion)
    ts = jnp.linspace(0.0, cfg.t1, 8)

    def g(t):
        return cfg.sigma if diffusion == "constant" else 2 * cfg.sigma * t / cfg.t1

    def moments(t, y, args):
        m, v = y
        return jnp.array([cfg.mu * t - cfg.theta * m, -2 * cfg.theta * v + g(t) ** 2])

    solution = diffrax.diffeqsolve(
        diffrax.ODETerm(moments), diffrax.Tsit5(), 0.0, cfg.t1, 0.01, jnp.array([0.0, 1 / 3]),
        saveat=diffrax.SaveAt(ts=ts),
        stepsize_controller=diffrax.PIDController(rtol=1e-7, atol=1e-7),
    )  # fmt: skip
    mean, std = exact_moments(cfg, ts)  # float32: agree to ~1e-6
    np.testing.assert_allclose(mean, solution.ys[:, 0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(std, np.sqrt(solution.ys[:, 1]), rtol=1e-5)

    @jax.jit
    def euler_maruyama(key, n=20_000, per_interval=180):
        k0, kw = jax.random.split(key)
        dt = (ts[1] - ts[0]) / per_interval
        grid = jnp.arange(1, 7 * per_interval + 1) * dt

        def step(y, x):
            t, z = x
            return y + (cfg.mu * (t - dt) - cfg.theta * y) * dt + g(t - dt) * jnp.sqrt(dt) * z, y

        noise = jax.random.normal(kw, (grid.shape[0], n))
        last, ys = jax.lax.scan(
            step, jax.random.uniform(k0, (n,), minval=-1.0, maxval=1.0), (grid, noise)
        )
        return jnp.concatenate([ys[::per_interval], last[None]])

    for paths in (
        euler_maruyama(jax.random.key(0)),
        sample_paths(cfg, ts, jax.random.key(1), 40_000)[..., 0].T,
    ):
        np.testing.assert_allclose(paths.mean(1), mean, atol=0.05)
        np.testing.assert_allclose(paths.std(1), std, rtol=0.03)


GAN_SIZES = dict(data_size=1, hidden_size=4, width=8, depth=1)


def generator(solver="reversible_heun"):
    return SDEGenerator(
        **GAN_SIZES, noise_size=2, initial_noise_size=3, solver=solver, key=jax.random.key(1)
    )


def discriminator(solver="reversible_heun"):
    return CDEDiscriminator(**GAN_SIZES, solver=solver, key=jax.random.key(2))


def test_sampling_is_deterministic_given_the_key():
    keys = jax.random.split(jax.random.key(3), 2)
    keys = jnp.stack([keys[0], keys[0], keys[1]])
    for model, draw in (
        (latent_model(), lambda m, k: m.sample(TS, k, noise=True)),
        (generator(), lambda m, k: m(TS, k)),
    ):
        a, b, c = eqx.filter_jit(jax.vmap(draw, (None, 0)))(model, keys)
        np.testing.assert_array_equal(a, b)
        assert not np.allclose(a, c)


def test_models_survive_jit_vmap_and_grad():
    keys = jax.random.split(jax.random.key(0), 3)
    batch = jnp.stack([YS, 2 * YS, YS - 1])
    calls = {  # the latent SDE's loss and a prior sample together
        "latent_sde": lambda m, y, k: (
            m.loss(TS, y, k)[0] + jnp.sum(m.sample(TS, k, noise=True) * jnp.nan_to_num(y))
        ),
        "generator": lambda m, y, k: jnp.sum(m(TS, k) * jnp.nan_to_num(y)),
        "discriminator": lambda m, y, k: m(TS, y),
    }
    modules = {
        "latent_sde": latent_model(),
        "generator": generator(),
        "discriminator": discriminator(),
    }
    for name, call in calls.items():

        @eqx.filter_jit
        def check(m):
            batched = jax.vmap(call, in_axes=(None, 0, 0))
            single = call(m, batch[1], keys[1])
            grads = eqx.filter_grad(lambda m: jnp.sum(batched(m, batch, keys)))(m)
            return batched(m, batch, keys), single, grads

        values, single, grads = check(modules[name])
        np.testing.assert_allclose(values[1], single, rtol=1e-5, err_msg=name)
        leaves = jax.tree.leaves(eqx.filter(grads, eqx.is_inexact_array))
        assert all(np.all(np.isfinite(x)) for x in leaves), name
        assert sum(float(jnp.sum(jnp.abs(x))) for x in leaves) > 0, name


def test_critic_scores_the_initial_point_and_the_whole_path():
    later = YS.at[3:].add(1.0)
    first, last = eqx.filter_jit(jax.vmap(lambda d, y: d(TS, y), (None, 0)))(
        discriminator(), jnp.stack([YS, later])
    ).T
    np.testing.assert_allclose(first[0], first[1], rtol=1e-6)  # score at t0: y(t0) only
    assert abs(last[0] - last[1]) > 1e-6


@pytest.mark.parametrize("substeps", [1, 3])
def test_reversible_adjoint_matches_backprop_through_the_generator(substeps):
    keys = jax.random.split(jax.random.key(4), 3)

    def make(adjoint):
        return SDEGenerator(
            **GAN_SIZES, noise_size=2, initial_noise_size=3, substeps=substeps,
            adjoint=adjoint, key=jax.random.key(1),
        )  # fmt: skip

    @eqx.filter_jit
    def value_and_grad(g):
        def loss(g):
            paths = jax.vmap(g, (None, 0))(TS, keys)
            return jnp.sum(jnp.sin(paths)), paths

        return eqx.filter_value_and_grad(loss, has_aux=True)(g)

    (_, paths), grads = value_and_grad(make("backprop"))
    (_, paths_rev), grads_rev = value_and_grad(make("reversible"))
    np.testing.assert_allclose(paths_rev, paths, rtol=1e-5, atol=1e-6)
    for a, b in zip(jax.tree.leaves(grads_rev), jax.tree.leaves(grads)):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)
    with pytest.raises(ConfigError, match="^adjoint: 'reversible' needs"):
        SDEGenerator(**GAN_SIZES, noise_size=2, initial_noise_size=3, solver="euler",
                     adjoint="reversible", key=jax.random.key(1))  # fmt: skip


class NaNPattern(eqx.Module):
    """A stand-in critic: the scores `(sum_i w_i [y_i missing], 0)`."""

    weights: jax.Array

    def __call__(self, ts, ys):
        return jnp.stack([jnp.sum(self.weights * jnp.isnan(ys[:, 0])), 0.0])


class Dense(eqx.Module):
    """A stand-in generator: a dense path of `value`s."""

    value: jax.Array

    def __call__(self, ts, key):
        return jnp.full((ts.shape[0], 1), self.value)


def test_gan_loss_masks_generated_paths_like_the_real_ones():
    # The real paths' missing points, scored by a critic that sees only the NaN pattern:
    # with generated paths masked alike, real and fake scores cancel exactly.
    cfg = OUConfig.quick()
    ts, batch = TS, jnp.where(jax.random.bernoulli(jax.random.key(0), 0.4, (8, 6, 1)), jnp.nan, 1.0)
    assert np.isnan(batch).sum() > 0
    critic = NaNPattern(2.0 ** jnp.arange(6))  # distinct per pattern
    loss, _ = _losses(cfg, ts)["sde_gan"]((Dense(jnp.array(3.0)), critic), batch, jax.random.key(1))
    assert loss == 0.0


def test_gan_optimizer_descends_for_the_generator_and_ascends_for_the_critic():
    """One step of the experiment's own loss and optimizer. RMSprop's first step moves each
    parameter by about lr / sqrt(1 - 0.9) against (generator) or along (critic) its gradient,
    `initial_lr_factor` times further for the `initial` networks; the loss then falls when
    only the generator moves and rises when only the critic does."""
    cfg = OUConfig(
        model="sde_gan", gan_hidden_size=4, gan_width=8, generator_lr=1e-4,
        discriminator_lr=2e-4, steps=10,
    )  # fmt: skip
    ts, batch = TS, jnp.stack([YS, YS + 0.5, 1.0 - YS])
    gan = (generator(), clip_weights(discriminator(), cfg.clip))
    loss = _losses(cfg, ts)["sde_gan"]
    key = jax.random.key(5)
    params, buffers, layout = split_model(gan)

    @eqx.filter_jit
    def step(params):
        value = lambda p: loss(layout.merge(p, buffers), batch, key)[0]  # noqa: E731
        grads = jax.grad(value)(params)
        optimizer = _optimizers(cfg)["sde_gan"]
        updates, _ = optimizer.update(grads, optimizer.init(params), params)
        new = eqx.apply_updates(params, updates)
        mixed = [value(p) for p in (params, (new[0], params[1]), (params[0], new[1]))]
        return grads, updates, mixed

    grads, updates, (before, gen_moved, critic_moved) = step(params)
    assert gen_moved < before < critic_moved
    for part, sign, lr in ((0, -1, cfg.generator_lr), (1, 1, cfg.discriminator_lr)):
        for fast, sub in ((cfg.initial_lr_factor, True), (1.0, False)):

            def pick(tree):
                rest = eqx.tree_at(lambda m: m.initial, tree[part], None)
                return jax.tree.leaves(tree[part].initial if sub else rest)

            g, u = (jnp.concatenate([x.ravel() for x in pick(t)]) for t in (grads, updates))
            moved = jnp.abs(g) > 1e-3  # where RMSprop's eps barely counts
            if part == 1:  # the critic's clipped weights may be held at the bound
                moved &= jnp.abs(u) > 0
            assert moved.sum() > 0
            g = g[moved]
            expected = sign * fast * lr * g / jnp.sqrt(0.1 * g**2 + 1e-8)  # eps in the sqrt
            np.testing.assert_allclose(u[moved], expected, rtol=1e-3)


def test_missing_values_are_skipped_not_propagated():
    filled = YS.at[2].set((YS[1] + YS[3]) / 2)  # equally spaced: linear interpolation
    starts_missing = YS.at[0].set(jnp.nan)
    paths = jnp.stack([YS, filled, starts_missing, starts_missing.at[0].set(YS[1])])
    scores = eqx.filter_jit(jax.vmap(lambda d, y: d(TS, y), (None, 0)))(discriminator(), paths)
    np.testing.assert_allclose(scores[0], scores[1], rtol=1e-6)
    np.testing.assert_allclose(scores[2], scores[3], rtol=1e-6)
    loss = eqx.filter_jit(lambda m: m.loss(TS, starts_missing, jax.random.key(0)))
    value, (loglik, _) = loss(latent_model())
    assert np.isfinite(value) and np.isfinite(loglik)


def test_a_second_training_step_does_not_recompile():
    cfg = OUConfig(model="both", gan_hidden_size=4, gan_width=8, width=8, steps=4)
    ts, data = TS, jnp.stack([YS, YS + 1, YS - 1])
    models = {
        "latent_sde": latent_model(),
        "sde_gan": (generator(), clip_weights(discriminator(), cfg.clip)),
    }
    losses = _losses(cfg, ts)
    for name, model in models.items():
        traces = []
        layout = split_model(model)[2]
        optimizer = _optimizers(cfg)[name]

        @jax.jit
        def step(state):
            traces.append(1)
            return train_chunk(
                state, 1, loss=losses[name], layout=layout, optimizer=optimizer,
                sample=lambda key: data[jax.random.choice(key, 3, (1,))],
            )  # fmt: skip

        state, _ = step(init_state(model, optimizer, jax.random.key(0)))
        state, (loss, _) = step(state)
        assert len(traces) == 1 and np.all(np.isfinite(loss)), name
    trained = layout.merge(state.params, state.buffers)[1]  # the critic stays clipped
    for layer in jax.tree.leaves(trained, is_leaf=lambda x: isinstance(x, eqx.nn.Linear)):
        if isinstance(layer, eqx.nn.Linear):
            assert jnp.max(jnp.abs(layer.weight)) <= cfg.clip * (1 + 1e-12)


@pytest.mark.parametrize(
    "make",
    [
        lambda: latent_model(solver="rk99"),
        lambda: generator(solver="tsit5"),
        lambda: discriminator(solver="milstein"),
    ],
)
def test_unknown_solver_is_a_one_line_error_naming_the_argument(make):
    with pytest.raises(ConfigError, match="^solver: one of .*, got") as info:
        make()
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "field, value",
    [("model", "vae"), ("solver", "rk4"), ("gan_solver", "x"), ("drop", 1.0), ("times", 1),
     ("batch_size", 5000), ("clip", -1.0), ("posterior", "li"), ("gan_adjoint", "x"),
     ("initial_lr_factor", 0.0)],
)  # fmt: skip
def test_ou_config_rejects_bad_values(field, value):
    with pytest.raises(ConfigError, match=f"^{field}: .*, got") as info:
        OUConfig(**{field: value})
    assert "\n" not in str(info.value)


def test_ou_config_names_the_posterior_variant_and_checks_the_adjoint():
    assert OUConfig(posterior="context", model="both").models == ("latent_sde_context", "sde_gan")
    with pytest.raises(ConfigError, match="^gan_adjoint: backprop unless"):
        OUConfig(gan_solver="euler")
    OUConfig(gan_solver="euler", gan_adjoint="backprop")


@pytest.fixture(scope="session")
def quick_run(tmp_path_factory):
    """`nde.ou --quick` (the latent SDE), 2 seeds: one sweep shared by the tests below."""
    out = tmp_path_factory.mktemp("ou") / "run"
    metrics, out_dir = jaxlab.run_experiment(
        EXPERIMENT, seeds=2, quick=True, out_dir=out, progress=False
    )
    return metrics["summary"], out_dir


@pytest.mark.claims
def test_latent_sde_learns_the_ou_marginals(quick_run):
    """At quick size (400 steps, 256 paths at 16 times) the marginal mean is within 10%
    and the standard deviation within 30% (measured over 4 seeds: mean errors 0.02-0.08,
    std errors 0.08-0.25; an untrained model: about 0.35 and 2.3)."""
    summary, _ = quick_run
    for metric, bound in (("mean_rel_error", 0.1), ("std_rel_error", 0.3)):
        assert summary[f"latent_sde/{metric}"]["diverged"] == []
        assert max(summary[f"latent_sde/{metric}"]["per_seed"]) < bound, metric


@pytest.mark.claims
def test_ou_experiment_writes_its_curves_and_figure(quick_run):
    summary, out_dir = quick_run
    cfg = OUConfig.quick()
    assert set(summary) == {"latent_sde/mean_rel_error", "latent_sde/std_rel_error"}
    assert (out_dir / "figures" / "marginals.png").is_file()
    history = np.load(out_dir / "history.npz")
    assert history["latent_sde/loss"].shape == history["latent_sde/kl"].shape == (2, cfg.steps)
    loss = history["latent_sde/loss"]
    assert np.all(loss[:, -50:].mean(1) < loss[:, :50].mean(1))  # the negative ELBO falls
