"""Benchmark `jaxlab.cape`: data generators, training throughput, inference, seed scaling.

Run from the repository root:

    python benchmarks/bench_cape.py                    # generators + models (minutes)
    python benchmarks/bench_cape.py --samples 200      # fewer advection samples
    python benchmarks/bench_cape.py --scaling          # also 4 seeds vs 1 of cape.advection --quick
    python benchmarks/bench_cape.py --json out.json    # also write the results as JSON
    python benchmarks/bench_cape.py --big-file adv.h5  # only (d), in a process of its own

Measurements (each prints its target and PASS/FAIL; the script exits 0 either way):

- (a) Generators at 1024 cells: advection (beta = 0.4, 201 frames), Burgers at nu = 0.1
  and nu = 0.01 (201 frames), diffusion-reaction (nu = 0.5, rho = 1, 101 frames); compile
  timed separately (first call), then a second call timed; samples per second, and the
  seconds for 1,000 samples extrapolated linearly. Anchors (PDEBench's own JAX generator
  measured on this kind of 2-core CPU before jaxlab's generators existed): advection 1,000
  samples in 22.3 s; Burgers nu = 0.1 7.35 s per sample, nu = 0.01 0.61 s per sample.
  Targets: advection <= 22 s per 1,000; Burgers nu = 0.1 at least 10x faster.
  Accuracy: advection against the exact shift, Burgers against Cole-Hopf.
- (b) Training throughput of each model of `cape.advection` (default sizes: 41 frames,
  128 cells, batch 50): trajectories per second of one compiled optimizer step on the
  full autoregressive rollout; and milliseconds per single-trajectory rollout (40 steps).
- (c) `--scaling`: 4 seeds of `cape.advection --quick` in one vmapped sweep against 1
  seed (run seconds of a second, compiled call). Target: <= 3x.
- (d) `--big-file PATH`: peak host memory (the process's maximum resident set) while
  CAPE-FNO trains for `--big-steps` steps, batch 50, streaming from a PDEBench-layout
  advection file larger than 2 GiB (written first by `jaxlab data generate` in a child
  process if PATH does not exist: `--big-samples` 2,700 x 201 frames x 1,024 cells,
  2.07 GiB). Target: < 4 GiB. It runs alone, so the peak is the training's own; the same
  run on a small file (`--big-samples 100`) is the control for what is not the file.

Timings are wall-clock, blocked until ready. Other processes distort them: the load
average is printed with the machine, and process CPU seconds are shown beside wall time.
"""

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxlab
from jaxlab import cape
from jaxlab._results import machine
from jaxlab.cape import AdvectionConfig
from jaxlab.cape._comparison import TRAINING, init_model
from jaxlab.cape._dataset import dataset, generated_groups
from jaxlab.cape._report import inference_ms


def timed(f):
    wall, cpu = time.perf_counter(), time.process_time()
    out = f()
    jax.block_until_ready(out)
    return out, time.perf_counter() - wall, time.process_time() - cpu


def bench_generator(name, config, n, anchor_per_1000=None):
    key = jax.random.key(0)
    _, compile_s, _ = timed(lambda: cape.generate(config, key, n))
    out, wall, cpu = timed(lambda: cape.generate(config, jax.random.key(1), n))
    per_1000 = 1000 * wall / n
    row = {
        "case": name,
        "samples": n,
        "first_call_s": compile_s,
        "wall_s": wall,
        "cpu_s": cpu,
        "samples_per_s": n / wall,
        "s_per_1000": per_1000,
    }
    if anchor_per_1000:
        row["speedup_vs_pdebench"] = anchor_per_1000 / per_1000
    print(json.dumps(row), flush=True)
    return row, out


def accuracy():
    nx = 1024
    x = np.asarray(cape.cell_centres(nx), np.float64)
    u0 = np.sin(2 * np.pi * x)
    adv = np.asarray(cape.solve_advection(jnp.asarray(u0, jnp.float32), 0.4, t_end=2.0))
    adv_err = float(np.max(np.abs(adv[-1] - np.sin(2 * np.pi * (x - 0.8)))))
    from importlib import util

    spec = util.spec_from_file_location("t", os.path.join("tests", "cape", "test_generators.py"))
    tests = util.module_from_spec(spec)
    spec.loader.exec_module(tests)
    bur = np.asarray(cape.solve_burgers(jnp.asarray(u0, jnp.float32), 0.1, t_end=0.5, dt_save=0.1))
    bur_err = float(np.max(np.abs(bur[-1] - tests.cole_hopf(x, 0.5, 0.1 / np.pi))))
    row = {"advection_max_error_t2": adv_err, "burgers_nu0.1_max_error_vs_cole_hopf_t0.5": bur_err}
    print(json.dumps(row), flush=True)
    return row


