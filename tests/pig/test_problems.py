"""Posing problems: exact solutions satisfy the residuals, sampling, losses, bad input."""

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab import ConfigError, pig
from jaxlab.pig import HelmholtzConfig
from jaxlab.pig._training import batches, host_data


def _exact_jet(problem, x):
    u = problem.exact
    return pig.Jet(u(x), jax.grad(u)(x), jnp.diag(jax.hessian(u)(x)), problem.box.names)


@eqx.filter_jit
def exact_residuals(problem, interior, condition_points):
    """The PDE residual of the exact solution at `interior` points (and a scale for it),
    and each condition's residual at its points, as one program."""
    exact_jets = jax.vmap(lambda p: _exact_jet(problem, p))
    jets = exact_jets(interior)
    residual = jax.vmap(problem.residual)(interior, jets)
    scale = jnp.max(jnp.abs(jets.diag)) + jnp.max(jnp.abs(jets.grad)) + 1
    conditions = [
        jax.vmap(cond.residual)(pts, exact_jets(pts))
        for cond, pts in zip(problem.conditions, condition_points)
    ]
    return residual, scale, conditions


@pytest.mark.parametrize(
    "problem",
    [pig.helmholtz(), pig.helmholtz(10.0, 10.0), pig.klein_gordon(), pig.flow_mixing()],
    ids=lambda p: p.name,
)
def test_exact_solutions_satisfy_their_residuals(problem):
    x = problem.box.uniform(jax.random.key(0), 256)
    batch = pig.sample(problem, jax.random.key(1), 64)
    residual, scale, conditions = exact_residuals(problem, x, batch["conditions"])
    assert jnp.max(jnp.abs(residual)) < 1e-5 * scale
    for r in conditions:
        assert jnp.max(jnp.abs(r)) < 1e-5


def test_sample_places_points_on_faces_and_is_deterministic():
    problem = pig.klein_gordon(points=10)
    batch = pig.sample(problem, jax.random.key(3), 50)
    assert problem.box.contains(batch["interior"]) and batch["interior"].shape == (50, 3)
    ic, bc = batch["conditions"]
    assert ic.shape == (10, 3) and np.all(ic[:, 0] == 0)
    assert bc.shape == (40, 3)  # 4 spatial faces x 10
    on_face = (np.abs(np.abs(bc[:, 1:]) - 1) < 1e-7).any(axis=1)
    assert on_face.all()
    again = pig.sample(problem, jax.random.key(3), 50)
    np.testing.assert_array_equal(batch["interior"], again["interior"])


def test_resample_every_holds_points_for_whole_blocks():
    cfg = dataclasses.replace(HelmholtzConfig.quick(), collocation=16, resample_every=3)
    data = jax.device_put(host_data(cfg))
    sample = jax.jit(lambda k, t, d: batches(cfg, d)(k, t))
    points = [sample(jax.random.key(step), step, data)["interior"] for step in range(7)]
    for step in (1, 2):  # one block: the same points whatever the step's key
        np.testing.assert_array_equal(points[step], points[0])
    np.testing.assert_array_equal(points[4], points[3])
    assert not np.allclose(points[3], points[0]) and not np.allclose(points[6], points[3])
    # Built in one trace and in another: the same block, the same points.
    again = jax.jit(lambda t, d: batches(cfg, d)(jax.random.key(1), t)["interior"])(5, data)
    np.testing.assert_array_equal(points[4], again)
    every_step = batches(dataclasses.replace(cfg, resample_every=1), data)
    first, second = every_step(jax.random.key(0)), every_step(jax.random.key(1))
    assert not np.allclose(first["interior"], second["interior"])
    # The monitor set rides along in every batch, as drawn on the host.
    np.testing.assert_array_equal(first["monitor"][0], host_data(cfg)["monitor"][0])


def test_periodic_condition_compares_matching_faces():
    problem = pig.allen_cahn(points=8)
    batch = pig.sample(problem, jax.random.key(0), 16)
    periodic = pig.Problem(problem.box, problem.residual, (problem.conditions[1],))
    lower = batch["conditions"][1]
    assert np.all(lower[:, 1] == -1.0)
    model = pig.PINN(problem.box.lower, problem.box.upper, key=jax.random.key(0))
    sub = {"interior": batch["interior"], "conditions": (lower,)}
    upper = lower.at[:, 1].set(1.0)
    expected = (
        np.mean(
            (pig.values(model, lower) - pig.values(model, upper)) ** 2
            + (pig.jets(model, lower).grad[:, 1] - pig.jets(model, upper).grad[:, 1]) ** 2
        )
        / 2
    )
    np.testing.assert_allclose(
        pig.loss_terms(periodic, model, sub)["condition0"], expected, rtol=1e-5
    )


