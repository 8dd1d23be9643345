import sys

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import optimistix as optx
import pytest

import jaxlab
from jaxlab import ConfigError
from jaxlab.nde import DEQDigitsConfig
from jaxlab.nde._deq import DEQ, ContractiveCell, DEQClassifier
from jaxlab.nde._deq_digits import _digits


EXPERIMENT = jaxlab.get_experiment("nde.deq_digits")

SIZE = 6


def cell_and_input():
    """A contractive cell with a random bias, and an input, in the current precision."""
    cell = ContractiveCell(SIZE, contraction=0.8, key=jax.random.key(0))
    bias = 0.1 * jax.random.normal(jax.random.key(1), (SIZE,))
    return eqx.tree_at(lambda c: c.bias, cell, bias), jax.random.normal(jax.random.key(2), (SIZE,))


CELL, X = cell_and_input()  # float32
TIGHT = dict(rtol=1e-6, atol=1e-7, max_steps=500)  # float32 round-off is ~6e-8
TIGHT64 = dict(rtol=1e-13, atol=1e-14, max_steps=500)


class LinearCell(eqx.Module):
    matrix: jax.Array

    def __call__(self, z, x):
        return self.matrix @ z + x


@pytest.mark.parametrize("solver", ["fixed_point", "newton", "chord"])
def test_fixed_point_residual_is_small_and_solvers_agree(solver):
    z, steps = DEQ(CELL, SIZE, solver=solver, **TIGHT).solve(X)
    np.testing.assert_allclose(CELL(z, X), z, atol=1e-6)
    reference = DEQ(CELL, SIZE, **TIGHT)(X)
    np.testing.assert_allclose(z, reference, atol=1e-6)
    assert 1 <= steps < 500
    if solver == "newton":  # quadratic convergence: a handful of steps
        assert steps <= 8


def test_linear_cell_matches_the_exact_fixed_point_and_its_gradient():
    # z* = (I - A)^{-1} x, so d(c . z*)/dA = (I - A)^{-T} c z*^T. float32: ~1e-6.
    a = 0.4 * jax.random.orthogonal(jax.random.key(3), SIZE)
    c = jnp.arange(1.0, SIZE + 1)
    exact = jnp.linalg.solve(jnp.eye(SIZE) - a, X)
    np.testing.assert_allclose(DEQ(LinearCell(a), SIZE, **TIGHT)(X), exact, atol=1e-5)
    grad = jax.grad(lambda m: c @ DEQ(LinearCell(m), SIZE, **TIGHT)(X))(a)
    expected = jnp.outer(jnp.linalg.solve((jnp.eye(SIZE) - a).T, c), exact)
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-5)


def _loss(cell, x, adjoint, solver="fixed_point"):
    z = DEQ(cell, SIZE, solver=solver, adjoint=adjoint, **TIGHT64)(x)
    return jnp.sum(jnp.sin(z) * jnp.arange(SIZE))


def test_implicit_gradient_matches_unrolled_differentiation(x64):
    # Backpropagating through the fixed-point iterations of a converged solve gives the
    # gradient of the fixed point; the implicit one (from either solver) must equal it.
    # float64, to compare to 1e-9.
    cell, x = cell_and_input()

    def grad(adjoint, solver="fixed_point"):
        return eqx.filter_grad(lambda p: _loss(*p, adjoint, solver))((cell, x))

    unrolled = grad("unrolled")
    for solver in ("fixed_point", "newton"):
        implicit = grad("implicit", solver)
        for a, b in zip(jax.tree.leaves(implicit), jax.tree.leaves(unrolled)):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11, err_msg=solver)


def test_implicit_gradient_matches_finite_differences(x64):
    # float64: a central difference with h = 1e-6 is accurate to ~1e-10.
    cell, x = cell_and_input()
    grad = eqx.filter_grad(_loss)(cell, x, "implicit")
    direction = jax.random.normal(jax.random.key(4), (SIZE, SIZE))
    h = 1e-6

    def shifted(t):
        return _loss(
            eqx.tree_at(lambda c: c.weight, cell, cell.weight + t * direction), x, "implicit"
        )

    fd = (shifted(h) - shifted(-h)) / (2 * h)
    np.testing.assert_allclose(jnp.vdot(grad.weight, direction), fd, rtol=1e-6)


