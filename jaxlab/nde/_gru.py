r"""A GRU classifier of one irregularly observed series: the discrete-time baseline of a
neural CDE on the same observations."""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from ._cde import fill_forward
from ._settings import count


class GRUClassifier(eqx.Module):
    r"""A GRU read over the observations $(t_i, x_i)$ of one series, then a linear
    readout: $h_0 = 0$, $h_i = \mathrm{GRU}([t_i, \tilde x_i], h_{i-1})$, output
    $\ell_\theta(h_n)$, where $\tilde x$ is $x$ with missing values filled forward
    ([`fill_forward`][jaxlab.nde.fill_forward]) and $n$ the last observation. It sees the
    same channels as a [`NeuralCDE`][jaxlab.nde.NeuralCDE] on
    [`control_path`][jaxlab.nde.control_path] (time and the filled values), at the
    observation times only.

    **Arguments:** `channels` (of the data, time excluded), `hidden` (the GRU's state
    size), `outputs`, `key`.
    """

    cell: eqx.nn.GRUCell
    readout: eqx.nn.Linear

    def __init__(self, channels: int, hidden: int, outputs: int, *, key: PRNGKeyArray):
        for name, value in (("channels", channels), ("hidden", hidden), ("outputs", outputs)):
            count(name, value)
        k_cell, k_readout = jax.random.split(key)
        self.cell = eqx.nn.GRUCell(1 + channels, hidden, key=k_cell)
        self.readout = eqx.nn.Linear(hidden, outputs, key=k_readout)

    def __call__(
        self, times: Float[ArrayLike, " length"], values: Float[ArrayLike, "length channels"]
    ) -> Array:
        """Logits of one series: `times` NaN-padded at the end (as by
        [`pad_series`][jaxlab.nde.pad_series]), `values` NaN where not observed."""
        times, values = jnp.asarray(times), jnp.asarray(values)
        valid = ~jnp.isnan(times)
        # Padded rows never reach the cell as NaN (a NaN there would poison the gradient).
        inputs = jnp.concatenate(
            [jnp.where(valid, times, 0.0)[:, None], fill_forward(values)], axis=-1
        )

        def step(h, row):
            x, ok = row
            return jnp.where(ok, self.cell(x, h), h), None

        h0 = jnp.zeros(self.cell.hidden_size, inputs.dtype)
        h, _ = jax.lax.scan(step, h0, (inputs, valid))
        return self.readout(h)
