import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import jaxlab
from jaxlab import ConfigError
from jaxlab._checkpoint import Checkpoints
from jaxlab._cli import main
from jaxlab._experiment import _REGISTRY


# A random walk whose every step draws from the key carried in its state; each chunk
# sleeps a little, so that a subprocess running it can be killed in the middle.
WALK_SOURCE = """
import dataclasses, time
import jax, jax.numpy as jnp, numpy as np
import jaxlab


@dataclasses.dataclass(frozen=True)
class Walk:
    scale: float = 0.5
    steps: int = 10
    pause: float = 0.0

    @classmethod
    def quick(cls):
        return cls(steps=40, pause=0.2)


def init(config, key):
    return {"x": jnp.zeros(3), "key": key, "t": jnp.zeros((), jnp.int32)}


def advance(config, state, n_steps):
    jax.debug.callback(lambda: time.sleep(config.pause))

    def step(state, _):
        key, draw = jax.random.split(state["key"])
        active = state["t"] < config.steps
        noise = config.scale * jax.random.normal(draw, (3,))
        x = jnp.where(active, state["x"] + noise, state["x"])
        return {"x": x, "key": key, "t": state["t"] + active}, x

    return jax.lax.scan(step, state, None, length=n_steps)


WALK = jaxlab.Experiment(
    "test.walk",
    "a random walk",
    Walk,
    lambda config, results, out: {"distance": np.linalg.norm(results["final"]["x"], axis=-1)},
    init=init,
    advance=advance,
    finish=lambda config, state: state,
    history=lambda config, results: {"x0": results["history"][..., 0]},
)
"""
_WALK = {}
exec(WALK_SOURCE, _WALK)
Walk, WALK = _WALK["Walk"], _WALK["WALK"]


def _interrupt_after(monkeypatch, saves: int):
    """Make the sweep die (as a kill would) right after `saves` checkpoints."""
    original, calls = Checkpoints.save, []

    def save(self, *args):
        original(self, *args)
        calls.append(1)
        if len(calls) == saves:
            raise KeyboardInterrupt

    monkeypatch.setattr(Checkpoints, "save", save)


def test_interrupted_sweep_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch):
    fresh = jaxlab.sweep(WALK, Walk(), 3, chunk_size=3)
    with monkeypatch.context() as patch:
        _interrupt_after(patch, 2)
        with pytest.raises(KeyboardInterrupt):
            jaxlab.sweep(WALK, Walk(), 3, chunk_size=3, checkpoint_dir=tmp_path)
    saved = sorted(int(f.stem) for f in (tmp_path / "group0" / "history").glob("*.npz"))
    assert saved == [3, 6]
    resumed = jaxlab.sweep(WALK, Walk(), 3, chunk_size=3, checkpoint_dir=tmp_path)
    # The resumed run replayed only the chunks after step 6 and drew the same numbers.
    np.testing.assert_array_equal(resumed.results["history"], fresh.results["history"])
    np.testing.assert_array_equal(resumed.results["final"]["x"], fresh.results["final"]["x"])
    assert resumed.results["history"].shape == (3, 10, 3)


def test_each_chunk_of_history_is_written_once(tmp_path):
    out = jaxlab.sweep(WALK, Walk(steps=7), 2, chunk_size=3, checkpoint_dir=tmp_path)
    folder = tmp_path / "group0" / "history"
    assert sorted(int(f.stem) for f in folder.glob("*.npz")) == [3, 6, 7]
    with np.load(folder / "6.npz") as chunk:
        np.testing.assert_array_equal(chunk["0"], out.results["history"][:, 3:6])
    # Only the last two states are kept.
    assert sorted(p.name for p in (tmp_path / "group0" / "state").iterdir() if p.is_dir()) == [
        "6",
        "7",
    ]