def test_contractive_cell_is_a_contraction_after_any_update():
    cell = eqx.tree_at(lambda c: c.weight, CELL, 50.0 * CELL.weight)  # far outside the ball
    z1, z2 = jax.random.normal(jax.random.key(5), (2, SIZE))
    ratio = jnp.linalg.norm(cell(z1, X) - cell(z2, X)) / jnp.linalg.norm(z1 - z2)
    assert ratio <= 0.8
    _, steps = DEQ(cell, SIZE, rtol=1e-6, atol=1e-6).solve(X)
    assert steps <= np.log(1e-6) / np.log(0.8) + 2  # linear convergence at rate <= 0.8


solve_one = eqx.filter_jit(lambda deq, x: deq.solve(x))
solve_batch = eqx.filter_jit(lambda deq, xs: jax.vmap(deq.solve)(xs))


def test_jit_vmap_grad_and_per_example_iterations():
    deq = DEQ(CELL, SIZE, **TIGHT)
    xs = jnp.stack([jnp.zeros(SIZE) - CELL.bias, X, 3 * X])  # the first has z* = 0 = z0
    zs, steps = solve_batch(deq, xs)
    for x, z, n in zip(xs, zs, steps):
        z1, n1 = solve_one(deq, x)
        np.testing.assert_allclose(z, z1, atol=1e-6)
        # The batched and the single program round the residual differently, which can
        # move the stopping test (residual <= tolerance) by one iteration.
        assert abs(int(n) - int(n1)) <= 1
    assert steps[0] == 1 and steps[1] > 1  # each example counts its own iterations
    grads = eqx.filter_jit(eqx.filter_grad(lambda d: jnp.sum(jax.vmap(d)(xs) ** 2)))(deq)
    assert np.all(np.isfinite(grads.cell.weight)) and np.any(grads.cell.weight != 0)
    # the tolerances are settings: no gradient
    assert grads.rtol.value == 0 and grads.atol.value == 0


def test_no_recompile_for_new_tolerances_or_a_second_training_step():
    traces = []

    @eqx.filter_jit
    def solve(deq, x):
        traces.append(1)
        return deq(x)

    solve(DEQ(CELL, SIZE, rtol=1e-6, atol=1e-8), X)
    solve(DEQ(CELL, SIZE, rtol=1e-9, atol=1e-11), X)  # new tolerance values only
    assert len(traces) == 1

    model = DEQClassifier(4, 4, 3, rtol=1e-4, atol=1e-6, key=jax.random.key(6))
    x = jax.random.uniform(jax.random.key(7), (5, 4))
    y = jnp.arange(5) % 3
    optimizer = optax.adam(1e-2)

    params, settings, layout = jaxlab.split_model(model)

    @eqx.filter_jit
    def step(params, opt_state):
        traces.append(2)

        def loss(p):
            logits, _ = jax.vmap(layout.merge(p, settings))(x)
            return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, y))

        value, grads = jax.value_and_grad(loss)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    opt_state = optimizer.init(params)
    params, opt_state, first = step(params, opt_state)
    params, opt_state, second = step(params, opt_state)
    assert traces.count(2) == 1 and second < first


def test_solver_objects_are_accepted_and_get_the_deq_tolerances(as_user):
    import lineax

    solver = optx.Newton(rtol=1.0, atol=1.0, linear_solver=lineax.LU())  # loose: replaced
    z, steps = DEQ(CELL, SIZE, solver=solver, **TIGHT).solve(X)
    np.testing.assert_allclose(z, DEQ(CELL, SIZE, **TIGHT)(X), atol=1e-6)
    assert 1 < steps <= 8
    with pytest.raises(ConfigError, match="^solver: an optimistix solver"):
        DEQ(CELL, SIZE, solver=optx.ImplicitAdjoint())  # an adjoint, not a solver


def test_max_steps_gives_nan_instead_of_raising():
    z, steps = DEQ(CELL, SIZE, rtol=1e-7, atol=1e-8, max_steps=2).solve(X)
    assert np.all(np.isnan(z)) and steps == 2


@pytest.mark.parametrize(
    "make, field",
    [
        (lambda: DEQ(CELL, SIZE, solver="anderson"), "solver"),
        (lambda: DEQ(CELL, SIZE, adjoint="magic"), "adjoint"),
        (lambda: DEQ(CELL, SIZE, rtol=-1e-3), "rtol"),
        (lambda: DEQ(CELL, SIZE, atol=0.0), "atol"),
        (lambda: DEQ(CELL, SIZE, max_steps=0), "max_steps"),
        (lambda: DEQ(CELL, 0), "size"),
        (lambda: DEQ(CELL, SIZE)(X, jnp.zeros(SIZE + 1)), "z0"),
        (lambda: ContractiveCell(SIZE, contraction=1.0, key=jax.random.key(0)), "contraction"),
        (lambda: DEQClassifier(64, 8, 10, key=jax.random.key(0))(jnp.zeros(63)), "x"),
    ],
)
def test_bad_input_names_the_argument(make, field):
    with pytest.raises(ConfigError, match=f"^{field}:"):
        make()


