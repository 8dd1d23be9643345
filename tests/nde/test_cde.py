import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab import ConfigError, split_model
from jaxlab.nde._cde import NeuralCDE, control_path, fill_forward, pad_series


NAN = np.nan
# numpy (float64) constants: a test under `jax.enable_x64` gets them in float64.
TIMES = np.array([0.0, 0.4, 1.0, 1.7, 2.0, 3.1])
VALUES = np.array([[0.5, 1.0], [NAN, 2.0], [1.5, NAN], [NAN, NAN], [0.2, -1.0], [0.3, 0.0]])
KINDS = ("hermite", "linear", "rectilinear")


def model(channels=3, key=0, **kwargs):
    kwargs = {"rtol": 1e-6, "atol": 1e-8, **kwargs}
    return NeuralCDE(channels, 4, 2, width=16, key=jax.random.key(key), **kwargs)


def test_fill_forward_is_causal_with_zero_before_the_first_observation():
    values = jnp.array([[NAN, 1.0, NAN], [2.0, NAN, NAN], [NAN, NAN, NAN], [3.0, 4.0, NAN]])
    expected = [[0.0, 1.0, 0.0], [2.0, 1.0, 0.0], [2.0, 1.0, 0.0], [3.0, 4.0, 0.0]]
    np.testing.assert_array_equal(fill_forward(values), expected)
    for i in range(4):  # row i does not see rows after i
        np.testing.assert_array_equal(fill_forward(values[: i + 1]), expected[: i + 1])


