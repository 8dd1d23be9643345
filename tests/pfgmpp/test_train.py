"""`pfgmpp.train`: a user's own data through the library's one training path."""

import jax
import numpy as np
import pytest

from jaxlab import ConfigError, pfgmpp


DATA = np.asarray(pfgmpp.two_moons(jax.random.key(0), 256))
TINY = dict(steps=6, batch_size=32, width=8, depth=1, n_eval=64, n_projections=16)


def test_train_is_deterministic_compiles_once_and_scores_every_seed():
    first = pfgmpp.train(DATA, D=16.0, seeds=2, **TINY)
    again = pfgmpp.train(DATA, D=16.0, seeds=2, **TINY)
    assert again.fit.compile_seconds == 0
    assert first.fit.losses.shape == (2, 6)
    for name in ("final_loss", "swd"):
        assert first.metrics[name].shape == (2,) and np.all(np.isfinite(first.metrics[name]))
        np.testing.assert_array_equal(first.metrics[name], again.metrics[name])
    assert first.metrics["swd"][0] != first.metrics["swd"][1]  # seeds differ
    assert first.model(1).inp.in_features == 2


def test_train_rejects_bad_input_in_one_line():
    with pytest.raises(ConfigError, match="^train: D, network, .*, got 'stepz'$"):
        pfgmpp.train(DATA, D=16.0, stepz=10)
    with pytest.raises(ConfigError, match="^batch_size: at most the 256 rows of data, got 512$"):
        pfgmpp.train(DATA, D=16.0, batch_size=512)
    bad = DATA.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ConfigError, match="NaN"):
        pfgmpp.train(bad, D=16.0, **TINY)
    with pytest.raises(ConfigError, match="^D: "):
        pfgmpp.train(DATA, D=0.0, **TINY)