@pytest.mark.parametrize(
    "field, value",
    [
        ("rtol", -1e-4),
        ("atol", 0.0),
        ("solver", "broyden"),
        ("hidden", 0),
        ("batch_size", 5000),
        ("test_fraction", 1.0),
        ("test_fraction", 0.001),
        ("contraction", 1.5),
        ("validation_fraction", 0.0),
        ("validation_fraction", 0.999),
        ("test_fraction", float("inf")),  # found by the CLI fuzz test: was an OverflowError
        ("validation_fraction", float("nan")),
    ],
)
def test_config_rejects_bad_values(field, value):
    with pytest.raises(ConfigError, match=f"^{field}:"):
        DEQDigitsConfig(**{field: value})


def test_missing_scikit_learn_is_a_one_line_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ConfigError, match=r'pip install "jaxlab\[data\]"'):
        _digits.__wrapped__(0.25, 0.2, 0)


def test_split_is_stratified_disjoint_and_fixed_by_the_data_seed():
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = _digits(0.25, 0.2, 0)
    assert x_train.shape[1] == 64 and len(x_train) + len(x_val) + len(x_test) == 1797
    assert 0 <= x_train.min() and x_train.max() <= 1
    share = np.bincount(y_test, minlength=10) / np.bincount(y_train, minlength=10)
    np.testing.assert_allclose(share, 1 / (0.75 * 0.8 / 0.25), atol=0.02)
    share = np.bincount(y_val, minlength=10) / np.bincount(y_train, minlength=10)
    np.testing.assert_allclose(share, 0.25, atol=0.02)
    np.testing.assert_array_equal(_digits.__wrapped__(0.25, 0.2, 0)[1][1], y_val)
    # Disjoint: no image is in two sets (the data set has no duplicate images).
    from sklearn.datasets import load_digits

    x, _ = load_digits(return_X_y=True)
    assert len(np.unique(x, axis=0)) == len(x)
    images = [{row.tobytes() for row in part} for part in (x_train, x_val, x_test)]
    assert sum(map(len, images)) == 1797 == len(set.union(*images))


def test_tiny_deq_digits_run_writes_every_key_and_figure(tmp_path):
    """The package's tiny end-to-end run (3 steps): a complete results folder."""
    config = DEQDigitsConfig(hidden=8, steps=3, batch_size=32)
    metrics, out_dir = jaxlab.run_experiment(
        EXPERIMENT, config, seeds=2, out_dir=tmp_path / "run", progress=False
    )
    summary = metrics["summary"]
    assert set(summary) == {
        "val_accuracy", "val_loss", "test_accuracy", "test_loss", "mean_fixed_point_iterations"
    }  # fmt: skip
    for entry in summary.values():
        assert len(entry["per_seed"]) == 2 and entry["diverged"] == []
    assert 1 <= summary["mean_fixed_point_iterations"]["max"] <= config.max_steps
    assert np.load(out_dir / "history.npz")["train_loss"].shape == (2, 3)
    for name in ("confusion_matrix.png", "training.png"):
        assert (out_dir / "figures" / name).is_file()


@pytest.mark.claims
def test_deq_digits_quick_run(tmp_path):
    jaxlab.register(EXPERIMENT)
    metrics, out_dir = jaxlab.run_experiment(
        EXPERIMENT, DEQDigitsConfig.quick(), seeds=2, out_dir=tmp_path / "run", progress=False
    )
    summary = metrics["summary"]
    assert set(summary) == {
        "val_accuracy", "val_loss", "test_accuracy", "test_loss", "mean_fixed_point_iterations"
    }  # fmt: skip
    assert summary["val_accuracy"]["min"] > 0.9
    assert summary["test_accuracy"]["diverged"] == []
    assert summary["test_accuracy"]["min"] > 0.9
    assert 1 < summary["mean_fixed_point_iterations"]["mean"] < DEQDigitsConfig.quick().max_steps
    history = np.load(out_dir / "history.npz")
    assert history["train_loss"].shape == (2, DEQDigitsConfig.quick().steps)
    assert np.all(
        history["train_loss"][:, -20:].mean(1) < 0.2 * history["train_loss"][:, :20].mean(1)
    )
    for name in ("confusion_matrix.png", "training.png"):
        assert (out_dir / "figures" / name).is_file()
