"""Several named models trained side by side: the init/advance/finish of a chunked
experiment, from a declaration."""

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, PRNGKeyArray

from ._experiment import Experiment
from ._model import split_model
from ._train import FitState, init_state, train_chunk


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """One named model of a [`Training`][jaxlab.Training].

    **Fields:**

    - `init`: `init(key) -> model`, an equinox module, a pytree of arrays or a `flax.nnx`
      module (see [`split_model`][jaxlab.split_model]).
    - `loss`: `loss(model, batch, key) -> (loss, aux)`.
    - `optimizer`: an optax `GradientTransformation`.
    - `evaluate`: optional `evaluate(model, key, data) -> {metric: array}`, run on the
      final model with the training's data (None if it declares none); floating-point
      values read NaN for a model that diverged.
    """

    init: Callable[[PRNGKeyArray], Any]
    loss: Callable[[Any, Any, PRNGKeyArray], tuple[Array, Any]]
    optimizer: optax.GradientTransformation
    evaluate: Callable[[Any, PRNGKeyArray, Any], Mapping[str, Array]] | None = None


@dataclasses.dataclass(frozen=True)
class Training:
    """Train several named models per seed, side by side, on one data stream.

    Declare the models, the data and how batches are drawn from it; get the `init`,
    `advance` and `finish` of a chunked [`Experiment`][jaxlab.Experiment] (or the whole
    experiment from [`experiment`][jaxlab.Training.experiment]). `data` is the declared
    data on the devices (an argument of every compiled program, never a constant), or
    None:

    - `init(config, key, data)`: builds every model from its own key and a training state
      per model. All models share one data key, so at each step they see the same batch.
    - `advance(config, state, n_steps, data, rows=None)`: `n_steps` optimizer steps of
      every model (the step of [`fit`][jaxlab.fit]); steps past `config.steps` leave the
      state unchanged, so the sweep drives any run length in equal chunks and compiles
      once. The history is `{name: (loss, aux)}` per step. `rows` are the streamed rows
      of these steps when the data hold a [`Stream`][jaxlab.Stream].
    - `finish(config, state, data)`: `{"NAME/METRIC": value}` from each model's
      `evaluate`, and `"NAME/diverged"`, set by the first non-finite loss or gradient of
      that model (whose floating-point metrics then read NaN; the other models are
      unaffected).

    **Fields:**

    - `models`: `models(config) -> {name: ModelSpec}`; the config may choose which
      models to train, their sizes and their optimizers.
    - `data`: optional `data(config) -> pytree of arrays`, host side (training set,
      evaluation sets, reference solutions): called once per run, checked finite and
      placed on every device (see [`Experiment`][jaxlab.Experiment]).
    - `batches`: optional `batches(config, data) -> sample`, traced: a pure
      `sample(key) -> batch` (or a [`StepSampler`][jaxlab.StepSampler]) that draws each
      step's batch from the data with the step's key (see [`sampler`][jaxlab.sampler]).
      Without it every step sees the whole `data` (None when there is none).
    """

    models: Callable[[Any], Mapping[str, ModelSpec]]
    data: Callable[[Any], Any] | None = None
    batches: Callable[[Any, Any], Callable[..., Any]] | None = None

    def _sample(self, config, data):
        if self.batches is None:
            return lambda key: data
        return self.batches(config, data)

    def layouts(self, config) -> dict[str, Any]:
        """Each model's [`ModelLayout`][jaxlab.ModelLayout], from shapes only (no compute)."""
        specs = self.models(config)
        return {
            name: split_model(eqx.filter_eval_shape(spec.init, jax.random.key(0)))[2]
            for name, spec in specs.items()
        }

    def init(self, config, key: PRNGKeyArray, data: Any = None) -> dict[str, FitState]:
        specs = self.models(config)
        k_models, k_data = jax.random.split(key)
        model_keys = jax.random.split(k_models, len(specs))
        return {
            name: init_state(spec.init(k), spec.optimizer, k_data)
            for (name, spec), k in zip(specs.items(), model_keys)
        }

    def advance(
        self, config, state: dict[str, FitState], n_steps: int, data: Any = None, rows: Any = None
    ):
        specs, layouts = self.models(config), self.layouts(config)
        sample = self._sample(config, data)
        new, history = {}, {}
        for name, spec in specs.items():
            new[name], history[name] = train_chunk(
                state[name],
                n_steps,
                loss=spec.loss,
                layout=layouts[name],
                optimizer=spec.optimizer,
                sample=sample,
                total_steps=config.steps,
                rows=rows,
            )
        return new, history

    def trained(self, config, state: dict[str, FitState]) -> dict[str, Any]:
        """The models held by one seed's `state`."""
        layouts = self.layouts(config)
        return {n: layouts[n].merge(s.params, s.buffers) for n, s in state.items()}

    def finish(self, config, state: dict[str, FitState], data: Any = None) -> dict[str, Array]:
        specs, models = self.models(config), self.trained(config, state)
        out = {}
        for name, spec in specs.items():
            diverged = state[name].diverged
            out[f"{name}/diverged"] = diverged
            if spec.evaluate is None:
                continue
            metrics = spec.evaluate(models[name], jax.random.split(state[name].key)[0], data)
            for metric, value in metrics.items():
                value = jnp.asarray(value)
                if jnp.issubdtype(value.dtype, jnp.inexact):
                    value = jnp.where(diverged, jnp.nan, value)
                out[f"{name}/{metric}"] = value
        return out

    def history(self, config, results) -> dict[str, np.ndarray]:
        """Per-seed curves for `history.npz`: `NAME/loss`, and `NAME/AUX` for each
        per-step scalar of a dict `aux`."""
        curves = {}
        for name, (loss, aux) in results["history"].items():
            curves[f"{name}/loss"] = np.asarray(loss)
            if isinstance(aux, Mapping):
                for key, value in aux.items():
                    if np.ndim(value) == np.ndim(loss):
                        curves[f"{name}/{key}"] = np.asarray(value)
        return curves

    def experiment(
        self,
        name: str,
        description: str,
        config: type,
        report: Callable[..., Mapping[str, Any]],
        history: Callable[[Any, Any], Mapping[str, Any]] | None = None,
    ) -> Experiment:
        """The chunked [`Experiment`][jaxlab.Experiment] of this training (its history
        defaults to [`Training.history`][jaxlab.Training.history])."""
        return Experiment(
            name,
            description,
            config,
            report,
            init=self.init,
            advance=self.advance,
            finish=self.finish,
            history=history or self.history,
            data=self.data,
        )
