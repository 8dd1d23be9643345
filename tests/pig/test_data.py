"""pig's data (test set, monitor set, fixed collocation batch) enter the compiled training
and evaluation programs as arguments: no host callback, no large constant, and a program
that does not depend on the data's values."""

import dataclasses

import jax
import pytest

from jaxlab._data import program_contents
from jaxlab.pig import HelmholtzConfig
from jaxlab.pig._training import TRAINING, host_data


MIB = 2**20

# Data over 1 MiB: the test and monitor points (160,000 x 2 float32, 1.2 MiB) and the
# fixed batch's interior (140,000 x 2, 1.1 MiB). A program that closed over any of them
# (as pig's did, through `jax.ensure_compile_time_eval`) would hold it as a constant.
BIG = dataclasses.replace(
    HelmholtzConfig.quick(), test_grid=400, monitor_points=160_000, resample=False,
    collocation=140_000, boundary_points=16, n_gaussians=8, pinn_width=8, pinn_depth=1,
)  # fmt: skip


@pytest.fixture(scope="module")
def programs():
    """`(data, {name: (function, first argument)})`: init, advance (2 steps) and finish
    of the pig training, each taking the data as its second argument."""
    data = jax.device_put(host_data(BIG))
    for big in (data["test"][0], data["monitor"][0], data["fixed"]["interior"]):
        assert big.nbytes > MIB
    key = jax.random.key(0)
    state = TRAINING.init(BIG, key, data)
    return data, {
        "init": (lambda k, d: TRAINING.init(BIG, k, d), key),
        "advance": (lambda s, d: TRAINING.advance(BIG, s, 2, d), state),
        "finish": (lambda s, d: TRAINING.finish(BIG, s, d), state),
    }


@pytest.mark.parametrize("name", ["init", "advance", "finish"])
def test_programs_take_the_data_as_an_argument(programs, name):
    data, table = programs
    function, first = table[name]
    contents = program_contents(function, first, data)
    assert contents["callbacks"] == [] and contents["largest_constant"] <= MIB
    other = jax.tree.map(lambda x: 2 * x + 1, data)  # other values, the same shapes
    text = jax.jit(function).lower(first, data).as_text()
    assert jax.jit(function).lower(first, other).as_text() == text
