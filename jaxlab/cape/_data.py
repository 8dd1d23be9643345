"""Trajectory data sets: PDEBench-layout HDF5 files (written atomically, read lazily, row
by row) and in-memory arrays.

**File layout** (PDEBench's 1-D scalar files): a dataset `tensor`, float32
`[N, T, X]`; `x-coordinate` `[X]` (cell centres); `t-coordinate` `[T]` (PDEBench's own
files hold `T + 1` entries; both are read); the PDE parameters as file attributes
(`beta` for advection, `Nu` for Burgers, `Nu` and `rho` for diffusion-reaction).

Sources ([`PDEBenchFile`][jaxlab.cape.PDEBenchFile], [`ArraySource`][jaxlab.cape.ArraySource],
[`ConcatSource`][jaxlab.cape.ConcatSource]) are read on the host
([`load_all`][jaxlab.cape.load_all], downsampled while reading); training programs receive
the arrays as arguments and draw their batches inside the program
([`jaxlab.sampler`][jaxlab.sampler]), never through a host callback; rows larger than memory
are streamed ([`jaxlab.Stream`][jaxlab.Stream] over a source).
"""

import contextlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import jax
import numpy as np

from .._experiment import ConfigError, require, require_integer
from ._generators import cell_centres, generate_batches, save_times


_LAYOUT = "PDEBench layout: tensor [N, T, X], x-coordinate [X], t-coordinate [T or T+1]"


class ArraySource:
    """Trajectories held in memory: `u` `[N, T, X]` and `params` `[N, P]` (NumPy)."""

    def __init__(self, u: np.ndarray, params: np.ndarray):
        u, params = np.asarray(u, np.float32), np.asarray(params, np.float32)
        require(u.ndim == 3, "u", "an array [N, T, X]", u.shape)
        params = params.reshape(len(params), -1) if params.ndim else params
        require(
            params.ndim == 2 and len(params) == len(u),
            "params",
            f"an array [N={len(u)}, P]",
            params.shape,
        )
        self.u, self.params = u, params

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.u.shape

    @property
    def n_params(self) -> int:
        return self.params.shape[1]

    def read(self, index: np.ndarray, time: int = 1, space: int = 1):
        """Rows `index` as `(u [B, T', X'], params [B, P])`, every `time`-th frame and
        `space`-th cell."""
        return self.u[index, ::time, ::space], self.params[index]


class PDEBenchFile:
    """One HDF5 file in PDEBench's 1-D layout (module docs), opened lazily.

    **Arguments:**

    - `path`: the `.h5`/`.hdf5` file.
    - `param_names`: the attributes holding the PDE parameters, in order (e.g.
      `("beta",)`); by default whichever of `beta`, `Nu`, `rho` the file has.

    Bad files (missing, no `tensor`, wrong shapes, missing attributes) raise a one-line
    [`ConfigError`][jaxlab.ConfigError].
    """

    def __init__(self, path: str | Path, param_names: Sequence[str] | None = None):
        import h5py

        self.path = Path(path)
        require(self.path.is_file(), "file", "an existing HDF5 file", str(self.path))
        try:
            handle = h5py.File(self.path, "r")
        except OSError:
            raise ConfigError(f"file: a readable HDF5 file, got {str(self.path)!r}") from None
        with handle as f:
            if "tensor" not in f:
                raise ConfigError(f"{self.path}: missing dataset 'tensor' ({_LAYOUT})")
            shape = f["tensor"].shape
            if len(shape) != 3:
                raise ConfigError(f"{self.path}: 'tensor' has shape {shape}, expected [N, T, X]")
            n, frames, nx = shape
            for name, allowed in (("x-coordinate", (nx,)), ("t-coordinate", (frames, frames + 1))):
                if name in f and f[name].shape[0] not in allowed:
                    raise ConfigError(
                        f"{self.path}: '{name}' has length {f[name].shape[0]}, expected "
                        f"{' or '.join(map(str, allowed))} for tensor {shape}"
                    )
            if param_names is None:
                param_names = tuple(k for k in ("beta", "Nu", "rho") if k in f.attrs)
            missing = [k for k in param_names if k not in f.attrs]
            if missing or not param_names:
                raise ConfigError(
                    f"{self.path}: missing parameter attribute(s) {missing or ['beta/Nu/rho']}"
                )
            self.param_names = tuple(param_names)
            self.param_values = np.array([float(f.attrs[k]) for k in param_names], np.float32)
            self.x = np.asarray(f["x-coordinate"]) if "x-coordinate" in f else None
            self.t = np.asarray(f["t-coordinate"])[:frames] if "t-coordinate" in f else None
        self._shape = shape
        self._handle = None

    @property
    def shape(self) -> tuple[int, int, int]:
        return self._shape

    @property
    def n_params(self) -> int:
        return len(self.param_names)

    def _file(self):
        import h5py

        if self._handle is None:
            self._handle = h5py.File(self.path, "r")
        return self._handle

    def read(self, index: np.ndarray, time: int = 1, space: int = 1):
        """Rows `index` as `(u [B, T', X'], params [B, P])`, reading only those rows,
        every `time`-th frame and `space`-th cell."""
        index = np.asarray(index)
        order = np.argsort(index)
        unique, inverse = np.unique(index[order], return_inverse=True)
        rows = self._file()["tensor"][unique.tolist(), ::time, ::space]
        u = np.empty((len(index), *rows.shape[1:]), np.float32)
        u[order] = rows[inverse]
        return u, np.broadcast_to(self.param_values, (len(index), self.n_params)).copy()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __getstate__(self):  # h5py handles do not pickle
        state = dict(self.__dict__)
        state["_handle"] = None
        return state


