import functools
import json
import os

import equinox as eqx
import jax
import pytest

from jaxlab import pfgmpp
from jaxlab.pfgmpp import _metrics


@pytest.fixture(scope="session", autouse=True)
def digits_classifier_once_per_run(tmp_path_factory):
    """The `fid_digits` classifier trained once per `pytest` run, not once per xdist
    worker: the first worker to need it trains and saves it, the other loads it."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    try:
        import fcntl
    except ImportError:  # not on this platform: each worker trains its own
        run = None
    if run is None:  # one process: the library's in-memory cache trains it once
        yield
        return
    folder = tmp_path_factory.getbasetemp().parent / f"fid-classifier-{run}"
    trained = _metrics.digits_classifier

    @functools.cache
    def shared():
        folder.mkdir(exist_ok=True)
        weights, info = folder / "model.eqx", folder / "accuracy.json"
        with open(folder / "lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if info.exists():
                like = eqx.filter_eval_shape(_metrics.DigitsClassifier, jax.random.key(0))
                return eqx.tree_deserialise_leaves(weights, like), json.loads(info.read_text())
            model, accuracy = trained()
            eqx.tree_serialise_leaves(weights, model)
            info.write_text(json.dumps(accuracy))
            return model, accuracy

    def once(steps=2000, seed=0):
        return shared() if (steps, seed) == (2000, 0) else trained(steps, seed)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_metrics, "digits_classifier", once)
        patch.setattr(pfgmpp, "digits_classifier", once)
        yield
