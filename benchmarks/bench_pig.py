"""Benchmark `jaxlab.pig`: milliseconds per iteration, derivative cost against plain
autodiff, memory of the flow-mixing setting, and seed scaling.

Run from the repository root:

    python benchmarks/bench_pig.py                  # everything (many minutes on a CPU)
    python benchmarks/bench_pig.py --only a,b       # some measurements
    python benchmarks/bench_pig.py --json out.json  # also write the results as JSON

- (a) ms per iteration of PIG and the PINN for every registered problem at its default
  (paper-scale) settings: the core's training step scanned 2 times for one seed, compiled
  and warmed up first (compile time apart), blocked until ready.
- (b) Derivative cost: one Adam step of PIG on Helmholtz with 4 x 400 Gaussians and 2,000
  collocation points (plus 4 x 500 boundary points), with the derivatives from jaxlab's
  closed-form jets against plain per-point forward-over-reverse autodiff (the Laplacian
  by `jax.jacfwd(jax.grad(u))`); values without derivatives (boundary, monitor) are
  computed the same way in both. Target: jaxlab at least 5x faster. The two steps are
  timed alternately, 7 times each, medians reported, in wall and CPU time of the process.
- (c) Memory: XLA's buffer assignment (temporary bytes) of one loss-and-gradient of PIG at
  the flow-mixing setting (4 x 4,000 Gaussians, 27,000 collocation points, 900 points per
  face). Target: <= 4 GiB, through chunking.
- (d) Seed scaling: `jaxlab.sweep` of `pig.helmholtz --quick` (PIG only) with 4 seeds
  against 1 seed, second calls timed. Target: t4 / t1 <= 2.5.
"""

import argparse
import dataclasses
import json
import os
import platform
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

import jaxlab
from jaxlab import pig
from jaxlab._model import split_model
from jaxlab._train import init_state, train_chunk
from jaxlab.pig import FlowMixingConfig, HelmholtzConfig
from jaxlab.pig._training import batches, host_data


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{cpu}, {os.cpu_count()} cores, jax {jax.__version__} on "
        f"{jax.devices()[0].platform}, load average {load:.1f}"
    )


class Autodiff(pig.Field):
    """The same model, with derivatives by plain per-point autodiff."""

    inner: pig.Field

    def __init__(self, inner):
        self.inner, self.scale, self.shift = inner, inner.scale, inner.shift

    def __call__(self, x):
        return self.inner(x)

    def batch_values(self, points, chunk=None):
        return self.inner.batch_values(points, chunk)  # values as jaxlab computes them

    def jet(self, x):
        grad = jax.grad(self.inner)(x)
        hessian = jax.jacfwd(jax.grad(self.inner))(x)
        return pig.Jet(self.inner(x), grad, jnp.diagonal(hessian))

    def cost_per_point(self):
        return self.inner.cost_per_point()


def compiled_step(init, loss, optimizer, cfg, n_steps=2):
    """`(time_once, compile_s)`: the core's training step scanned `n_steps` times on the
    batches of `cfg` (its data an argument), compiled and warmed up; `time_once()` runs it
    once more and gives (wall ms, CPU ms) per step."""
    key = jax.random.key(0)
    layout = split_model(eqx.filter_eval_shape(init, key))[2]
    state = init_state(init(key), optimizer, key)
    data = jax.device_put(host_data(cfg))

    def run(s, d):
        sample = batches(cfg, d)
        return train_chunk(s, n_steps, loss=loss, layout=layout, optimizer=optimizer, sample=sample)

    start = time.perf_counter()
    compiled = jax.jit(run).lower(state, data).compile()
    compile_s = time.perf_counter() - start
    jax.block_until_ready(compiled(state, data))

    def time_once():
        wall, cpu = time.perf_counter(), time.process_time()
        jax.block_until_ready(compiled(state, data))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        return 1e3 * wall / n_steps, 1e3 * cpu / n_steps

    return time_once, compile_s


def step_time(init, loss, optimizer, cfg, n_steps=2):
    time_once, compile_s = compiled_step(init, loss, optimizer, cfg, n_steps)
    return (*time_once(), compile_s)