def test_user_problem_poisson_in_a_few_lines():
    # -(u_xx + u_yy) = 2 pi^2 sin(pi x) sin(pi y) on [0, 1]^2, u = 0 on the boundary.
    def exact(p):
        return jnp.sin(jnp.pi * p[0]) * jnp.sin(jnp.pi * p[1])

    problem = pig.Problem(
        pig.Box("xy", (0, 0), (1, 1)),
        lambda x, u: u["xx"] + u["yy"] + 2 * jnp.pi**2 * exact(x),
        (pig.dirichlet(lambda x: 0.0, points=32),),
        exact=exact,
    )
    settings = pig.Settings(
        model="pig", steps=40, n_gaussians=30, sigma0=0.3, collocation=128, test_grid=20,
        monitor_points=64, residual_weight=0.01, time_steps=0,
    )  # fmt: skip
    first = pig.train(problem, settings, seeds=2)
    second = pig.train(problem, settings, seeds=2)
    assert second.fits["pig"].compile_seconds == 0  # compiled once
    np.testing.assert_array_equal(first.final_rel_l2["pig"], second.final_rel_l2["pig"])
    losses = np.asarray(first.fits["pig"].losses)
    assert np.all(losses[:, -1] < 0.5 * losses[:, 0])
    assert first.final_rel_l2["pig"].shape == (2,)
    assert first.final_rel_l2["pig"][0] != first.final_rel_l2["pig"][1]  # seeds differ


def test_train_takes_the_core_keywords_and_evaluates_every_seed(tmp_path):
    """`pig.train` forwards `checkpoint_dir` and `chunk_size` to `jaxlab.fit` (a run
    saved per model resumes to the same models), its vmapped test errors are each seed's
    own, and an unknown keyword is a one-line error listing the allowed ones."""
    problem = pig.Problem(
        pig.Box("x", (0,), (1,)),
        lambda x, u: u["xx"] + jnp.pi**2 * jnp.sin(jnp.pi * x[0]),
        (pig.dirichlet(lambda x: 0.0, points=8),),
        exact=lambda p: jnp.sin(jnp.pi * p[0]),
    )
    settings = pig.Settings(
        model="pig", steps=20, n_gaussians=10, sigma0=0.3, collocation=64, test_grid=32,
        monitor_points=16, residual_weight=0.01, time_steps=0,
    )  # fmt: skip
    first = pig.train(problem, settings, seeds=3, checkpoint_dir=tmp_path, chunk_size=10)
    assert (tmp_path / "pig").is_dir()
    again = pig.train(problem, settings, seeds=3, checkpoint_dir=tmp_path, chunk_size=10)
    np.testing.assert_array_equal(first.final_rel_l2["pig"], again.final_rel_l2["pig"])
    points, values, _ = problem.test_set(settings.test_grid)
    for seed in range(3):
        alone = pig.rel_l2(first.model("pig", seed), jnp.asarray(points), jnp.asarray(values))
        np.testing.assert_allclose(first.final_rel_l2["pig"][seed], alone, rtol=1e-5)
    with pytest.raises(ConfigError, match="^train: .*checkpoint_dir.*, got 'stepz'$"):
        pig.train(problem, settings, stepz=10)


def test_bad_problem_input():
    with pytest.raises(ConfigError, match="^names: "):
        pig.Box("xx", (0, 0), (1, 1))
    with pytest.raises(ConfigError, match="^upper: "):
        pig.Box("xy", (0, 0), (1, -1))
    with pytest.raises(ConfigError, match="^time: "):
        pig.Box("xy", (0, 0), (1, 1), time="t")
    box = pig.Box("xy", (0, 0), (1, 1))
    with pytest.raises(ConfigError, match="^on: "):
        pig.Problem(box, lambda x, u: u.value, (pig.dirichlet(lambda x: 0.0, on=("z",)),))
    with pytest.raises(ConfigError, match="^boundary.weight: "):
        pig.dirichlet(lambda x: 0.0, weight=-1.0)
    with pytest.raises(ConfigError, match="^boundary.points: "):
        pig.dirichlet(lambda x: 0.0, points=0)
    with pytest.raises(ConfigError, match="^pde: "):
        pig.problem("burgers")
    outside = pig.Problem(
        box,
        lambda x, u: u.value,
        reference=lambda: ((np.linspace(0, 2, 3), np.linspace(0, 1, 3)), np.zeros((3, 3))),
    )
    with pytest.raises(ConfigError, match="^reference: "):
        outside.test_set(10)


@pytest.mark.parametrize(
    "field, value",
    [("model", "siren"), ("n_gaussians", 0), ("sigma0", -0.1), ("residual_weight", -1.0),
     ("optimizer", "sgd"), ("steps", 0), ("resample_every", 0)],
)  # fmt: skip
def test_bad_settings_name_the_field(field, value):
    with pytest.raises(ConfigError, match=f"^{field}: "):
        dataclasses.replace(HelmholtzConfig(), **{field: value})