@pytest.mark.parametrize(
    "change, differs",
    [
        (dict(config=Walk(scale=0.7)), "config"),
        (dict(config=Walk(steps=12)), "config"),
        (dict(seeds=3), "groups"),
        (dict(key=1), "seeds"),
        (dict(chunk_size=2), "chunk"),
        (dict(over={"scale": [0.5, 0.6]}), "grid"),
    ],
)
def test_a_checkpoint_of_another_run_is_refused(tmp_path, change, differs):
    args = dict(config=Walk(), seeds=2, key=0, chunk_size=5)
    jaxlab.sweep(WALK, **args, checkpoint_dir=tmp_path)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(ConfigError, match=f"its .*{differs}.* differ") as error:
        jaxlab.sweep(WALK, **{**args, **change}, checkpoint_dir=tmp_path)
    assert "\n" not in str(error.value)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_a_torn_checkpoint_write_falls_back_to_the_previous_one(tmp_path, monkeypatch):
    with monkeypatch.context() as patch:
        _interrupt_after(patch, 2)
        with pytest.raises(KeyboardInterrupt):
            jaxlab.sweep(WALK, Walk(), 2, chunk_size=3, checkpoint_dir=tmp_path)
    state = tmp_path / "group0" / "state"
    # What a kill in the middle of orbax's write of step 9 leaves behind.
    torn = state / "9.orbax-checkpoint-tmp-1234567890"
    torn.mkdir()
    (torn / "partial").write_bytes(b"\0" * 10)
    steps, original = [], Checkpoints.save
    monkeypatch.setattr(
        Checkpoints, "save", lambda self, step, *a: [steps.append(step), original(self, step, *a)]
    )
    resumed = jaxlab.sweep(WALK, Walk(), 2, chunk_size=3, checkpoint_dir=tmp_path)
    assert steps == [9, 10]  # resumed after step 6, the last complete checkpoint
    fresh = jaxlab.sweep(WALK, Walk(), 2, chunk_size=3)
    np.testing.assert_array_equal(resumed.results["history"], fresh.results["history"])


CLI = (
    WALK_SOURCE
    + """
import sys
from jaxlab._cli import main

jaxlab.register(WALK)
sys.exit(main(["run", "test.walk", "--quick", "--seeds", "3", "--chunk-size", "5", "--quiet",
               *sys.argv[1:]]))
"""
)


def _killed_run(out):
    """Start the command in a subprocess and SIGKILL it once step 15 of 40 is saved."""
    process = subprocess.Popen([sys.executable, "-c", CLI, "--out", str(out)])
    marker = out / "checkpoint" / "group0" / "history" / "15.npz"
    deadline = time.monotonic() + 120
    while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL


def _tree(folder):
    return {p.relative_to(folder): p.stat().st_mtime_ns for p in folder.rglob("*")}


