import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.linalg

import jaxlab
from jaxlab import ConfigError, nde


class LinearField(eqx.Module):
    matrix: jax.Array

    def __call__(self, t, y, args):
        return jnp.asarray(self.matrix) @ y


# numpy (float64) constants: a test under `jax.enable_x64` gets them in float64.
MATRIX = np.array([[-0.1, 1.0], [-1.0, -0.1]])
TS = np.linspace(0.0, 5.0, 11)
Y0 = np.array([1.0, 0.0])


@pytest.mark.parametrize("solver", ["tsit5", "dopri8", "reversible_heun"])
def test_linear_ode_matches_matrix_exponential(solver):
    # float32: at rtol 1e-6 the error of the high-order solvers is ~1e-6 (round-off).
    second_order = solver == "reversible_heun"
    rtol = 1e-5 if second_order else 1e-6
    model = nde.NeuralODE(LinearField(MATRIX), solver=solver, rtol=rtol, atol=rtol * 1e-2)
    exact = np.stack([scipy.linalg.expm(MATRIX * t) @ Y0 for t in TS])
    tolerance = 1e-4 if second_order else 1e-5
    np.testing.assert_allclose(model(TS, Y0), exact, atol=tolerance)


def test_constant_step_converges_at_the_solver_order():
    exact = scipy.linalg.expm(MATRIX * 5.0) @ Y0

    def error(dt):
        model = nde.NeuralODE(LinearField(MATRIX), solver="heun", rtol=None, atol=None, dt0=dt)
        return np.abs(model(TS, Y0)[-1] - exact).max()

    order = np.log2(error(0.02) / error(0.01))
    assert 1.8 < order < 2.2  # Heun's method is second order


def test_adjoints_agree_with_finite_differences(x64):
    # float64: a central difference with h = 1e-6 is accurate to ~1e-10.
    matrix = jnp.asarray(MATRIX)

    def loss(matrix, adjoint):
        model = nde.NeuralODE(LinearField(matrix), adjoint=adjoint, rtol=1e-9, atol=1e-11)
        return jnp.sum(model(TS, Y0) ** 2)

    grads = {a: jax.grad(loss)(matrix, a) for a in ("recursive_checkpoint", "backsolve", "direct")}
    direction = jnp.array([[0.3, -0.2], [0.5, 0.1]])
    h = 1e-6
    fd = (loss(matrix + h * direction, "direct") - loss(matrix - h * direction, "direct")) / (2 * h)
    for name, grad in grads.items():
        np.testing.assert_allclose(jnp.vdot(grad, direction), fd, rtol=1e-5, err_msg=name)


def test_jit_vmap_and_no_recompile_for_new_tolerances():
    traces = []

    @eqx.filter_jit
    def solve(model, y0):
        traces.append(1)
        return model(TS, y0)

    model = nde.NeuralODE(LinearField(MATRIX), rtol=1e-6, atol=1e-8)
    batch = jax.vmap(lambda y0: solve(model, y0))(jnp.eye(2))
    np.testing.assert_allclose(batch[0], solve(model, jnp.array([1.0, 0.0])), atol=1e-6)
    assert traces
    traces.clear()
    solve(model, Y0)  # same shapes as the vmapped trace
    solve(nde.NeuralODE(LinearField(2 * MATRIX), rtol=1e-5, atol=1e-7), Y0)  # new tolerances
    assert traces == []


def test_max_steps_gives_nan_instead_of_raising():
    model = nde.NeuralODE(LinearField(MATRIX), rtol=1e-12, atol=1e-14, max_steps=3)
    assert np.all(np.isnan(model(TS, Y0)))


@pytest.mark.parametrize(
    "make, field",
    [
        (lambda: nde.NeuralODE(LinearField(MATRIX), solver="rk99"), "solver"),
        (lambda: nde.NeuralODE(LinearField(MATRIX), adjoint="magic"), "adjoint"),
        (lambda: nde.NeuralODE(LinearField(MATRIX), rtol=-1e-3), "rtol"),
        (lambda: nde.NeuralODE(LinearField(MATRIX), rtol=None, atol=None), "dt0"),
        (lambda: nde.NeuralODE(LinearField(MATRIX))(jnp.array([0.0, 1.0, 1.0]), Y0), "ts"),
    ],
)
def test_bad_input_names_the_argument(make, field):
    with pytest.raises(ConfigError, match=field):
        make()


def damped_oscillator(t, y, params):
    """Damped pendulum: x'' = -omega^2 sin(x) - gamma x'."""
    omega, gamma = params
    return jnp.array([y[1], -(omega**2) * jnp.sin(y[0]) - gamma * y[1]])


