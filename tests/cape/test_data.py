"""PDEBench-layout HDF5 files, streaming samplers and `jaxlab data generate`."""

import h5py
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxlab
from jaxlab import ConfigError, cape
from jaxlab._cli import main


@pytest.fixture(scope="module")
def small_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("h5") / "adv.h5"
    assert (
        main(
            [
                "data",
                "generate",
                "advection",
                "--samples",
                "6",
                "--set",
                "nx=64",
                "--set",
                "t_end=0.1",
                "--set",
                "beta=0.7",
                "--batch-size",
                "4",
                "--out",
                str(path),
            ]
        )
        == 0
    )
    return path


def test_cli_writes_the_pdebench_layout(small_file):
    with h5py.File(small_file) as f:
        assert f["tensor"].shape == (6, 11, 64) and f["tensor"].dtype == np.float32
        assert f.attrs["beta"] == pytest.approx(0.7)
        np.testing.assert_allclose(f["x-coordinate"][:], (np.arange(64) + 0.5) / 64)
        np.testing.assert_allclose(f["t-coordinate"][:], np.arange(11) * 0.01, atol=1e-6)
        data = f["tensor"][:]
    # The same trajectories as generate() with the same seed.
    again = cape.generate(
        cape.AdvectionData(beta=0.7, nx=64, t_end=0.1), jax.random.key(2022), 6, batch_size=4
    )
    np.testing.assert_allclose(data, again, atol=1e-6)


def test_cli_bad_input_exits_2_with_one_line(tmp_path, capsys):
    out = str(tmp_path / "x.h5")
    for argv in (
        ["data", "generate", "heat", "--samples", "2", "--out", out],
        ["data", "generate", "burgers", "--samples", "2", "--set", "nu=-1", "--out", out],
        ["data", "generate", "advection", "--samples", "0", "--out", out],
        ["data", "generate", "advection", "--samples", "2", "--set", "cfl=0.9", "--out", out],
        ["data", "generate", "advection", "--samples", "2", "--set", "speed=1", "--out", out],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("jaxlab: error:") and "\n" not in err, err
    assert not list(tmp_path.iterdir())  # nothing written


def test_existing_files_are_kept_and_failed_writes_leave_nothing(small_file, tmp_path):
    with pytest.raises(ConfigError, match="^--out: a file that does not exist yet"):
        cape.write_pdebench(small_file, np.zeros((1, 2, 4)), {"beta": 1.0})
    path = tmp_path / "half.h5"
    with pytest.raises(RuntimeError):
        with cape.pdebench_writer(path, (4, 3, 8), {"beta": 1.0}) as tensor:
            tensor[0] = 1.0
            raise RuntimeError("interrupted")
    assert not list(tmp_path.iterdir())


def test_reader_reads_rows_downsampled_and_checks_the_layout(small_file, tmp_path):
    f = cape.PDEBenchFile(small_file)
    assert f.shape == (6, 11, 64) and f.param_names == ("beta",)
    u, p = f.read(np.array([4, 1, 4]), time=5, space=8)
    with h5py.File(small_file) as h:
        full = h["tensor"][:]
    np.testing.assert_array_equal(u, full[[4, 1, 4], ::5, ::8])
    np.testing.assert_allclose(p, 0.7)

    def bad(name, **datasets):
        path = tmp_path / name
        with h5py.File(path, "w") as h:
            for k, v in datasets.items():
                h[k] = v
            h.attrs["beta"] = 1.0
        return path

    for path, message in (
        (bad("nokey.h5", data=np.zeros((2, 3, 4))), "missing dataset 'tensor'"),
        (bad("shape.h5", tensor=np.zeros((2, 3))), "expected [N, T, X]"),
        (
            bad("coord.h5", tensor=np.zeros((2, 3, 4)), **{"x-coordinate": np.zeros(5)}),
            "'x-coordinate' has length 5",
        ),
    ):
        with pytest.raises(ConfigError) as info:
            cape.PDEBenchFile(path)
        assert message in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="missing parameter attribute"):
        cape.PDEBenchFile(small_file, param_names=("Nu",))
    with pytest.raises(ConfigError, match="^file: an existing HDF5 file"):
        cape.PDEBenchFile(tmp_path / "absent.h5")
    # PDEBench's own files hold T + 1 time coordinates: accepted.
    path = tmp_path / "pdebench.h5"
    cape.write_pdebench(path, np.ones((2, 3, 4)), {"Nu": 0.1}, t=np.arange(4.0))
    assert cape.PDEBenchFile(path).shape == (2, 3, 4)


def test_concatenated_sources_read_their_rows_in_order(small_file):
    source = cape.ConcatSource(
        [
            cape.PDEBenchFile(small_file),
            cape.ArraySource(np.arange(3 * 11 * 64.0).reshape(3, 11, 64), np.full((3, 1), 2.0)),
        ]
    )
    assert source.shape == (9, 11, 64)
    u, p = cape.load_all(source, time=5, space=8, chunk=4)
    with h5py.File(small_file) as h:
        np.testing.assert_array_equal(u[:6], h["tensor"][:, ::5, ::8])
    np.testing.assert_array_equal(u[6:], np.arange(3 * 11 * 64.0).reshape(3, 11, 64)[:, ::5, ::8])
    np.testing.assert_allclose(p[:, 0], [0.7] * 6 + [2.0] * 3)
    rows, params = source.read(np.array([7, 0, 7]), time=5, space=8)
    np.testing.assert_array_equal(rows, u[[7, 0, 7]])
    np.testing.assert_array_equal(params, p[[7, 0, 7]])


def test_a_file_streamed_through_fit_trains_as_if_loaded(small_file):
    """A PDEBench file as a jaxlab.Stream: the losses of the arrays loaded in memory."""
    model = lambda key: cape.build_surrogate("fno", width=4, modes=2, layers=1, hidden=4, key=key)

    def loss(m, batch, key):
        u, params = batch
        batch = {"u": u, "params": params, "ar": jnp.ones(10, bool), "step": jnp.int32(0)}
        return cape.rollout_loss(m, batch, key, input_noise=0.0)

    stream = jaxlab.Stream(cape.PDEBenchFile(small_file), 2, "small")
    streamed = jaxlab.fit(loss, model, jaxlab_adam(), stream, steps=4, seeds=2, chunk_size=2)
    assert streamed.losses.shape == (2, 4) and np.all(np.isfinite(streamed.losses))
    arrays = cape.load_all(cape.PDEBenchFile(small_file))
    loaded = jaxlab.fit(loss, model, jaxlab_adam(), arrays, steps=4, seeds=2, batch_size=2,
                        chunk_size=2)  # fmt: skip
    np.testing.assert_array_equal(streamed.losses, loaded.losses)


def jaxlab_adam():
    import optax

    return optax.adam(1e-3)
