"""`cape.train`: a user's own trajectories through the library's one training path."""

import jax
import numpy as np
import pytest

from jaxlab import ConfigError, cape


def advection(beta, n, seed):
    pde = cape.AdvectionData(beta=beta, nx=32, t_end=0.5, dt_save=0.1)
    return cape.generate(pde, jax.random.key(seed), n), np.full((n, 1), beta)


U, PARAMS = (np.concatenate(x) for x in zip(advection(0.3, 6, 0), advection(1.0, 6, 1)))
TINY = dict(steps=4, batch_size=4, warmup_steps=1, width=4, modes=4, layers=1, hidden=8,
            cape_width=4, cape_modes=4)  # fmt: skip


def test_train_is_deterministic_compiles_once_and_scores_every_seed():
    val = advection(0.6, 3, 2)
    first = cape.train(U, PARAMS, val=val, seeds=2, **TINY)
    again = cape.train(U, PARAMS, val=val, seeds=2, **TINY)
    assert again.fit.compile_seconds == 0
    assert first.fit.losses.shape == (2, 4)
    nrmse = first.metrics["val_nrmse"]
    assert nrmse.shape == (2,) and np.all(np.isfinite(nrmse)) and nrmse[0] != nrmse[1]
    np.testing.assert_array_equal(nrmse, again.metrics["val_nrmse"])
    assert isinstance(first.model(0), cape.CAPESurrogate)
    plain = cape.train(U, PARAMS, model="fno", **TINY)
    assert isinstance(plain.model(0), cape.Unconditioned) and plain.settings.model == "fno"


def test_train_rejects_bad_input_in_one_line():
    with pytest.raises(ConfigError, match="^train: val, model, .*, got 'stepz'$"):
        cape.train(U, PARAMS, stepz=10)
    with pytest.raises(ConfigError, match=r"^params: an array \[N=12, P\], got \(11, 1\)$"):
        cape.train(U, PARAMS[:11], **TINY)
    with pytest.raises(ConfigError, match=r"^val: \[M, 6, 32\] and \[M, 1\], got "):
        cape.train(U, PARAMS, val=(U[:2, :5], PARAMS[:2]), **TINY)
    with pytest.raises(ConfigError, match="^model: one of fno, "):
        cape.train(U, PARAMS, model="transformer")
