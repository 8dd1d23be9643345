"""Every nde experiment hands its data (training sets, test sets, reference solutions) to
its compiled programs as an argument: none is a constant of a program, and no program
calls back to the host. Tracing only: nothing here compiles."""

import dataclasses

import pytest

import jaxlab
import jaxlab.nde.experiments  # noqa: F401 (registers the nde experiments)
from jaxlab._data import check_finite, experiment_programs
from jaxlab._experiment import _REGISTRY


# The largest constant a program may hold: solver tables and small index arrays (at most
# 280 bytes measured). Far below 1 MiB on purpose: the data sets that evaluation used to
# close over are smaller than that (the digits' test set 112 KiB, JapaneseVowels' test
# values 503 KiB).
LIMIT = 4 * 2**10

NAMES = sorted(name for name in _REGISTRY if name.startswith("nde."))
CHANGES = {"nde.ou": {"model": "both"}}  # the latent SDE and the SDE-GAN
NEEDS = {"nde.deq_digits": "sklearn", "nde.vowels": "aeon"}


@pytest.mark.parametrize("name", NAMES)
def test_data_reach_the_programs_as_an_argument(name, monkeypatch):
    """`init`, `advance` and `finish`, traced with the declared data as an argument, hold
    no constant above `LIMIT` and no host callback.

    Before the data stage, the evaluate functions of nde.deq_digits and nde.vowels read
    their validation and test sets from host arrays (cached by `lru_cache` and
    `functools.cache`): constants of the `finish` program, well above `LIMIT`.
    """
    if name in NEEDS:
        pytest.importorskip(NEEDS[name])
    # equinox's runtime checks (`eqx.error_if`, inside diffrax and optimistix) are host
    # callbacks unless EQX_ON_ERROR=nan, which equinox reads each time a check is traced.
    # jaxlab sets that mode to cache compiled programs (jaxlab._runner.enable_compile_cache);
    # in it, a callback left can only come from the experiment.
    monkeypatch.setattr("equinox._errors.EQX_ON_ERROR", "nan")
    experiment = jaxlab.get_experiment(name)
    cfg = experiment.default_config(quick=True)
    cfg = dataclasses.replace(cfg, steps=4, **CHANGES.get(name, {}))
    check_finite(experiment.data(cfg))  # the core accepts them
    for part, found in experiment_programs(experiment, cfg).items():
        assert found["largest_constant"] <= LIMIT, (part, found)
        assert found["callbacks"] == [], (part, found)