class ConcatSource:
    """Several sources (e.g. one PDEBench file per parameter value) as one data set."""

    def __init__(self, sources: Sequence):
        require(len(sources) >= 1, "sources", "one or more data sources", len(sources))
        shapes = {tuple(s.shape[1:]) for s in sources}
        require(len(shapes) == 1, "sources", "files sharing [T, X]", sorted(shapes))
        counts = {s.n_params for s in sources}
        require(len(counts) == 1, "sources", "files with the same parameters", sorted(counts))
        self.sources = list(sources)
        self.offsets = np.cumsum([0] + [s.shape[0] for s in sources])

    @property
    def shape(self):
        return (int(self.offsets[-1]), *self.sources[0].shape[1:])

    @property
    def n_params(self):
        return self.sources[0].n_params

    def read(self, index, time: int = 1, space: int = 1):
        index = np.asarray(index)
        which = np.searchsorted(self.offsets, index, side="right") - 1
        u = params = None
        for i, source in enumerate(self.sources):
            mask = which == i
            if not mask.any():
                continue
            ui, pi = source.read(index[mask] - self.offsets[i], time, space)
            if u is None:
                u = np.empty((len(index), *ui.shape[1:]), np.float32)
                params = np.empty((len(index), pi.shape[1]), np.float32)
            u[mask], params[mask] = ui, pi
        return u, params


def load_all(source, *, time: int = 1, space: int = 1, chunk: int = 256):
    """The whole of `source` (downsampled) as NumPy `(u, params)`, read in chunks."""
    n = source.shape[0]
    parts = [source.read(np.arange(s, min(s + chunk, n)), time, space) for s in range(0, n, chunk)]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


@contextlib.contextmanager
def pdebench_writer(
    path: str | Path,
    shape: tuple[int, int, int],
    params: dict[str, float],
    *,
    x: np.ndarray | None = None,
    t: np.ndarray | None = None,
    overwrite: bool = False,
):
    """Write a PDEBench-layout file atomically: yields the `tensor` dataset `[N, T, X]`
    of a temporary file, renamed to `path` only when the block ends without error
    (a half-written file is never left behind)."""
    import h5py

    path = Path(path)
    require(
        overwrite or not path.exists(),
        "--out",
        "a file that does not exist yet (or pass --overwrite)",
        str(path),
    )
    require(path.parent.is_dir(), "--out", "a file in an existing folder", str(path))
    n, frames, nx = shape
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with h5py.File(tmp, "w") as f:
            tensor = f.create_dataset(
                "tensor", shape=shape, dtype="float32", chunks=(1, frames, nx)
            )
            f.create_dataset(
                "x-coordinate",
                data=np.asarray(cell_centres(nx) if x is None else x, np.float32),
            )
            f.create_dataset(
                "t-coordinate",
                data=np.asarray(np.arange(frames) if t is None else t, np.float32),
            )
            for name, value in params.items():
                f.attrs[name] = value
            yield tensor
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_pdebench(
    path: str | Path,
    tensor: np.ndarray,
    params: dict[str, float],
    *,
    x: np.ndarray | None = None,
    t: np.ndarray | None = None,
    overwrite: bool = False,
) -> Path:
    """Write trajectories `tensor` `[N, T, X]` with parameter attributes `params`
    (e.g. `{"beta": 0.4}`) as a PDEBench-layout HDF5 file, atomically."""
    tensor = np.asarray(tensor, np.float32)
    require(tensor.ndim == 3, "tensor", "an array [N, T, X]", tensor.shape)
    with pdebench_writer(path, tensor.shape, params, x=x, t=t, overwrite=overwrite) as ds:
        ds[...] = tensor
    return Path(path)


def generate_file(
    config,
    path: str | Path,
    n_samples: int,
    *,
    seed: int = 2022,
    batch_size: int = 100,
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Generate `n_samples` trajectories of a data config
    ([`AdvectionData`][jaxlab.cape.AdvectionData], ...) at full resolution into a
    PDEBench-layout file, batch by batch (memory: one batch)."""
    require_integer(n_samples, "--samples")
    require_integer(batch_size, "batch_size")
    times = np.asarray(save_times(config.t_end, config.dt_save))
    shape = (n_samples, len(times), config.nx)
    batch_size = min(batch_size, n_samples)
    with pdebench_writer(path, shape, config.params, t=times, overwrite=overwrite) as tensor:
        key = jax.random.key(seed)
        for start, block in generate_batches(config, key, n_samples, batch_size):
            tensor[start : start + len(block)] = block
            if progress is not None:
                progress(len(block))
    return Path(path)