def bench_models(batch=50):
    config = AdvectionConfig()
    frames, cells = 41, 128
    rows = []
    data = {
        "u": jax.random.normal(jax.random.key(0), (batch, frames, cells)),
        "params": jnp.full((batch, 1), 0.4),
        "ar": jnp.ones(frames - 1, bool),
        "step": jnp.int32(100),
    }
    for name in ("fno", "fno_cond", "cape_fno"):
        model = init_model(config, name, jax.random.key(0))
        opt = optax.adam(1e-3)
        state = opt.init(eqx.filter(model, eqx.is_array))

        @eqx.filter_jit
        def step(model, state, batch):
            loss = lambda m: cape.rollout_loss(m, batch, jax.random.key(0))[0]
            value, grads = eqx.filter_value_and_grad(loss)(model)
            updates, state = opt.update(grads, state, model)
            return eqx.apply_updates(model, updates), state, value

        _, compile_s, _ = timed(lambda: step(model, state, data))
        reps = 3
        _, wall, cpu = timed(lambda: [step(model, state, data) for _ in range(reps)][-1])
        row = {
            "model": name,
            "params": jaxlab.count_params(model),
            "compile_s": compile_s,
            "train_trajectories_per_s": reps * batch / wall,
            "train_cpu_s_per_step": cpu / reps,
            "inference_ms_per_rollout": inference_ms(config, name, 5),
        }
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def bench_scaling():
    experiment = jaxlab.get_experiment("cape.advection")
    config = experiment.default_config(quick=True)
    out = {}
    for seeds in (1, 4):
        jaxlab.sweep(experiment, config, seeds)
        result = jaxlab.sweep(experiment, config, seeds)
        out[seeds] = result.run_seconds
    row = {
        "run_s_1_seed": out[1],
        "run_s_4_seeds": out[4],
        "ratio": out[4] / out[1],
        "target": 3.0,
        "pass": out[4] / out[1] <= 3.0,
    }
    print(json.dumps(row), flush=True)
    return row


def _callback_batches(config, data):
    """The pre-data-stage path, for comparison only: rows fetched through
    `jax.pure_callback` every step from host arrays (not part of the library)."""
    u, params = (np.asarray(x) for x in dataset(config)["train"].values())
    shapes = (
        jax.ShapeDtypeStruct((config.batch_size, *u.shape[1:]), jnp.float32),
        jax.ShapeDtypeStruct((config.batch_size, params.shape[1]), jnp.float32),
    )

    def host(index):
        index = np.asarray(index)
        flat = index.reshape(-1, config.batch_size)
        return (
            np.stack([u[i] for i in flat]).reshape(*index.shape, *u.shape[1:]),
            np.stack([params[i] for i in flat]).reshape(*index.shape, params.shape[1]),
        )

    def sample(key):
        pick = jax.random.choice(key, len(u), (config.batch_size,), replace=False)
        out = jax.pure_callback(host, shapes, pick.astype(jnp.int32), vmap_method="broadcast_all")
        return {"u": out[0], "params": out[1]}

    return cape.curriculum_sampler(sample, config.steps, config.warmup_steps, u.shape[1])


