import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

from jaxlab import nde
from jaxlab.nde._reversible import (
    ReversibleAdjoint,
    _forward,
    _terms,
    _time,
    _unstep,
    reversible_heun,
)


KEYS = jax.random.split(jax.random.key(0), 4)
TS = jnp.array([0.0, 0.3, 0.8, 1.0, 1.7])  # uneven output times
SUBSTEPS = 3
Y0 = jnp.array([0.5, -0.3, 0.2])
ARGS = jnp.array(1.3)


class ScaledField(eqx.Module):
    """`args * mlp(t, y)`: gradients flow to the MLP, to y and to args."""

    mlp: nde.MLPField

    def __call__(self, t, y, args):
        return args * self.mlp(t, y, None)


class Diffusion(eqx.Module):
    """A 3x2 diffusion matrix g(t, y), scaled by args."""

    mlp: eqx.nn.MLP

    def __call__(self, t, y, args):
        return 0.3 * args * jnp.tanh(self.mlp(y)).reshape(3, 2)


DRIFT = ScaledField(nde.MLPField(3, 8, 2, time=True, key=KEYS[0]))
DIFFUSION = Diffusion(eqx.nn.MLP(3, 6, 8, 1, key=KEYS[1]))


def brownian(key):
    return diffrax.VirtualBrownianTree(0.0, 1.7, 1e-6, (2,), key=key)


BROWNIAN = brownian(KEYS[2])


def grid(ts, substeps):
    """The step times: each interval of ts split into `substeps` equal steps."""
    i = jnp.repeat(jnp.arange(len(ts) - 1), substeps)
    k = jnp.tile(jnp.arange(substeps), len(ts) - 1)
    inner = jax.vmap(lambda i, k: _time(ts, substeps, i, k))(i, k)
    return jnp.concatenate([inner, ts[-1:]])


def diffrax_solve(drift, diffusion, y0, args, brownian):
    terms = diffrax.ODETerm(drift)
    if diffusion is not None:
        terms = diffrax.MultiTerm(terms, diffrax.ControlTerm(diffusion, brownian))
    return diffrax.diffeqsolve(
        terms,
        diffrax.ReversibleHeun(),
        TS[0],
        TS[-1],
        None,
        y0,
        args,
        saveat=diffrax.SaveAt(ts=TS),
        stepsize_controller=diffrax.StepTo(ts=grid(TS, SUBSTEPS)),
        adjoint=diffrax.RecursiveCheckpointAdjoint(),
        max_steps=64,
    ).ys


def reversible(drift, diffusion, y0, args, brownian):
    return reversible_heun(
        drift, y0, TS, args, diffusion=diffusion, brownian=brownian, substeps=SUBSTEPS
    )


def backprop(drift, diffusion, y0, args, brownian):
    """Reverse-mode autodiff through the same steps."""
    return _forward((y0, (drift, diffusion), args), TS, brownian, SUBSTEPS)[0]


def value_and_grad(solve, batched):
    """Compiled `((loss, ys), gradient w.r.t. inputs)` of `solve(*inputs, brownian(key))`,
    vmapped over keys if `batched`; every output time gets a cotangent."""
    weights = jnp.linspace(1.0, 2.0, len(TS))[:, None]

    def solution(inputs, key):
        if key is None:
            return solve(*inputs, None)
        if batched:
            return jax.vmap(lambda key: solve(*inputs, brownian(key)))(key)
        return solve(*inputs, brownian(key))

    @eqx.filter_jit
    @eqx.filter_value_and_grad(has_aux=True)
    def loss(inputs, key):
        ys = solution(inputs, key)
        return jnp.sum(weights * jnp.sin(ys)), ys

    return loss


