"""Benchmark `jaxlab.sensing`: end to end, seed scaling, JAX against NumPy, recompilation.

Run it from the repository root, in a fresh process (measurement (a) includes compiling):

    python benchmarks/bench_sensing.py                  # paper-scale defaults (minutes)
    python benchmarks/bench_sensing.py --quick          # small sizes, about a minute
    python benchmarks/bench_sensing.py --json out.json  # also write the results as JSON
    python benchmarks/bench_sensing.py --repeat 3       # best of 3 timed calls in (b)-(d)

It prints the machine, one line per measurement as it finishes, and a summary table.
Each measurement states its target and PASS or FAIL; the script exits 0 either way (it is
a benchmark, not a test). Record the results, with the machine, in `BENCHMARKS.md` at the
repository root.

- (a) End to end: `jaxlab.run_experiment("sensing.overparam", seeds=8)` at the default
  config, the first thing the process does, timed wall-clock (compiling, running,
  reporting and writing the results folder), with the compile and run seconds read back
  from the folder's `environment.json`. Target: total <= 120 s. `--quick` runs the
  experiment's `quick()` config instead, where the target does not apply.
- (b) Seed scaling: `jaxlab.sweep` of `sensing.overparam` with 8 seeds against 1 seed,
  each called once to compile, then timed on a second call (`run_seconds`).
  Target: t8 / t1 <= 2.5. `--quick` uses the default sizes with fewer steps.
- (c) JAX against NumPy: asymmetric GD (n = 50, r = 3, k = 5, m = 1000, condition number
  2, F at scale alpha = 0.1 and G at alpha/3 as in `sensing.overparam`, step 0.5, 3000
  steps; 200 with `--quick`) on one problem from 8 initializations, as one
  `jit(vmap(jaxlab.sensing.asymmetric_gd))` call, against the plain float64 NumPy loop
  of a paper's script (a Python loop over iterations inside a Python loop over seeds),
  from the same factors. Every point of the error curves must agree to a relative 1e-8.
  Target: NumPy time / JAX time >= 5.
- (d) No recompilation: the second `jaxlab.sweep` calls of (b) must report
  `compile_seconds == 0`, and no XLA compilation may happen during them.

Timings are wall-clock (`time.perf_counter`), blocked until ready. Other processes on
the machine distort them: the load average at the start is printed with the machine, and
`--repeat N` reports the fastest of N compiled calls (the NumPy loop runs once).
"""

import argparse
import dataclasses
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import jaxlab
from jaxlab import sensing
from jaxlab._results import machine as machine_description


EXPERIMENT = "sensing.overparam"
SEEDS = 8
END_TO_END_TARGET_S = 120.0
SCALING_TARGET = 2.5
SPEEDUP_TARGET = 5.0
AGREEMENT_TOL = 1e-8

# Measurement (c): the problem and the method.
N, RANK, WIDTH, M, ALPHA, ETA, CONDITION, IMBALANCE = 50, 3, 5, 1000, 0.1, 0.5, 2.0, 1 / 3
STEPS = 3000
QUICK_NUMPY_STEPS = 200
QUICK_SWEEP_STEPS = 100

BACKEND_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def count(n: int | None) -> str:
    return "n/a" if n is None else str(n)


class CompileCounter:
    """Counts XLA backend compilations while active (`with CompileCounter() as c: ...`)."""

    def __init__(self):
        self.count = 0

    def _listener(self, event: str, duration: float, **kwargs: Any) -> None:
        if event == BACKEND_COMPILE_EVENT:
            self.count += 1

    def __enter__(self):
        jax.monitoring.register_event_duration_secs_listener(self._listener)
        return self

    def __exit__(self, *exc):
        jax.monitoring.unregister_event_duration_listener(self._listener)


# --- the machine -----------------------------------------------------------------------


def numpy_blas() -> dict[str, Any]:
    """NumPy's BLAS as built (show_config) and, if threadpoolctl is installed, as loaded."""
    info: dict[str, Any] = {}
    try:
        blas = np.show_config("dicts")["Build Dependencies"]["blas"]
        info["build"] = " ".join(
            str(blas.get(k, "")) for k in ("name", "version", "openblas configuration")
        ).strip()
    except Exception as error:  # the layout of show_config differs between versions
        info["build"] = f"unknown ({type(error).__name__})"
    try:
        from threadpoolctl import threadpool_info

        info["loaded"] = [
            {k: p.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
            for p in threadpool_info()
        ]
    except ImportError:
        info["loaded"] = "threadpoolctl not installed"
    variables = ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "XLA_FLAGS")
    info["environment"] = {v: os.environ[v] for v in variables if v in os.environ}
    return info


