"""Checkpoints of chunked runs: orbax for the state, one file per chunk of history, and a
fingerprint that refuses to resume a different run."""

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import jax
import numpy as np

from ._experiment import ConfigError


def _is_key(leaf: Any) -> bool:
    return hasattr(leaf, "dtype") and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key)


def key_data(tree: Any) -> Any:
    """`tree` with every typed PRNG key array replaced by its raw `uint32` data."""
    return jax.tree.map(lambda x: jax.random.key_data(x) if _is_key(x) else x, tree)


def _typed_like(tree: Any, like: Any) -> Any:
    """The inverse of `key_data`, the key implementations taken from `like`."""
    return jax.tree.map(
        lambda x, ref: (
            jax.random.wrap_key_data(x, impl=jax.random.key_impl(ref)) if _is_key(ref) else x
        ),
        tree,
        like,
    )


def digest(tree: Any) -> str:
    """A SHA-256 of a pytree's structure and array bytes (host copies)."""
    sha = hashlib.sha256(str(jax.tree.structure(tree)).encode())
    for leaf in jax.tree.leaves(key_data(tree)):
        array = np.asarray(leaf)
        sha.update(f"{array.shape}{array.dtype}".encode())
        sha.update(np.ascontiguousarray(array).tobytes())
    return sha.hexdigest()


def structure(tree: Any) -> str:
    """The tree structure, shapes and dtypes of a pytree, as text."""
    leaves = jax.tree.leaves(tree)
    shapes = [f"{jax.numpy.shape(x)}:{getattr(x, 'dtype', type(x).__name__)}" for x in leaves]
    return f"{jax.tree.structure(tree)} {' '.join(shapes)}"


def _savez(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with path.open("wb") as file:
        np.savez(file, **arrays)


def _write_atomically(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


class Checkpoints:
    """The checkpoints of one group of runs in `folder`.

    `fingerprint` (a JSON-able dict) is written once; a folder whose fingerprint differs
    is refused with a [`ConfigError`][jaxlab.ConfigError] naming the entries that differ.
    The state after step $s$ is saved with orbax (`folder/state/s`, written to a temporary
    folder and renamed, so a kill during a save leaves the previous checkpoint readable;
    the last two are kept). The history of the chunk ending at step $s$ is written once,
    to `folder/history/s.npz`.
    """

    def __init__(self, folder: str | Path, fingerprint: dict[str, Any]):
        import orbax.checkpoint as ocp

        self.folder = Path(folder).absolute()
        self._writer = jax.process_index() == 0
        self._check(fingerprint)
        options = ocp.CheckpointManagerOptions(max_to_keep=2, enable_async_checkpointing=False)
        self._manager = ocp.CheckpointManager(self.folder / "state", options=options)
        self._args = ocp.args

    def _check(self, fingerprint: dict[str, Any]) -> None:
        file = self.folder / "fingerprint.json"
        fingerprint = json.loads(json.dumps(fingerprint, default=str))
        if file.is_file():
            saved = json.loads(file.read_text())
            differ = sorted(
                k for k in fingerprint.keys() | saved.keys() if saved.get(k) != fingerprint.get(k)
            )
            if differ:
                raise ConfigError(
                    f"checkpoint: {self.folder} holds another run (its {', '.join(differ)} "
                    "differ); resume with the same settings, or use a new folder"
                )
        elif (self.folder / "state").exists():
            raise ConfigError(f"checkpoint: {self.folder} holds a checkpoint without fingerprint")
        elif self._writer:
            self.folder.mkdir(parents=True, exist_ok=True)
            _write_atomically(file, lambda tmp: tmp.write_text(json.dumps(fingerprint, indent=1)))

    def restore(self, like: Any, history_like: Any) -> tuple[Any, int, list] | None:
        """`(state, step, history chunks)` of the latest checkpoint, shaped like `like`
        (arrays or `ShapeDtypeStruct`s, shardings kept) and `history_like`; None if none."""
        step = self._manager.latest_step()
        if step is None:
            return None
        abstract = jax.tree.map(
            lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding),
            key_data(like),
        )
        state = self._manager.restore(step, args=self._args.StandardRestore(abstract))
        ends = sorted(int(f.stem) for f in (self.folder / "history").glob("*.npz"))
        treedef = jax.tree.structure(history_like)
        chunks = []
        for end in (e for e in ends if e <= step):
            with np.load(self.folder / "history" / f"{end}.npz") as data:
                chunks.append(
                    jax.tree.unflatten(treedef, [data[k] for k in sorted(data.files, key=int)])
                )
        return _typed_like(state, like), step, chunks

    def save(self, step: int, state: Any, chunk_history: Any) -> None:
        """Write the history of the chunk ending at `step`, then the state after it."""
        if self._writer:
            leaves = {str(i): np.asarray(x) for i, x in enumerate(jax.tree.leaves(chunk_history))}
            folder = self.folder / "history"
            folder.mkdir(exist_ok=True)
            _write_atomically(folder / f"{step}.npz", lambda tmp: _savez(tmp, leaves))
        self._manager.save(step, args=self._args.StandardSave(key_data(state)), force=True)
        self._manager.wait_until_finished()

    def close(self) -> None:
        self._manager.close()
