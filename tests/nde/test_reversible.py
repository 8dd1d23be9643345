import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

from jaxlab import ConfigError, nde
from jaxlab.nde._reversible import (
    ReversibleAdjoint,
    _forward,
    _terms,
    _time,
    _unstep,
    reversible_heun,
)


KEYS = jax.random.split(jax.random.key(0), 4)
TIMES = (0.0, 0.3, 0.8, 1.0, 1.7)  # uneven output times
SUBSTEPS = 3


def arrays():
    """`(ts, y0, args)` in the current precision. (Made afresh from Python numbers: a
    numpy array closed over by a function jitted under `enable_x64` would be cached as a
    float64 array and come back so in float32 code.)"""
    return jnp.asarray(TIMES), jnp.asarray([0.5, -0.3, 0.2]), jnp.asarray(1.3)


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


def fields():
    """The drift and diffusion, in the current precision."""
    drift = ScaledField(nde.MLPField(size=3, width=8, depth=2, time=True, key=KEYS[0]))
    return drift, Diffusion(eqx.nn.MLP(3, 6, 8, 1, key=KEYS[1]))


def brownian(key):
    return diffrax.VirtualBrownianTree(0.0, 1.7, 1e-6, (2,), key=key)


# float32; the tests that compare to round-off build their own in float64.
TS, Y0, ARGS = arrays()
DRIFT, DIFFUSION = fields()
BROWNIAN = brownian(KEYS[2])


def grid(ts, substeps):
    """The step times: each interval of ts split into `substeps` equal steps."""
    ts = jnp.asarray(ts)
    i = jnp.repeat(jnp.arange(len(ts) - 1), substeps)
    k = jnp.tile(jnp.arange(substeps), len(ts) - 1)
    inner = jax.vmap(lambda i, k: _time(ts, substeps, i, k))(i, k)
    return jnp.concatenate([inner, ts[-1:]])


def diffrax_solve(drift, diffusion, y0, args, brownian):
    ts = jnp.asarray(TIMES)
    terms = diffrax.ODETerm(drift)
    if diffusion is not None:
        terms = diffrax.MultiTerm(terms, diffrax.ControlTerm(diffusion, brownian))
    return diffrax.diffeqsolve(
        terms,
        diffrax.ReversibleHeun(),
        ts[0],
        ts[-1],
        None,
        y0,
        args,
        saveat=diffrax.SaveAt(ts=ts),
        stepsize_controller=diffrax.StepTo(ts=grid(ts, SUBSTEPS)),
        adjoint=diffrax.RecursiveCheckpointAdjoint(),
        max_steps=64,
    ).ys


def reversible(drift, diffusion, y0, args, brownian):
    return reversible_heun(
        drift,
        y0,
        jnp.asarray(TIMES),
        args,
        diffusion=diffusion,
        brownian=brownian,
        substeps=SUBSTEPS,
    )


def backprop(drift, diffusion, y0, args, brownian):
    """Reverse-mode autodiff through the same steps."""
    return _forward((y0, (drift, diffusion), args), jnp.asarray(TIMES), brownian, SUBSTEPS)[0]