def test_hybrid_model_recovers_physical_parameters_over_seeds():
    truth = jnp.array([1.5, 0.3])
    ts = jnp.linspace(0.0, 6.0, 31)
    y0s = jnp.array([[1.0, 0.0], [0.5, 0.5], [-0.8, 0.2]])
    data_model = nde.NeuralODE(
        nde.HybridField(damped_oscillator, truth, None), rtol=1e-8, atol=1e-10
    )
    data = {"y0": y0s, "ys": jax.vmap(lambda y0: data_model(ts, y0))(y0s)}

    def init_model(key):
        guess = truth * (1 + 0.3 * jax.random.uniform(key, (2,), minval=-1, maxval=1))
        return nde.NeuralODE(nde.HybridField(damped_oscillator, guess, None), rtol=1e-6, atol=1e-8)

    def loss(model, batch, key):
        predicted = jax.vmap(lambda y0: model(ts, y0))(batch["y0"])
        return jnp.mean((predicted - batch["ys"]) ** 2), None

    out = jaxlab.fit(loss, init_model, optax.adam(0.02), data, steps=300, seeds=2)
    assert not np.any(out.diverged)
    for seed in range(2):
        recovered = out.model(seed).vector_field.params
        np.testing.assert_allclose(recovered, truth, rtol=0.01)


def test_neural_ode_learns_a_linear_vector_field():
    """Fitted to trajectories of y' = A y, an MLP field learns A y where the data are."""
    matrix = jnp.asarray(MATRIX)
    ts = jnp.linspace(0.0, 3.0, 16)
    y0s = jax.random.uniform(jax.random.key(1), (8, 2), minval=-1.0, maxval=1.0)
    ys = jax.vmap(lambda y: nde.NeuralODE(LinearField(matrix), rtol=1e-6, atol=1e-8)(ts, y))(y0s)

    def init(key):
        return nde.NeuralODE(nde.MLPField(size=2, width=16, depth=2, key=key))

    def loss(model, batch, key):
        y0, ys = batch
        return jnp.mean((jax.vmap(lambda y: model(ts, y))(y0) - ys) ** 2), None

    out = jaxlab.fit(loss, init, optax.adam(1e-2), (y0s, ys), steps=300, seeds=2)
    assert not np.any(out.diverged)
    assert np.all(out.losses[:, -1] < 1e-3 * out.losses[:, 0])
    points = jax.random.uniform(jax.random.key(2), (100, 2), minval=-0.8, maxval=0.8)
    for seed in range(2):
        field = out.model(seed).vector_field
        learned = jax.vmap(lambda y: field(0.0, y, None))(points)
        error = jnp.linalg.norm(learned - points @ matrix.T) / jnp.linalg.norm(points @ matrix.T)
        assert error < 0.15, seed  # about 0.05 and 0.015 at 300 steps; 1 untrained


def test_mlp_field_is_a_pytree_with_time_input():
    field = nde.MLPField(size=2, width=8, depth=2, time=True, key=jax.random.key(0))
    model = nde.NeuralODE(field)
    ys = model(TS, Y0)
    assert ys.shape == (11, 2) and np.all(np.isfinite(ys))
    np.testing.assert_allclose(ys[0], Y0)
    assert field.mlp.in_size == 3 and isinstance(model.solver, diffrax.Tsit5)
    with pytest.raises(TypeError):
        nde.MLPField(2, 8, 2, key=jax.random.key(0))  # sizes are keyword-only


def test_a_seed_that_hits_max_steps_is_flagged_not_fatal():
    """Seeds draw a decay rate; the stiff one exhausts max_steps and only it is flagged."""

    def run(config, key):
        rate = jnp.where(jax.random.bernoulli(key), 1e5, 1.0)
        model = nde.NeuralODE(lambda t, y, args: -rate * y, rtol=1e-8, atol=1e-10, max_steps=64)
        return {"y_end": model(TS, Y0)[-1, 0]}

    keys = jnp.stack([jax.random.key(i) for i in range(8)])
    stiff = np.array([bool(jax.random.bernoulli(k)) for k in keys])
    assert stiff.any() and not stiff.all()
    result = jaxlab.sweep(run, None, keys)
    summary = jaxlab.summarize(result.results)["y_end"]
    assert summary["diverged"] == list(np.flatnonzero(stiff))
    np.testing.assert_allclose(summary["mean"], np.exp(-5.0), rtol=1e-6)