@pytest.mark.parametrize("kind", KINDS)
def test_path_up_to_t_depends_only_on_observations_up_to_t(kind):
    """Causality: changing the observations after t_k (values and times), or dropping
    them (NaN padding), leaves X on [t_0, t_k] unchanged ([0, 2k] for the rectilinear
    path, parameterised by knot index). Channel 1 is first observed after t_k, so a path
    that back-filled it would differ."""
    rng = np.random.default_rng(0)
    k, n = 3, 8
    times = np.sort(rng.uniform(0.0, 5.0, n))
    values = rng.normal(size=(n, 2))
    values[: k + 1, 1] = NAN
    values[k + 2, 0] = NAN
    changed_t, changed_v = times.copy(), rng.normal(size=(n, 2))
    changed_t[k + 1 :] = times[k] + np.sort(rng.uniform(0.01, 1.0, n - k - 1))
    changed_v[: k + 1] = values[: k + 1]
    dropped_t, dropped_v = times.copy(), values.copy()
    dropped_t[k + 1 :], dropped_v[k + 1 :] = NAN, NAN
    end = 2.0 * k if kind == "rectilinear" else times[k]
    start = 0.0 if kind == "rectilinear" else times[0]
    s = np.linspace(start, end, 201)

    def path(t, v):
        return jax.vmap(control_path(t, v, interpolation=kind, intensity=True).evaluate)(s)

    reference = path(times, values)
    assert np.all(reference[:, 2] == 0.0)  # channel 1 unobserved up to t_k: the default
    for t, v in ((changed_t, changed_v), (dropped_t, dropped_v)):
        np.testing.assert_allclose(path(t, v), reference, rtol=0, atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_path_passes_through_the_filled_observations_with_time_as_a_channel(kind):
    path = control_path(TIMES, VALUES, interpolation=kind, intensity=True)
    knots = jnp.arange(len(TIMES)) * 2.0 if kind == "rectilinear" else TIMES
    at_knots = jax.vmap(path.evaluate)(knots)
    filled = fill_forward(VALUES)
    counts = jnp.cumsum(~jnp.isnan(VALUES), axis=0)
    expected = jnp.concatenate([TIMES[:, None], filled, counts], 1)
    np.testing.assert_allclose(at_knots, expected, atol=1e-5)  # float32 cubic: ~1e-6
    assert path.channels == 5
    assert path.t1 == jnp.asarray(knots)[-1]


def test_linear_and_rectilinear_paths_between_knots():
    linear = control_path(TIMES, VALUES, interpolation="linear")
    middle = 0.5 * (TIMES[0] + TIMES[1])
    np.testing.assert_allclose(linear.evaluate(middle), [middle, 0.5, 1.5], rtol=1e-6)
    rectilinear = control_path(TIMES, VALUES, interpolation="rectilinear")
    # First time advances with the data held, then the data move at a fixed time.
    np.testing.assert_allclose(rectilinear.evaluate(0.5), [0.2, 0.5, 1.0], rtol=1e-6)
    np.testing.assert_allclose(rectilinear.evaluate(1.5), [0.4, 0.5, 1.5], rtol=1e-6)


def test_hermite_derivative_at_a_knot_is_the_backward_difference():
    path = control_path(TIMES, np.nan_to_num(VALUES))
    derivative = path.interpolation.derivative(TIMES[2], left=True)  # the piece before it
    x = np.concatenate([TIMES[:, None], np.nan_to_num(VALUES)], 1)
    np.testing.assert_allclose(derivative, (x[2] - x[1]) / (TIMES[2] - TIMES[1]), rtol=1e-5)


def test_constant_vector_field_gives_the_exact_solution():
    """With f(z) = M constant, z(t1) = z0 + M (X(t1) - X(t0)) for any path."""
    cde = model()
    matrix = 0.3 * jax.random.normal(jax.random.key(1), (4, 3))
    last = cde.vector_field.mlp.layers[-1]
    cde = eqx.tree_at(
        lambda m: (m.vector_field.mlp.layers[-1].weight, m.vector_field.mlp.layers[-1].bias),
        cde,
        (jnp.zeros_like(last.weight), jnp.arctanh(matrix.ravel())),
    )
    for kind in KINDS:
        path = control_path(TIMES, VALUES, interpolation=kind)
        z0 = cde.initial(path.evaluate(path.t0))
        expected = z0 + matrix @ (path.evaluate(path.t1) - path.evaluate(path.t0))
        # float32 at rtol 1e-6: ~1e-6 on linear paths; Hermite paths, whose second
        # derivative jumps at the knots, ~3e-5.
        rtol = 1e-4 if kind == "hermite" else 1e-5
        np.testing.assert_allclose(cde.hidden_state(path), expected, rtol=rtol, err_msg=kind)


@pytest.mark.parametrize("kind", KINDS)
def test_nan_padding_does_not_change_the_output(kind):
    cde = model()
    padded_t = jnp.concatenate([TIMES, jnp.full(4, NAN)])
    padded_v = jnp.concatenate([VALUES, jnp.full((4, 2), NAN)])
    short = cde(control_path(TIMES, VALUES, interpolation=kind))
    padded = cde(control_path(padded_t, padded_v, interpolation=kind))
    np.testing.assert_allclose(padded, short, rtol=1e-6)


def test_missing_value_equals_its_fill_forward():
    cde = model()
    filled = VALUES.copy()
    filled[1, 0] = VALUES[0, 0]
    np.testing.assert_allclose(
        cde(control_path(TIMES, VALUES)), cde(control_path(TIMES, filled)), rtol=1e-6
    )


def test_vmap_over_series_with_different_times_and_lengths_matches_a_loop():
    rng = np.random.default_rng(0)
    lengths = [6, 3, 9]
    times = [np.sort(rng.uniform(0, 5, n)) for n in lengths]
    values = [rng.normal(size=(n, 2)) for n in lengths]
    values[2][[1, 4], 1] = NAN
    batch_t, batch_v = pad_series(times, values)
    assert batch_t.shape == (3, 9) and batch_v.shape == (3, 9, 2)
    cde = model(channels=5, rtol=1e-7, atol=1e-9)

    def predict(t, v):
        return cde(control_path(t, v, intensity=True))

    batched = jax.jit(jax.vmap(predict))(batch_t, batch_v)
    looped = [predict(jnp.asarray(t), jnp.asarray(v)) for t, v in zip(times, values)]
    # Batched and single solves round differently, so their adaptive steps differ: they
    # agree to the solver's accuracy (~3e-5 in float32 at rtol 1e-7), not bit for bit.
    np.testing.assert_allclose(batched, np.stack(looped), rtol=1e-4, atol=1e-4)


def test_gradient_matches_finite_differences(x64):
    # float64: a central difference with h = 1e-5 is accurate to ~1e-9.
    path = control_path(TIMES, VALUES, intensity=True)
    cde = model(channels=5, rtol=1e-12, atol=1e-14)
    params, settings, layout = split_model(cde)

    def loss(p):
        return jnp.sum(jnp.sin(layout.merge(p, settings)(path)))

    grads = jax.grad(loss)(params)
    direction = jax.tree.map(lambda x: jax.random.normal(jax.random.key(x.size), x.shape), grads)
    h = 1e-5
    shifted = lambda s: jax.tree.map(lambda p, d: p + s * h * d, params, direction)
    fd = (loss(shifted(1)) - loss(shifted(-1))) / (2 * h)
    exact = sum(jnp.vdot(g, d) for g, d in zip(jax.tree.leaves(grads), jax.tree.leaves(direction)))
    np.testing.assert_allclose(exact, fd, rtol=1e-5)


def test_training_step_compiles_once():
    traces = []
    paths = jax.vmap(control_path)(jnp.stack([TIMES, TIMES + 1]), jnp.stack([VALUES, -VALUES]))

    @eqx.filter_jit
    def step(cde):
        traces.append(1)
        return eqx.filter_grad(lambda m: jnp.sum(jax.vmap(m)(paths) ** 2))(cde)

    grads = step(model())
    assert all(jnp.all(jnp.isfinite(g)) for g in jax.tree.leaves(grads))
    step(model(key=1, rtol=1e-6, atol=1e-8))  # new weights and tolerances: same program
    assert len(traces) == 1


def test_constant_step_needs_dt0_and_matches_the_adaptive_solve():
    path = control_path(TIMES, VALUES)
    adaptive = model(rtol=1e-7, atol=1e-9)(path)
    constant = model(solver="heun", rtol=None, atol=None, dt0=0.01)
    assert isinstance(constant.solver, diffrax.Heun) and constant.rtol is None
    np.testing.assert_allclose(constant(path), adaptive, rtol=1e-3, atol=1e-4)
    with pytest.raises(ConfigError, match="^dt0: required"):
        model(rtol=None, atol=None)


def test_max_steps_gives_nan():
    cde = model(max_steps=2)
    assert np.all(np.isnan(cde(control_path(TIMES, VALUES))))


@pytest.mark.parametrize(
    "times, values, match",
    [
        (jnp.array([0.0, 2.0, 1.0]), jnp.ones((3, 1)), "times: observation times"),
        (jnp.array([0.0, NAN, 1.0]), jnp.ones((3, 1)), "times: NaN"),
        (jnp.array([0.0, 1.0]), jnp.full((2, 1), NAN), "values: a series with no observation"),
        (jnp.full(2, NAN), jnp.ones((2, 1)), "values: a series with no observation"),
        (jnp.array([0.0, 1.0]), jnp.ones((3, 1)), "values: shape"),
    ],
)
def test_bad_series_are_rejected(times, values, match, as_user):
    with pytest.raises(ConfigError, match=match):
        control_path(times, values)


def test_bad_arguments_are_rejected():
    with pytest.raises(ConfigError, match="interpolation: one of hermite"):
        control_path(TIMES, VALUES, interpolation="spline")
    with pytest.raises(ConfigError, match="path: 3 channels, but the model expects 5"):
        model(channels=5)(control_path(TIMES, VALUES))
    with pytest.raises(ConfigError, match="rtol: a positive number"):
        model(rtol=-1e-3)
    with pytest.raises(ConfigError, match="solver: one of"):
        model(solver="rk45")
    with pytest.raises(ConfigError, match="adjoint: one of"):
        model(adjoint="magic")
    with pytest.raises(ConfigError, match="values: series 0 has 2 rows for 3 times"):
        pad_series([np.zeros(3)], [np.zeros((2, 1))])


def test_gru_classifier_ignores_padding_and_reads_filled_values():
    """The GRU baseline: NaN padding changes neither its output nor its gradient (which
    stays finite), and a missing value reads as its fill-forward."""
    from jaxlab.nde import GRUClassifier

    gru = GRUClassifier(2, 5, 3, key=jax.random.key(0))
    padded_t = jnp.concatenate([TIMES, jnp.full(4, NAN)])
    padded_v = jnp.concatenate([VALUES, jnp.full((4, 2), NAN)])
    np.testing.assert_allclose(gru(padded_t, padded_v), gru(TIMES, VALUES), rtol=1e-6)
    np.testing.assert_allclose(gru(TIMES, VALUES), gru(TIMES, fill_forward(VALUES)), rtol=1e-6)

    def loss(model, t, v):
        return jnp.sum(model(t, v) ** 2)

    grads = [eqx.filter_grad(loss)(gru, *x) for x in ((TIMES, VALUES), (padded_t, padded_v))]
    for short, padded in zip(*map(jax.tree.leaves, grads)):
        assert np.all(np.isfinite(padded))
        np.testing.assert_allclose(padded, short, rtol=1e-5, atol=1e-7)