def bench_data_paths(folder, steps=400, rounds=3):
    """`cape.advection --quick`, one seed, its quick data written to PDEBench-layout files:
    training steps per second with the rows in memory, streamed from the files
    (`--set stream=true`) and fetched through a host callback every step (the path
    before the data stage), measured in one process. Each path is compiled first; then
    `rounds` rounds time the three in turn (so a change in the machine's load reaches
    all three alike). Run time excludes compiling and includes the final evaluation, the
    same in all three."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    base = dataclasses.replace(AdvectionConfig.quick(), steps=steps, inference_repeats=0)
    paths = []
    for values, u in generated_groups(base):
        path = folder / f"1D_Advection_Sols_beta{values[0]}.hdf5"
        if not path.exists():
            cape.write_pdebench(path, u, {"beta": values[0]})
        paths.append(str(path))
    memory = dataclasses.replace(base, files=tuple(paths))
    streamed = dataclasses.replace(memory, stream=True)
    experiment = jaxlab.get_experiment("cape.advection")
    training = TRAINING
    callback = jaxlab.Training(training.models, training.data, _callback_batches).experiment(
        "bench.cape_callback", "", AdvectionConfig, lambda *a: {}
    )
    paths = (
        ("in memory", experiment, memory),
        ("streamed", experiment, streamed),
        ("host callback", callback, memory),
    )
    compile_s = {label: jaxlab.sweep(exp, config, 1, chunk_size=100).compile_seconds
                 for label, exp, config in paths}  # fmt: skip
    rows = []
    for round_ in range(rounds):
        for label, exp, config in paths:
            again = jaxlab.sweep(exp, config, 1, chunk_size=100)
            row = {
                "data": label,
                "round": round_,
                "steps": steps,
                "compile_s": compile_s[label],
                "run_s": again.run_seconds,
                "steps_per_s": steps / again.run_seconds,
                "load": os.getloadavg()[0],
                "unseen_nrmse": float(
                    np.asarray(again.results["final"]["cape_fno/unseen_nrmse"])[0]
                ),
            }
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


def bench_big_file(path, samples=2700, steps=100, batch=50):
    path = Path(path)
    if not path.exists():
        cli = "from jaxlab._cli import main; main()"
        subprocess.run([sys.executable, "-c", cli, "data", "generate", "advection",
                        "--samples", str(samples), "--set", "beta=0.4", "--out", str(path)],
                       check=True)  # fmt: skip
    config = AdvectionConfig()
    source = cape.PDEBenchFile(path)

    class Downsampled:  # the rows at the experiment's resolution, as a dict
        shape = source.shape

        def read(self, index):
            u, params = source.read(index, config.time, config.space)
            return {"u": u, "params": params}

    stream = jaxlab.Stream(Downsampled(), batch, str(path))
    base = jaxlab.sampler(stream, batch)
    frames = len(range(0, source.shape[1], config.time))
    sample = cape.curriculum_sampler(base, steps, config.warmup_steps, frames)

    def loss(model, batch, key):
        return cape.rollout_loss(model, batch, key, warmup_steps=config.warmup_steps)

    init = lambda key: init_model(config, "cape_fno", key)
    start = time.perf_counter()
    result = jaxlab.fit(
        loss, init, optax.adam(1e-3), stream, batches=lambda data: sample, steps=steps,
        chunk_size=25,
    )  # fmt: skip
    jax.block_until_ready(result.losses)
    row = {
        "file_gib": path.stat().st_size / 2**30,
        "file_shape": list(source.shape),
        "steps": steps,
        "batch": batch,
        "wall_s": time.perf_counter() - start,
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "target_gib": 4.0,
    }
    row["pass"] = row["peak_rss_gib"] < 4.0
    print(json.dumps(row), flush=True)
    return row


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--burgers-samples", type=int, default=20)
    parser.add_argument("--scaling", action="store_true")
    parser.add_argument("--skip-models", action="store_true")
    parser.add_argument("--big-file")
    parser.add_argument("--data-paths", metavar="FOLDER", help="in memory vs streamed vs callback")
    parser.add_argument("--data-steps", type=int, default=400)
    parser.add_argument("--data-rounds", type=int, default=3)
    parser.add_argument("--big-samples", type=int, default=2700)
    parser.add_argument("--big-steps", type=int, default=100)
    parser.add_argument("--json")
    args = parser.parse_args()
    results = {"machine": machine()}
    print(json.dumps(results["machine"]), flush=True)
    if args.data_paths:
        results["data_paths"] = bench_data_paths(args.data_paths, args.data_steps, args.data_rounds)
        _write(results, args.json)
        return
    if args.big_file:
        results["big_file"] = bench_big_file(args.big_file, args.big_samples, args.big_steps)
        _write(results, args.json)
        return
    gens = []
    row, _ = bench_generator("advection beta=0.4", cape.AdvectionData(beta=0.4), args.samples, 22.3)
    row["target"], row["pass"] = "<= 22 s per 1000", row["s_per_1000"] <= 22.0
    gens.append(row)
    for nu, anchor in ((0.1, 7350.0), (0.01, 610.0)):
        row, _ = bench_generator(
            f"burgers nu={nu}", cape.BurgersData(nu=nu), args.burgers_samples, anchor
        )
        if nu == 0.1:
            row["target"], row["pass"] = ">= 10x PDEBench", row["speedup_vs_pdebench"] >= 10
        gens.append(row)
    row, _ = bench_generator(
        "diffusion_reaction nu=0.5 rho=1", cape.DiffusionReactionData(), args.burgers_samples
    )
    gens.append(row)
    results["generators"] = gens
    results["accuracy"] = accuracy()
    if not args.skip_models:
        results["models"] = bench_models()
    if args.scaling:
        results["scaling"] = bench_scaling()
    _write(results, args.json)


def _write(results, path):
    if path:
        with open(path, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