@pytest.mark.parametrize("sde", [False, True])
def test_forward_and_gradients_match_backprop_and_diffrax(sde):
    """Forward: diffrax's ReversibleHeun on the same step grid. Gradients w.r.t. y0, args
    and both vector fields' parameters: backprop through the same steps, and diffrax's
    RecursiveCheckpointAdjoint (discretise-then-optimise). An SDE is solved for two
    Brownian motions: under vmap (batching the reversible adjoint's backward pass), and
    one after the other for diffrax (cheaper to compile)."""
    inputs = (DRIFT, DIFFUSION if sde else None, Y0, ARGS)
    keys = jnp.stack([KEYS[2], KEYS[3]]) if sde else None
    ys, grads = {}, {}
    for name, solve in (("reversible", reversible), ("backprop", backprop)):
        (_, ys[name]), grad = value_and_grad(solve, batched=True)(inputs, keys)
        grads[name] = jax.tree.leaves(grad)
    one_by_one = value_and_grad(diffrax_solve, batched=False)
    if sde:
        outs = [one_by_one(inputs, key) for key in keys]  # compiled once
        ys["diffrax"] = jnp.stack([y for (_, y), _ in outs])
        grads["diffrax"] = [sum(g) for g in zip(*(jax.tree.leaves(g) for _, g in outs))]
    else:
        (_, ys["diffrax"]), grad = one_by_one(inputs, None)
        grads["diffrax"] = jax.tree.leaves(grad)
    assert ys["reversible"].shape == ((2, len(TS), 3) if sde else (len(TS), 3))
    assert np.all(ys["reversible"][..., 0, :] == Y0)
    assert len(grads["reversible"]) == len(jax.tree.leaves(eqx.filter(inputs, eqx.is_array)))
    for name in ("backprop", "diffrax"):
        np.testing.assert_allclose(ys["reversible"], ys[name], rtol=0, atol=1e-12, err_msg=name)
        for got, expected in zip(grads["reversible"], grads[name]):
            assert np.any(expected != 0)
            np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-14, err_msg=name)


@pytest.mark.parametrize("sde", [False, True])
def test_running_backwards_reconstructs_the_initial_state(sde):
    fields = (DRIFT, DIFFUSION if sde else None)
    terms = _terms(fields, BROWNIAN)

    @eqx.filter_jit
    def there_and_back(fields):
        terms = _terms(fields, BROWNIAN)
        _, state = _forward((Y0, fields, ARGS), TS, BROWNIAN, SUBSTEPS)
        times = grid(TS, SUBSTEPS)

        def back(state, interval):
            return _unstep(terms, *interval, state, ARGS), None

        return jax.lax.scan(back, state, (times[:-1], times[1:]), reverse=True)[0]

    y0, yhat0, vf0 = there_and_back(fields)
    np.testing.assert_allclose(y0, Y0, rtol=0, atol=1e-13)
    np.testing.assert_allclose(yhat0, Y0, rtol=0, atol=1e-13)
    vf_expected = terms.vf(TS[0], Y0, ARGS)
    for got, expected in zip(jax.tree.leaves(vf0), jax.tree.leaves(vf_expected)):
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-13)


def test_pytree_state_and_closed_over_parameters():
    """A harmonic oscillator as a dict, closing over a traced frequency: the gradient
    reaches the closed-over value and agrees with backprop through diffrax."""
    y0 = {"x": jnp.array(1.0), "v": jnp.array(0.0)}
    ts = jnp.linspace(0.0, 2.0, 5)

    def final_x(omega, reversible):
        field = lambda t, y, args: {"x": y["v"], "v": -(omega**2) * y["x"]}  # noqa: E731
        if reversible:
            return reversible_heun(field, y0, ts, substeps=4)["x"][-1]
        return diffrax.diffeqsolve(
            diffrax.ODETerm(field),
            diffrax.ReversibleHeun(),
            ts[0],
            ts[-1],
            None,
            y0,
            stepsize_controller=diffrax.StepTo(ts=grid(ts, 4)),
        ).ys["x"][-1]

    value_and_grad = jax.jit(jax.value_and_grad(final_x), static_argnums=1)
    omega = jnp.array(1.4)
    (x, grad), (x_expected, expected) = value_and_grad(omega, True), value_and_grad(omega, False)
    np.testing.assert_allclose(x, x_expected, atol=1e-12)
    np.testing.assert_allclose(grad, expected, rtol=1e-9)
    np.testing.assert_allclose(expected, -2.0 * jnp.sin(2.0 * omega), rtol=0.05)  # exact


def test_second_order_convergence_on_a_linear_ode():
    matrix = jnp.array([[-0.1, 1.0], [-1.0, -0.1]])
    ts = jnp.array([0.0, 2.5, 5.0])
    exact = scipy.linalg.expm(np.asarray(matrix) * 5.0) @ np.array([1.0, 0.0])

    def error(substeps):
        ys = reversible_heun(
            lambda t, y, a: a @ y, jnp.array([1.0, 0.0]), ts, matrix, substeps=substeps
        )
        return np.abs(ys[-1] - exact).max()

    order = np.log2(error(40) / error(80))
    assert 1.8 < order < 2.2