def measure_a(results):
    for name, experiment in jaxlab.experiments().items():
        if not name.startswith("pig."):
            continue
        cfg = experiment.config()
        for model in cfg.models():
            spec = pig.model_specs(cfg)[model]
            ms, cpu_ms, compile_s = step_time(spec.init, spec.loss, spec.optimizer, cfg)
            results[f"a/{name}/{model}/ms_per_iter"] = ms
            print(f"(a) {name:18s} {model:4s} {ms:9.1f} ms/iter ({cpu_ms:.0f} ms CPU), "
                  f"compile {compile_s:.1f} s", flush=True)  # fmt: skip


def measure_b(results):
    cfg = dataclasses.replace(
        HelmholtzConfig(), model="pig", n_gaussians=400, collocation=2000,
        boundary_points=500, optimizer="adam", learning_rate=1e-2,
    )  # fmt: skip
    spec = pig.model_specs(cfg)["pig"]
    timers = [
        compiled_step(init, spec.loss, spec.optimizer, cfg)[0]
        for init in (spec.init, lambda k: Autodiff(spec.init(k)))
    ]
    # Alternate the two, 7 times each, and take medians: load changes hit both alike.
    times = np.array([[t() for t in timers] for _ in range(7)])  # (repeat, model, wall/cpu)
    fast, slow = np.median(times, axis=0)
    ratio, ratio_cpu = slow[0] / fast[0], slow[1] / fast[1]
    results.update({"b/jaxlab_ms": fast[0], "b/autodiff_ms": slow[0], "b/ratio": ratio,
                    "b/jaxlab_cpu_ms": fast[1], "b/autodiff_cpu_ms": slow[1],
                    "b/ratio_cpu": ratio_cpu})  # fmt: skip
    print(f"(b) Adam step, 4x400 Gaussians, 2000 points: jaxlab {fast[0]:.1f} ms "
          f"({fast[1]:.0f} CPU), autodiff {slow[0]:.1f} ms ({slow[1]:.0f} CPU): "
          f"{ratio:.1f}x wall, {ratio_cpu:.1f}x CPU (target >= 5x) "
          f"{'PASS' if ratio >= 5 else 'FAIL'}", flush=True)  # fmt: skip


def measure_c(results):
    cfg = dataclasses.replace(FlowMixingConfig(), model="pig")
    spec = pig.model_specs(cfg)["pig"]
    model = spec.init(jax.random.key(0))
    params, buffers, layout = split_model(model)
    batch = batches(cfg, jax.device_put(host_data(cfg)))(jax.random.key(1))

    def value_and_grad(p, b):
        return jax.value_and_grad(lambda q: spec.loss(layout.merge(q, buffers), b, None)[0])(p)

    compiled = jax.jit(value_and_grad).lower(params, batch).compile()
    memory = compiled.memory_analysis()
    temp = getattr(memory, "temp_size_in_bytes", float("nan")) / 2**30
    args = getattr(memory, "argument_size_in_bytes", float("nan")) / 2**30
    results.update({"c/temp_gib": temp, "c/argument_gib": args})
    print(f"(c) flow mixing, 16,000 Gaussians x 27,000 points: temporaries {temp:.2f} GiB, "
          f"arguments {args:.3f} GiB (target <= 4 GiB) {'PASS' if temp + args <= 4 else 'FAIL'}",
          flush=True)  # fmt: skip


def measure_d(results):
    experiment = jaxlab.get_experiment("pig.helmholtz")
    cfg = dataclasses.replace(HelmholtzConfig.quick(), model="pig", time_steps=0)
    times = {}
    for seeds in (1, 4):
        jaxlab.sweep(experiment, cfg, seeds)
        times[seeds] = jaxlab.sweep(experiment, cfg, seeds).run_seconds
    ratio = times[4] / times[1]
    results.update({"d/t1": times[1], "d/t4": times[4], "d/ratio": ratio})
    print(
        f"(d) pig.helmholtz --quick, 4 seeds / 1 seed: {times[4]:.1f} s / {times[1]:.1f} s "
        f"= {ratio:.2f}x (target <= 2.5x) {'PASS' if ratio <= 2.5 else 'FAIL'}",
        flush=True,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="a,b,c,d")
    parser.add_argument("--json")
    args = parser.parse_args()
    print(machine(), flush=True)
    results = {"machine": machine()}
    for part in args.only.split(","):
        {"a": measure_a, "b": measure_b, "c": measure_c, "d": measure_d}[part.strip()](results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2, default=float)


if __name__ == "__main__":
    main()