def test_a_killed_run_resumes_to_the_results_of_an_uninterrupted_one(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(_REGISTRY, "test.walk", WALK)
    cli = lambda *args: main(
        [
            "run",
            "test.walk",
            "--quick",
            "--seeds",
            "3",
            "--chunk-size",
            "5",
            "--quiet",
            *map(str, args),
        ]
    )
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    _killed_run(killed)
    assert not (killed / "metrics.json").exists()
    assert cli("--out", whole) == 0

    before = _tree(killed)
    capsys.readouterr()
    refusals = {
        "--resume": ("--out", killed),  # a fresh run would throw the checkpoint away
        "config": ("--out", killed, "--resume", "--set", "scale=0.6"),
        "chunk": ("--out", killed, "--resume", "--chunk-size", "4"),
        "checkpoint": ("--out", tmp_path / "new", "--resume"),
    }
    for expected, args in refusals.items():
        assert cli(*args) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and expected in err, err
    assert _tree(killed) == before

    assert cli("--out", killed, "--resume") == 0
    assert not (killed / "checkpoint").exists()
    assert json.loads((killed / "metrics.json").read_text()) == json.loads(
        (whole / "metrics.json").read_text()
    )
    with np.load(whole / "history.npz") as a, np.load(killed / "history.npz") as b:
        np.testing.assert_array_equal(a["x0"], b["x0"])
        assert a["x0"].shape == (3, 40)


def test_a_distributed_chunked_run_saves_and_gathers_like_one_process(tmp_path, launch):
    """2 processes x 2 CPU devices checkpoint every chunk (orbax, every process taking
    part) and write the same results as one process with 4 devices."""
    program, args = [sys.executable, "-c", CLI], ["--set", "pause=0", "--seeds", "8"]
    two = launch(program, [*args, "--out", str(tmp_path / "two")], devices=2, processes=2)
    one = launch(program, [*args, "--out", str(tmp_path / "one")], devices=4)
    for code, out, err in two + one:
        assert code == 0, err[-2000:]
    assert json.loads((tmp_path / "two" / "metrics.json").read_text()) == json.loads(
        (tmp_path / "one" / "metrics.json").read_text()
    )
    with (
        np.load(tmp_path / "two" / "history.npz") as a,
        np.load(tmp_path / "one" / "history.npz") as b,
    ):
        np.testing.assert_array_equal(a["x0"], b["x0"])


def test_a_second_process_loads_its_programs_from_the_compile_cache(tmp_path, launch):
    cache = tmp_path / "cache"

    def run(out):
        args = ["--set", "pause=0", "--compile-cache", str(cache), "--out", str(tmp_path / out)]
        [(code, _, err)] = launch([sys.executable, "-c", CLI], args)
        assert code == 0, err[-2000:]
        return sorted(p.name for p in cache.iterdir())

    first = run("cold")
    assert len(first) >= 3  # init, advance and finish were written
    assert run("warm") == first  # every program was found: nothing new written


EQUINOX_CHECK = """
import sys
import equinox as eqx, jax, jax.numpy as jnp
import jaxlab
jaxlab.enable_compile_cache(sys.argv[1])
checked = jax.jit(lambda x: eqx.error_if(x, x < 0, "negative") + 1.0)
print(float(checked(jnp.float32(1.0))))
print(float(checked(jnp.float32(-1.0))))
"""


def test_programs_with_equinox_checks_are_cached_and_a_failed_check_is_nan(tmp_path):
    """equinox's checks are host callbacks that JAX never caches: with the cache on they
    return NaN instead (the seed is flagged), unless EQX_ON_ERROR is set by the user."""
    env = {k: v for k, v in os.environ.items() if k != "EQX_ON_ERROR"}
    command = [sys.executable, "-c", EQUINOX_CHECK, str(tmp_path / "cache")]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["2.0", "nan"]
    assert any("lambda" in p.name for p in (tmp_path / "cache").iterdir())
    raising = {**env, "EQX_ON_ERROR": "raise"}
    done = subprocess.run(
        command[:-1] + [str(tmp_path / "other")], capture_output=True, text=True, env=raising
    )
    assert done.returncode != 0 and "negative" in done.stderr


def _events(folder):
    """Every (tag, step, value) scalar and every tag of a TensorBoard event folder."""
    import struct

    from tensorboardX.proto import event_pb2

    scalars, tags = [], set()
    for file in folder.rglob("events.out.tfevents.*"):
        data = file.read_bytes()
        while data:
            (length,) = struct.unpack("<Q", data[:8])
            event = event_pb2.Event.FromString(data[12 : 12 + length])
            data = data[16 + length :]
            for value in event.summary.value:
                tags.add(value.tag)
                if value.HasField("simple_value"):
                    scalars.append((value.tag, event.step, value.simple_value))
    return scalars, tags


def test_log_tensorboard_writes_config_curves_and_summary(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(_REGISTRY, "test.walk", WALK)
    out, logs = tmp_path / "run", tmp_path / "tb"
    args = ["run", "test.walk", "--quick", "--seeds", "3", "--quiet", "--set", "pause=0"]
    assert main([*args, "--out", str(out), "--log", "tensorboard", str(logs)]) == 0
    scalars, tags = _events(logs / "test.walk" / "run")
    with np.load(out / "history.npz") as history:
        mean = history["x0"].mean(axis=0)
    logged = {step: value for tag, step, value in scalars if tag == "x0/mean"}
    assert sorted(logged) == list(range(40))
    np.testing.assert_allclose([logged[s] for s in range(40)], mean, rtol=1e-6)
    summary = json.loads((out / "metrics.json").read_text())["summary"]["distance"]["mean"]
    logged = [v for t, _, v in scalars if t == "summary/distance"]  # the run and its hparams
    assert logged and all(v == pytest.approx(summary) for v in logged)
    assert any(tag.startswith("config") for tag in tags)
    capsys.readouterr()
    assert main([*args, "--out", str(tmp_path / "x"), "--log", "wandb", str(logs)]) == 2
    assert "--log: tensorboard DIR" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