def value_and_grad(solve, batched):
    """Compiled `((loss, ys), gradient w.r.t. inputs)` of `solve(*inputs, brownian(key))`,
    vmapped over keys if `batched`; every output time gets a cotangent."""
    weights = jnp.linspace(1.0, 2.0, len(TIMES))[:, None]

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
    one after the other for diffrax (cheaper to compile). float64, to compare to 1e-9."""
    with jax.enable_x64(True):
        drift, diffusion = fields()
        _, y0, args = arrays()
        inputs = (drift, diffusion if sde else None, y0, args)
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
        assert ys["reversible"].shape == ((2, len(TIMES), 3) if sde else (len(TIMES), 3))
        assert np.all(ys["reversible"][..., 0, :] == y0)
        assert len(grads["reversible"]) == len(jax.tree.leaves(eqx.filter(inputs, eqx.is_array)))
        for name in ("backprop", "diffrax"):
            np.testing.assert_allclose(ys["reversible"], ys[name], rtol=0, atol=1e-12, err_msg=name)
            for got, expected in zip(grads["reversible"], grads[name]):
                assert np.any(expected != 0)
                np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-14, err_msg=name)


@pytest.mark.parametrize("sde", [False, True])
def test_running_backwards_reconstructs_the_initial_state(sde):
    with jax.enable_x64(True):
        # float64: the reconstruction is exact up to round-off, 1e-13.
        drift, diffusion = fields()
        path = brownian(KEYS[2])
        ts, y_0, args = arrays()
        vector_fields = (drift, diffusion if sde else None)
        terms = _terms(vector_fields, path)

        @eqx.filter_jit
        def there_and_back(vector_fields):
            terms = _terms(vector_fields, path)
            _, state = _forward((y_0, vector_fields, args), ts, path, SUBSTEPS)
            times = grid(ts, SUBSTEPS)

            def back(state, interval):
                return _unstep(terms, *interval, state, args), None

            return jax.lax.scan(back, state, (times[:-1], times[1:]), reverse=True)[0]

        y0, yhat0, vf0 = there_and_back(vector_fields)
        np.testing.assert_allclose(y0, y_0, rtol=0, atol=1e-13)
        np.testing.assert_allclose(yhat0, y_0, rtol=0, atol=1e-13)
        vf_expected = terms.vf(ts[0], y_0, args)
        for got, expected in zip(jax.tree.leaves(vf0), jax.tree.leaves(vf_expected)):
            np.testing.assert_allclose(got, expected, rtol=0, atol=1e-13)


def test_pytree_state_and_closed_over_parameters():
    """A harmonic oscillator as a dict, closing over a traced frequency: the gradient
    reaches the closed-over value and agrees with backprop through diffrax (float64)."""
    with jax.enable_x64(True):
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
        (x, grad), (x_expected, expected) = (
            value_and_grad(omega, True),
            value_and_grad(omega, False),
        )
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
    ts, y0, args = TS, Y0, ARGS

    @eqx.filter_jit
    def value_and_grad(drift, y0, args, ts):
        traces.append(1)

        @eqx.filter_value_and_grad
        def objective(inputs):
            drift, y0, args = inputs
            return jnp.sum(reversible_heun(drift, y0, ts, args, substeps=2)[-1] ** 2)

        return objective((drift, y0, args))

    value_and_grad(DRIFT, y0, args, ts)
    new_drift = jax.tree.map(lambda x: 1.1 * x if eqx.is_array(x) else x, DRIFT)
    value_and_grad(new_drift, 2 * y0, args + 1, ts * 0.9)  # new values, same shapes
    assert len(traces) == 1

    y0s, args = jnp.stack([y0, -y0, 2 * y0]), jnp.array([1.3, 0.7, -0.4])
    values, (drift_grads, y0_grads, args_grads) = eqx.filter_vmap(
        value_and_grad, in_axes=(None, 0, 0, None)
    )(DRIFT, y0s, args, ts)
    for i in range(3):
        value, (drift_grad, y0_grad, args_grad) = value_and_grad(DRIFT, y0s[i], args[i], ts)
        np.testing.assert_allclose(values[i], value, rtol=1e-6)
        np.testing.assert_allclose(y0_grads[i], y0_grad, rtol=1e-5)
        np.testing.assert_allclose(args_grads[i], args_grad, rtol=1e-5)
        weight = drift_grad.mlp.mlp.layers[0].weight
        np.testing.assert_allclose(drift_grads.mlp.mlp.layers[0].weight[i], weight, rtol=1e-5)


def test_neural_ode_reversible_adjoint():
    with jax.enable_x64(True):
        # float64, to compare the gradients to 1e-9.
        field = fields()[0]
        ts, y0, args = arrays()
        model = nde.NeuralODE(
            field,
            solver="reversible_heun",
            adjoint=ReversibleAdjoint(SUBSTEPS),
            rtol=None,
            atol=None,
        )
        ys = model(ts, y0, args)
        np.testing.assert_allclose(ys, reversible_heun(field, y0, ts, args, substeps=SUBSTEPS))

        def objective(model, solve_with_backprop):
            if solve_with_backprop:
                ys = _forward((y0, (model.vector_field, None), args), ts, None, SUBSTEPS)[0]
            else:
                ys = model(ts, y0, args)
            return jnp.sum(jnp.sin(ys))

        grad = eqx.filter_jit(eqx.filter_grad(objective))
        got, expected = jax.tree.leaves(grad(model, False)), jax.tree.leaves(grad(model, True))
        for g, e in zip(got, expected):
            np.testing.assert_allclose(g, e, rtol=1e-9)
        by_name = nde.NeuralODE(
            field, solver="reversible_heun", adjoint="reversible", rtol=None, atol=None
        )
        assert by_name.adjoint == ReversibleAdjoint(1)
        np.testing.assert_allclose(by_name(ts, y0, args), reversible_heun(field, y0, ts, args))


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
def test_bad_input_names_the_argument(make, field, as_user):
    with pytest.raises(ConfigError, match=f"^{field}:"):
        make()


def test_reconstruction_error_on_a_dissipative_field_in_float32():
    """y' = -lam y on [0, 4], 25 steps per unit time, so z = lam dt = -0.04 lam, in
    float32. Reversible Heun is stable only for z on [-i, i]: backwards, each step
    multiplies the error by rho = |z| + sqrt(1 + z^2) ~ e^{|z|} (module docstring), so
    the reconstruction error grows by rho^25 ~ e^{lam} per unit time walked back, from
    round-off at the final state. Measured at t = 0 (|y_0| = 1): lam = 1, 2, 3, 4 give
    1.2e-7, 7.0e-5, 0.42, 1.5e3 in float32 and 2e-16, 1.5e-13, 1.3e-9, 5.9e-6 in float64.
    At lam = 4 the float32 gradient is then wrong (even in sign)."""
    field = lambda t, y, lam: -lam * y  # noqa: E731
    ts = jnp.linspace(0.0, 4.0, 5)

    def measure():
        y0 = jnp.array([1.0, -0.5])
        errors = jax.jit(
            lambda lam: jnp.abs(nde.reconstruction_error(field, y0, ts, lam, substeps=25))
        )
        grad = jax.jit(
            jax.grad(
                lambda lam, reversible: jnp.sum(
                    (
                        reversible_heun(field, y0, ts, lam, substeps=25)
                        if reversible
                        else _forward((y0, (field, None), lam), ts, None, 25)[0]
                    )[-1]
                    ** 2
                ),
            ),
            static_argnums=1,
        )
        lams = jnp.asarray([1.0, 2.0, 3.0, 4.0])
        error = np.stack([errors(lam).max(axis=1) for lam in lams])  # (lam, time)
        grads = [(grad(lam, True), grad(lam, False)) for lam in lams[::3]]  # lam = 1, 4
        return error, grads

    error, grads = measure()
    assert np.all(error[:, -1] == 0)  # the backward pass starts from the final state
    for lam in (2, 3, 4):
        z = 0.04 * lam
        rho = (z + np.sqrt(1 + z**2)) ** 25
        np.testing.assert_allclose(error[lam - 1, :3] / error[lam - 1, 1:4], rho, rtol=0.02)
    assert error[0, 0] < 10 * 2.0**-24  # lam T = 4: round-off
    assert error[3, 0] > 1.0  # lam T = 16: the reconstruction is lost
    reversible, backprop = grads[0]
    np.testing.assert_allclose(reversible, backprop, rtol=1e-5)
    reversible, backprop = grads[1]
    assert abs(reversible / backprop - 1) > 0.5  # measured: -158
    with jax.enable_x64(True):
        error, grads = measure()
        assert error[3, 0] < 1e-4
        np.testing.assert_allclose(*grads[1], rtol=1e-4)
