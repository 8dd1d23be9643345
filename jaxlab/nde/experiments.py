"""Registered reproductions of `jaxlab.nde`."""

import dataclasses
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from matplotlib.figure import Figure

from .._experiment import Experiment, register, require
from .._train import init_state, split_model, train_chunk
from . import _deq_digits, _ou, _spirals, _vowels
from ._ode import HybridField, MLPField, NeuralODE


def pendulum(t, y, params):
    r"""Undamped pendulum $\ddot x = -\omega^2 \sin x$, `params` = $(\omega,)$."""
    return jnp.array([y[1], -(params[0] ** 2) * jnp.sin(y[0])])


@dataclasses.dataclass(frozen=True)
class OscillatorConfig:
    r"""`nde.oscillator`: learn the damped pendulum $\ddot x = -\omega^2\sin x - \gamma\dot x$
    from noisy trajectories. The neural model is an MLP vector field; the hybrid model is
    the undamped pendulum with a learnable $\omega$ plus a small neural correction (which
    must learn the damping), penalised by `correction_penalty` times its mean square.
    Data are drawn once from `data_seed`; seeds vary the models' initialization."""

    omega: float = 2.0
    damping: float = 0.3
    trajectories: int = 32
    times: int = 40
    horizon: float = 5.0
    noise: float = 0.01
    width: int = 32
    depth: int = 2
    correction_width: int = 8
    correction_penalty: float = 0.05
    learning_rate: float = 1e-2
    steps: int = 1500
    data_seed: int = 0

    def __post_init__(self):
        for name in ("omega", "horizon", "learning_rate"):
            require(getattr(self, name) > 0, name, "a positive number", getattr(self, name))
        for name in ("damping", "noise", "correction_penalty"):
            require(getattr(self, name) >= 0, name, "a number >= 0", getattr(self, name))
        for name in ("trajectories", "width", "depth", "correction_width", "steps"):
            value = getattr(self, name)
            require(isinstance(value, int) and value >= 1, name, "a positive integer", value)
        require(
            isinstance(self.times, int) and self.times >= 2, "times", "an integer >= 2", self.times
        )

    @classmethod
    def quick(cls) -> "OscillatorConfig":
        return cls(trajectories=16, times=25, width=16, steps=300)


def _data(cfg: OscillatorConfig):
    """Noisy training and clean test trajectories of the true damped pendulum."""
    truth = NeuralODE(
        lambda t, y, args: (
            pendulum(t, y, jnp.array([cfg.omega])) - jnp.array([0.0, cfg.damping * y[1]])
        ),
        rtol=1e-8,
        atol=1e-10,
    )
    ts = jnp.linspace(0.0, cfg.horizon, cfg.times)
    k_train, k_test, k_noise = jax.random.split(jax.random.key(cfg.data_seed), 3)
    shape = (cfg.trajectories, 2)
    y0_train = jax.random.uniform(k_train, shape, minval=-1.5, maxval=1.5)
    y0_test = jax.random.uniform(k_test, shape, minval=-1.5, maxval=1.5)
    solve = jax.vmap(lambda y0: truth(ts, y0))
    train = solve(y0_train) + cfg.noise * jax.random.normal(k_noise, (*shape[:1], cfg.times, 2))
    return ts, (y0_train, train), (y0_test, solve(y0_test))


def _models(cfg: OscillatorConfig, key):
    k_neural, k_hybrid, k_omega = jax.random.split(key, 3)
    neural = NeuralODE(MLPField(2, cfg.width, cfg.depth, key=k_neural))
    omega0 = cfg.omega * jax.random.uniform(k_omega, (1,), minval=0.5, maxval=1.5)
    correction = MLPField(2, cfg.correction_width, 1, key=k_hybrid)
    hybrid = NeuralODE(HybridField(pendulum, omega0, correction))
    return {"neural": neural, "hybrid": hybrid}


def _loss(cfg, ts, penalised):
    def loss(model, batch, key):
        y0, ys = batch
        predicted = jax.vmap(lambda y: model(ts, y))(y0)
        mse = jnp.mean((predicted - ys) ** 2)
        if not penalised:
            return mse, mse
        field = model.vector_field
        corrections = jax.vmap(jax.vmap(lambda y: field.correction(0.0, y, None)))(predicted)
        return mse + cfg.correction_penalty * jnp.mean(corrections**2), mse

    return loss


def _merges(cfg):
    """`merge(params) -> model` for each model, from an abstract template (no compute)."""
    template = eqx.filter_eval_shape(_models, cfg, jax.random.key(0))
    return {name: split_model(model)[1] for name, model in template.items()}


def init_oscillator(cfg, key):
    optimizer = optax.adam(cfg.learning_rate)
    k_models, k_data = jax.random.split(key)
    return {
        name: init_state(split_model(model)[0], optimizer, k_data)
        for name, model in _models(cfg, k_models).items()
    }


def advance_oscillator(cfg, state, n_steps):
    ts, train, _ = _data(cfg)
    merges = _merges(cfg)
    new, history = {}, {}
    for name in state:
        new[name], (_, history[name]) = train_chunk(
            state[name],
            n_steps,
            loss=_loss(cfg, ts, name == "hybrid"),
            merge=merges[name],
            optimizer=optax.adam(cfg.learning_rate),
            sample=lambda key: train,
        )
    return new, history


def finish_oscillator(cfg, state):
    ts, _, (y0_test, test) = _data(cfg)
    merges = _merges(cfg)
    out = {}
    for name, fitted in state.items():
        model = merges[name](fitted.params)
        predicted = jax.vmap(lambda y: model(ts, y))(y0_test)
        out[f"{name}/test_mse"] = jnp.where(
            fitted.diverged, jnp.nan, jnp.mean((predicted - test) ** 2)
        )
        out[f"{name}/params"] = sum(
            x.size for x in jax.tree.leaves(eqx.filter(model.vector_field, eqx.is_array))
        )
        out[f"{name}/predicted"] = predicted
    omega = merges["hybrid"](state["hybrid"].params).vector_field.params[0]
    out["hybrid/param_rel_error"] = jnp.abs(omega - cfg.omega) / cfg.omega
    return out


def report_oscillator(cfg, results, out_dir: Path | None) -> dict:
    final = results["final"]
    metrics = {
        key: np.asarray(value, dtype=float)
        for key, value in final.items()
        if not key.endswith("/predicted")
    }
    if out_dir is not None:
        ts, _, (_, test) = _data(cfg)
        fig = Figure(figsize=(10, 4))
        for ax, name in zip(fig.subplots(1, 2), ("neural", "hybrid")):
            predicted = np.asarray(final[f"{name}/predicted"])[0]
            for i in range(3):
                ax.plot(ts, test[i, :, 0], "k", lw=1)
                ax.plot(ts, predicted[i, :, 0], "--", lw=1.2)
            ax.set(title=f"{name} ODE, seed 0 (dashed) against the truth", xlabel="t", ylabel="x")
        fig.tight_layout()
        fig.savefig(out_dir / "trajectories.png", dpi=110)
    return metrics


def _history(cfg, results):
    return {f"{name}/train_mse": np.asarray(v) for name, v in results["history"].items()}


register(
    Experiment(
        "nde.oscillator",
        "neural ODE against a hybrid (pendulum + neural correction) model of a damped pendulum",
        OscillatorConfig,
        report_oscillator,
        init=init_oscillator,
        advance=advance_oscillator,
        finish=finish_oscillator,
        history=_history,
    )
)

register(_spirals.EXPERIMENT)
register(_deq_digits.EXPERIMENT)
register(_ou.EXPERIMENT)
register(_vowels.EXPERIMENT)