def machine_before_jax() -> dict[str, Any]:
    """What can be learnt without initializing a JAX backend: jaxlab's machine description
    without the devices, and NumPy's BLAS."""
    return {**machine_description(devices=False), "numpy_blas": numpy_blas()}


# --- (a) end to end --------------------------------------------------------------------


def bench_end_to_end(quick: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = Path(tmp) / "overparam"
        start = time.perf_counter()
        jaxlab.run_experiment(EXPERIMENT, seeds=SEEDS, quick=quick, out_dir=out_dir, progress=False)
        total = time.perf_counter() - start
        env = jaxlab.read_results(out_dir)["environment"]
    compile_s, run_s = env["compile_seconds"], env["run_seconds"]
    return {
        "config": "quick()" if quick else "defaults",
        "seeds": SEEDS,
        "total_seconds": total,
        "compile_seconds": compile_s,
        "run_seconds": run_s,
        "other_seconds": total - compile_s - run_s,
        "target": f"total <= {END_TO_END_TARGET_S:g} s (default config)",
        "pass": None if quick else total <= END_TO_END_TARGET_S,
    }


# --- (b) seed scaling and (d) no recompilation -----------------------------------------


def timed_sweep(experiment, config, seeds: int, repeat: int) -> dict[str, Any]:
    """Sweep once to compile, then `repeat` identical calls; the fastest is reported."""
    with CompileCounter() as first_compiles:
        first = jaxlab.sweep(experiment, config, seeds=seeds)
    calls = []
    with CompileCounter() as compiles:
        for _ in range(repeat):
            start = time.perf_counter()
            result = jaxlab.sweep(experiment, config, seeds=seeds)
            calls.append((result.run_seconds, time.perf_counter() - start, result.compile_seconds))
    run_s, wall, _ = min(calls)
    return {
        "seeds": seeds,
        "first_compile_seconds": first.compile_seconds,
        "first_run_seconds": first.run_seconds,
        "first_xla_compiles": first_compiles.count,
        "compile_seconds": max(c[2] for c in calls),
        "run_seconds": run_s,
        "run_seconds_all": [c[0] for c in calls],
        "wall_seconds": wall,
        "xla_compiles": compiles.count,
    }


def bench_sweeps(steps: int | None, repeat: int) -> tuple[dict[str, Any], dict[str, Any]]:
    experiment = jaxlab.get_experiment(EXPERIMENT)
    config = experiment.default_config()
    if steps is not None:
        config = dataclasses.replace(config, steps=steps)
    one = timed_sweep(experiment, config, 1, repeat)
    many = timed_sweep(experiment, config, SEEDS, repeat)
    ratio = many["run_seconds"] / one["run_seconds"]
    scaling = {
        "config": "defaults" if steps is None else f"defaults with steps={steps}",
        "steps": config.steps,
        "t1_seconds": one["run_seconds"],
        f"t{SEEDS}_seconds": many["run_seconds"],
        "ratio": ratio,
        "target": f"t{SEEDS}/t1 <= {SCALING_TARGET:g}",
        "pass": ratio <= SCALING_TARGET,
    }
    # The 1-seed sweep is compiled afresh (measurement (a) used 8 seeds): if no XLA
    # compilation was seen then, the compile event cannot be observed in this JAX version.
    if one["first_xla_compiles"] == 0:
        for call in (one, many):
            call["xla_compiles"] = None
    ok = all(s["compile_seconds"] == 0 and not s["xla_compiles"] for s in (one, many))
    recompile = {
        "calls": [one, many],
        "target": "second identical call: compile_seconds == 0, no XLA compilation",
        "pass": ok,
    }
    return scaling, recompile


# --- (c) JAX against NumPy -------------------------------------------------------------


def numpy_asymmetric_gd(
    a: np.ndarray,
    y: np.ndarray,
    target: np.ndarray,
    f: np.ndarray,
    g: np.ndarray,
    eta: float,
    steps: int,
) -> np.ndarray:
    """Asymmetric GD as a paper's script writes it: relative errors at t = 0..steps."""
    n1, n2 = target.shape
    norm = np.linalg.norm(target)
    errors = np.empty(steps + 1)
    errors[0] = np.linalg.norm(f @ g.T - target) / norm
    for t in range(steps):
        s = (a.T @ (a @ (f @ g.T).reshape(-1) - y)).reshape(n1, n2)
        f, g = f - eta * s @ g, g - eta * s.T @ f
        errors[t + 1] = np.linalg.norm(f @ g.T - target) / norm
    return errors


def bench_numpy(steps: int, repeat: int) -> dict[str, Any]:
    with jax.enable_x64(True):
        key_problem, key_init = jax.random.split(jax.random.key(0))
        problem = sensing.asymmetric_problem(key_problem, N, N, RANK, M, CONDITION)

        def init(key):
            key_f, key_g = jax.random.split(key)
            return (
                sensing.small_init(key_f, N, WIDTH, ALPHA),
                sensing.small_init(key_g, N, WIDTH, IMBALANCE * ALPHA),
            )

        f0, g0 = jax.vmap(init)(jax.random.split(key_init, SEEDS))
        eta = jnp.asarray(ETA)

        def errors(problem, f0, g0, eta):
            return sensing.asymmetric_gd(problem, f0, g0, eta, steps).errors

        batched = jax.jit(jax.vmap(errors, in_axes=(None, 0, 0, None)))
        start = time.perf_counter()
        compiled = batched.lower(problem, f0, g0, eta).compile()
        compile_s = time.perf_counter() - start
        jax.block_until_ready(compiled(problem, f0, g0, eta))  # warm-up
        jax_s = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            jax_errors = jax.block_until_ready(compiled(problem, f0, g0, eta))
            jax_s = min(jax_s, time.perf_counter() - start)

    a, y, target = (
        np.asarray(x, np.float64)
        for x in (problem.measurements, problem.observations, problem.target)
    )
    f0, g0 = np.asarray(f0, np.float64), np.asarray(g0, np.float64)
    start = time.perf_counter()
    numpy_errors = np.stack(
        [numpy_asymmetric_gd(a, y, target, f0[i], g0[i], ETA, steps) for i in range(SEEDS)]
    )
    numpy_s = time.perf_counter() - start

    jax_errors = np.asarray(jax_errors)
    relative = np.abs(jax_errors - numpy_errors) / np.abs(numpy_errors)
    speedup = numpy_s / jax_s
    agree = bool(np.all(np.isfinite(relative)) and relative.max() < AGREEMENT_TOL)
    return {
        "problem": dict(n=N, r=RANK, k=WIDTH, m=M, alpha=ALPHA, eta=ETA, steps=steps, seeds=SEEDS),
        "jax_compile_seconds": compile_s,
        "jax_seconds": jax_s,
        "numpy_seconds": numpy_s,
        "speedup": speedup,
        "max_relative_difference": float(relative.max()),
        "final_relative_difference": float(relative[:, -1].max()),
        "final_error_median": float(np.median(numpy_errors[:, -1])),
        "target": f"numpy/jax >= {SPEEDUP_TARGET:g}, curves agree to {AGREEMENT_TOL:g}",
        "agree": agree,
        "pass": agree and speedup >= SPEEDUP_TARGET,
    }


# --- printing --------------------------------------------------------------------------


def status(result: dict[str, Any]) -> str:
    if result["pass"] is None:
        return "n/a (quick config; the target is for the defaults)"
    return verdict(result["pass"])


def print_machine(info: dict[str, Any]) -> None:
    blas = info["numpy_blas"]
    cores = f"{info['cpu_count']} cores ({info['cpus_usable']} usable)"
    print(f"CPU:     {info['processor']}, {cores}")
    load = info["load_average"]
    if load is not None:
        print(f"load:    {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (1, 5, 15 min, at the start)")
    print(f"python:  {info['python']}, jax {info['jax']}, jaxlab {info['jaxlab']}")
    print(f"numpy:   {info['numpy']}, BLAS {blas['build']}")
    if isinstance(blas["loaded"], list):
        for pool in blas["loaded"]:
            print(f"         loaded: {pool}")
    if blas["environment"]:
        print(f"         environment: {blas['environment']}")


def print_table(mode: str, results: dict[str, Any]) -> None:
    a, b, c, d = (results[k] for k in ("end_to_end", "scaling", "numpy", "recompile"))
    one, many = d["calls"]
    rows = [
        (
            f"(a) jaxlab run {EXPERIMENT}, {a['seeds']} seeds, {a['config']}",
            f"{a['total_seconds']:.1f} s (compile {a['compile_seconds']:.1f}, "
            f"run {a['run_seconds']:.1f}, other {a['other_seconds']:.1f})",
            a["target"],
            status(a),
        ),
        (
            f"(b) sweep {SEEDS} seeds vs 1, {b['config']}",
            f"{b[f't{SEEDS}_seconds']:.2f} s / {b['t1_seconds']:.2f} s = {b['ratio']:.2f}",
            b["target"],
            status(b),
        ),
        (
            f"(c) NumPy vs jit(vmap) asymmetric GD, {c['problem']['steps']} steps, {SEEDS} seeds",
            f"{c['numpy_seconds']:.2f} s / {c['jax_seconds']:.3f} s = {c['speedup']:.1f}x; "
            f"max rel. diff {c['max_relative_difference']:.1e}",
            c["target"],
            status(c),
        ),
        (
            "(d) second identical sweep call",
            f"compile {one['compile_seconds']:g} s, {count(one['xla_compiles'])} XLA compiles "
            f"(1 seed); compile {many['compile_seconds']:g} s, {count(many['xla_compiles'])} "
            f"({SEEDS} seeds)",
            "compile_seconds == 0",
            status(d),
        ),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    print(f"\nSummary ({mode})")
    header = ("measurement", "result", "target", "")
    for row in (header, tuple("-" * w for w in widths) + ("----",), *rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths + [0])).rstrip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, about a minute")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the results as JSON")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="time N compiled calls in (b), (c) and (d) and report the fastest (default 1)",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    mode = "quick" if args.quick else "full"

    machine = machine_before_jax()
    print(f"jaxlab.sensing benchmark ({mode})")
    print_machine(machine)

    # (a) first: the process has compiled nothing yet, as under `jaxlab run`.
    results: dict[str, Any] = {}
    results["end_to_end"] = a = bench_end_to_end(args.quick)
    machine["devices"] = [str(d) for d in jax.devices()]
    print(f"devices: {', '.join(machine['devices'])}\n")
    print(
        f"(a) run_experiment({EXPERIMENT!r}, seeds={SEEDS}) with the {a['config']} config: "
        f"{a['total_seconds']:.1f} s total = compile {a['compile_seconds']:.1f} s + run "
        f"{a['run_seconds']:.1f} s + other {a['other_seconds']:.1f} s "
        f"[target {a['target']}: {status(a)}]",
        flush=True,
    )

    scaling, recompile = bench_sweeps(QUICK_SWEEP_STEPS if args.quick else None, args.repeat)
    results["scaling"], results["recompile"] = scaling, recompile
    print(
        f"(b) sweep, {scaling['config']}: t{SEEDS} = {scaling[f't{SEEDS}_seconds']:.2f} s, "
        f"t1 = {scaling['t1_seconds']:.2f} s, ratio {scaling['ratio']:.2f} "
        f"[target {scaling['target']}: {status(scaling)}]",
        flush=True,
    )
    for call in recompile["calls"]:
        print(
            f"(d) second sweep call, {call['seeds']} seed(s): compile_seconds "
            f"{call['compile_seconds']:g} (first call {call['first_compile_seconds']:.1f}), "
            f"{count(call['xla_compiles'])} XLA compiles (first call "
            f"{call['first_xla_compiles']}), wall {call['wall_seconds']:.3f} s "
            f"vs run {call['run_seconds']:.3f} s",
            flush=True,
        )
    print(f"    [target {recompile['target']}: {status(recompile)}]", flush=True)

    results["numpy"] = c = bench_numpy(QUICK_NUMPY_STEPS if args.quick else STEPS, args.repeat)
    problem = ", ".join(f"{k}={v:g}" for k, v in c["problem"].items())
    print(
        f"(c) asymmetric GD, {problem}: NumPy {c['numpy_seconds']:.2f} s, JAX "
        f"{c['jax_seconds']:.3f} s (compile {c['jax_compile_seconds']:.1f} s), speed-up "
        f"{c['speedup']:.1f}x; curves agree to {c['max_relative_difference']:.1e} "
        f"(final {c['final_relative_difference']:.1e}, median final error "
        f"{c['final_error_median']:.2e}) [target {c['target']}: {status(c)}]",
        flush=True,
    )

    if hasattr(os, "getloadavg"):
        machine["load_average_end"] = list(os.getloadavg())
    print_table(mode, results)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"mode": mode, "repeat": args.repeat, "machine": machine, "results": results}
        args.json.write_text(json.dumps(payload, indent=2, default=float) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