def test_jit_vmap_grad_and_no_recompile():
    traces = []

    @eqx.filter_jit
    def value_and_grad(drift, y0, args, ts):
        traces.append(1)

        @eqx.filter_value_and_grad
        def objective(inputs):
            drift, y0, args = inputs
            return jnp.sum(reversible_heun(drift, y0, ts, args, substeps=2)[-1] ** 2)

        return objective((drift, y0, args))

    value_and_grad(DRIFT, Y0, ARGS, TS)
    new_drift = jax.tree.map(lambda x: 1.1 * x if eqx.is_array(x) else x, DRIFT)
    value_and_grad(new_drift, 2 * Y0, ARGS + 1, TS * 0.9)  # new values, same shapes
    assert len(traces) == 1

    y0s, args = jnp.stack([Y0, -Y0, 2 * Y0]), jnp.array([1.3, 0.7, -0.4])
    values, (drift_grads, y0_grads, args_grads) = eqx.filter_vmap(
        value_and_grad, in_axes=(None, 0, 0, None)
    )(DRIFT, y0s, args, TS)
    for i in range(3):
        value, (drift_grad, y0_grad, args_grad) = value_and_grad(DRIFT, y0s[i], args[i], TS)
        np.testing.assert_allclose(values[i], value, rtol=1e-12)
        np.testing.assert_allclose(y0_grads[i], y0_grad, rtol=1e-10)
        np.testing.assert_allclose(args_grads[i], args_grad, rtol=1e-10)
        weight = drift_grad.mlp.mlp.layers[0].weight
        np.testing.assert_allclose(drift_grads.mlp.mlp.layers[0].weight[i], weight, rtol=1e-10)


def test_neural_ode_reversible_adjoint():
    field = DRIFT
    model = nde.NeuralODE(
        field, solver="reversible_heun", adjoint=ReversibleAdjoint(SUBSTEPS), rtol=None, atol=None
    )
    ys = model(TS, Y0, ARGS)
    np.testing.assert_allclose(ys, reversible_heun(field, Y0, TS, ARGS, substeps=SUBSTEPS))

    def objective(model, solve_with_backprop):
        if solve_with_backprop:
            ys = _forward((Y0, (model.vector_field, None), ARGS), TS, None, SUBSTEPS)[0]
        else:
            ys = model(TS, Y0, ARGS)
        return jnp.sum(jnp.sin(ys))

    grad = eqx.filter_jit(eqx.filter_grad(objective))
    got, expected = jax.tree.leaves(grad(model, False)), jax.tree.leaves(grad(model, True))
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-9)
    by_name = nde.NeuralODE(
        field, solver="reversible_heun", adjoint="reversible", rtol=None, atol=None
    )
    assert by_name.adjoint == ReversibleAdjoint(1)
    np.testing.assert_allclose(by_name(TS, Y0, ARGS), reversible_heun(field, Y0, TS, ARGS))


@pytest.mark.parametrize(
    "make, field",
    [
        (lambda: reversible_heun(DRIFT, Y0, TS, ARGS, substeps=0), "substeps"),
        (lambda: reversible_heun(DRIFT, Y0, TS[::-1], ARGS), "ts"),
        (lambda: reversible_heun(DRIFT, Y0, TS[:1], ARGS), "ts"),
        (lambda: reversible_heun(DRIFT, Y0, TS, ARGS, diffusion=DIFFUSION), "brownian"),
        (lambda: reversible_heun(DRIFT, Y0, TS, ARGS, brownian=BROWNIAN), "diffusion"),
        (lambda: reversible_heun(DRIFT, jnp.array([1, 2, 3]), TS, ARGS), "y0"),
        (lambda: ReversibleAdjoint(substeps=2.0), "substeps"),
        (
            lambda: nde.NeuralODE(DRIFT, adjoint="reversible", rtol=None, atol=None),
            "solver",
        ),
        (lambda: nde.NeuralODE(DRIFT, solver="reversible_heun", adjoint="reversible"), "rtol"),
        (
            lambda: nde.NeuralODE(
                DRIFT,
                solver="reversible_heun",
                adjoint="reversible",
                rtol=None,
                atol=None,
                dt0=0.1,
            ),
            "dt0",
        ),
        (lambda: nde.NeuralODE(DRIFT, adjoint="reversable"), "adjoint"),
    ],
)
def test_bad_input_names_the_argument(make, field):
    with pytest.raises(ValueError, match=f"^{field}:"):
        make()
