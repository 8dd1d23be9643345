"""Benchmark `jaxlab.nde`: reversible-adjoint memory, step cost, seed scaling, experiments.

Run it from the repository root:

    python benchmarks/bench_nde.py                  # full sizes (a few minutes on 2 cores)
    python benchmarks/bench_nde.py --quick          # small sizes, about a minute
    python benchmarks/bench_nde.py --json out.json  # also write the results as JSON
    python benchmarks/bench_nde.py --only bc        # only sections (b) and (c)

It prints the machine, one line per measurement as it finishes, a table per section and a
summary. Each section states its target and PASS or FAIL; the script exits 0 either way (it
is a benchmark, not a test). Record the results, with the machine, in `BENCHMARKS.md` at
the repository root. Sections are functions `section(quick) -> dict` listed in `SECTIONS`;
each returns its rows, a one-line result, its target and whether it passed.

- (a) Reversible adjoint memory against the number of solver steps: the gradient of a
  neural ODE loss, `mean(y(1)**2)` for a batch of 128 states of dimension 8 under an MLP
  field (width 64, depth 2, tanh), over [0, 1] in n equal steps of the reversible Heun
  method, n = 100, 1000, 10000 (100, 1000 with `--quick`), float32. Each gradient is
  `jax.jit(jax.grad(loss)).lower(...).compile()`d (never run) and its
  `memory_analysis()` read: temporary bytes, and peak = arguments + outputs + temporaries
  - aliased, for (i) `jaxlab.nde.reversible_heun` (the exact reversible adjoint),
  (ii) `diffrax.diffeqsolve` with `ReversibleHeun`, `ConstantStepSize` and the default
  `RecursiveCheckpointAdjoint` (`max_steps = n`; equinox then keeps about sqrt(2n)
  checkpoints), and (iii) plain backpropagation through a `lax.scan` over the same steps.
  Target: the reversible adjoint's peak is flat (max / min over n <= 1.1) while
  checkpointing's grows (max / min > 1.1). As a check, the three gradients at the smallest
  n are also run once and compared (float32, so agreement is to about 1e-5).

- (b) Training-step cost: one Adam step (loss, gradient by the default recursive
  checkpointing, update) of `jaxlab.nde.NeuralODE(MLPField(size=2, width=64, depth=2))`
  on a batch of 64 trajectories at 40 times on [0, 5], Tsit5 with a PID controller (rtol
  1e-4, atol 1e-6), against the same MLP solved directly with `diffrax.diffeqsolve` (same solver,
  controller, tolerances, saves and batch). Each step is compiled first, then timed as the
  best of 30 calls, the four steps interleaved call by call. Target: jaxlab / diffrax <=
  1.1. Where `torch` and `torchdiffeq` are installed, the same step (same MLP and data,
  `dopri5`, same tolerances, batched state) is also timed in torchdiffeq and compared with
  jaxlab's step using Dopri5; the ratio is printed (no target; torchdiffeq's error norm is
  over the whole batch, so its step count can differ). Without torch the row says it was
  skipped.
- (c) Seed scaling: `jaxlab.sweep("nde.spirals", ...)` at the default config (20 steps
  with `--quick`), 8 seeds against 1, each compiled by a first call and timed on the
  second (`run_seconds`). Target: t8 / t1 <= 3.
- (d) Every `nde.*` experiment at its `--quick` config over 8 seeds through
  `jaxlab.run_experiment`: compile and run seconds (from `environment.json`) and wall
  time. Target: `nde.spirals --quick` under 60 s wall, compile included (it runs first,
  in a process that has already compiled (a)-(c), so its cache is warm only for jax
  itself, not for this config).

Memory figures come from XLA's buffer assignment of the compiled program: other processes
on the machine do not change them. Timings do: the load average at the start is printed.
"""

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxlab
from jaxlab import nde
from jaxlab._results import machine as machine_description
from jaxlab.nde._reversible import _forward, reversible_heun


# (a): the problem.
BATCH, DIM, WIDTH, DEPTH = 128, 8, 64, 2
STEPS, QUICK_STEPS = (100, 1000, 10000), (100, 1000)
FLAT_TARGET = 1.1


# --- the machine -----------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """jaxlab's machine description, with the diffrax version."""
    return {**machine_description(), "diffrax": diffrax.__version__}


def print_machine(info: dict[str, Any]) -> None:
    print(f"CPU:     {info['processor']}, {info['cpu_count']} cores")
    if info["load_average"] is not None:
        load = info["load_average"]
        print(f"load:    {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (1, 5, 15 min, at the start)")
    print(f"python:  {info['python']}, jax {info['jax']}, diffrax {info['diffrax']}, ", end="")
    print(f"jaxlab {info['jaxlab']}")
    print(f"devices: {', '.join(info['devices'])}")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def mib(n_bytes: int) -> str:
    return f"{n_bytes / 2**20:.2f}"


def print_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, tuple("-" * w for w in widths), *rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


# --- (a) reversible adjoint memory -----------------------------------------------------


class BatchField(eqx.Module):
    """An MLP vector field applied to each row of a (batch, dim) state."""

    mlp: eqx.nn.MLP

    def __call__(self, t, y, args):
        return jax.vmap(self.mlp)(y)


def memory_solvers(n: int) -> dict[str, Callable]:
    """`solve(field, y0) -> y(1)` with n reversible Heun steps, three ways."""
    ts = jnp.array([0.0, 1.0])

    def reversible(field, y0):
        return reversible_heun(field, y0, ts, substeps=n)[-1]

    def checkpointed(field, y0):
        solution = diffrax.diffeqsolve(
            diffrax.ODETerm(field),
            diffrax.ReversibleHeun(),
            0.0,
            1.0,
            1.0 / n,
            y0,
            stepsize_controller=diffrax.ConstantStepSize(),
            adjoint=diffrax.RecursiveCheckpointAdjoint(),
            max_steps=n,
        )
        return solution.ys[-1]

    def backprop(field, y0):
        return _forward((y0, (field, None), None), ts, None, n)[0][-1]

    return {
        "reversible adjoint": reversible,
        "diffrax recursive checkpoint": checkpointed,
        "backprop (lax.scan)": backprop,
    }


def bench_reversible_memory(quick: bool) -> dict[str, Any]:
    key_field, key_y0 = jax.random.split(jax.random.key(0))
    mlp = eqx.nn.MLP(DIM, DIM, WIDTH, DEPTH, activation=jnp.tanh, key=key_field)
    params, static = eqx.partition(BatchField(mlp), eqx.is_array)
    y0 = jax.random.normal(key_y0, (BATCH, DIM))
    steps = QUICK_STEPS if quick else STEPS

    measurements, check = [], {}
    for n in steps:
        for method, solve in memory_solvers(n).items():

            def loss(params, y0, solve=solve):
                return jnp.mean(solve(eqx.combine(params, static), y0) ** 2)

            compiled = jax.jit(jax.grad(loss)).lower(params, y0).compile()
            stats = compiled.memory_analysis()
            peak = (
                stats.argument_size_in_bytes
                + stats.output_size_in_bytes
                + stats.temp_size_in_bytes
                - stats.alias_size_in_bytes
            )
            row = {
                "n_steps": n,
                "method": method,
                "temp_bytes": stats.temp_size_in_bytes,
                "argument_bytes": stats.argument_size_in_bytes,
                "output_bytes": stats.output_size_in_bytes,
                "alias_bytes": stats.alias_size_in_bytes,
                "peak_bytes": peak,
            }
            measurements.append(row)
            print(
                f"(a) {method}, {n} steps: temp {mib(row['temp_bytes'])} MiB, peak "
                f"{mib(peak)} MiB (arguments {mib(row['argument_bytes'])}, outputs "
                f"{mib(row['output_bytes'])})",
                flush=True,
            )
            if n == steps[0]:
                check[method] = jax.tree.leaves(compiled(params, y0))

    reference = check["backprop (lax.scan)"]
    agreement = {
        method: max(
            float(jnp.max(jnp.abs(g - r)) / jnp.max(jnp.abs(r))) for g, r in zip(grads, reference)
        )
        for method, grads in check.items()
    }
    print(
        f"(a) gradients at {steps[0]} steps, max relative difference to backprop: "
        + ", ".join(f"{m} {d:.1e}" for m, d in agreement.items()),
        flush=True,
    )

    def ratio(method):
        peaks = [m["peak_bytes"] for m in measurements if m["method"] == method]
        return max(peaks) / min(peaks)

    ratios = {method: ratio(method) for method in check}
    flat = ratios["reversible adjoint"] <= FLAT_TARGET
    grows = ratios["diffrax recursive checkpoint"] > FLAT_TARGET
    return {
        "title": "(a) reversible adjoint memory against the number of solver steps",
        "problem": dict(batch=BATCH, dim=DIM, width=WIDTH, depth=DEPTH, steps=list(steps)),
        "measurements": measurements,
        "peak_ratio": ratios,
        "gradient_relative_difference": agreement,
        "table": (
            ("method", *(f"peak MiB, n={n}" for n in steps), "max/min"),
            [
                (
                    method,
                    *(mib(m["peak_bytes"]) for m in measurements if m["method"] == method),
                    f"{ratios[method]:.2f}",
                )
                for method in check
            ],
        ),
        "result": "peak max/min over n: "
        + ", ".join(f"{m.split()[0]} {r:.2f}" for m, r in ratios.items()),
        "target": f"reversible max/min <= {FLAT_TARGET:g} < checkpointing max/min",
        "pass": flat and grows,
    }


# --- (b) training-step cost ------------------------------------------------------------

STEP_BATCH, STEP_TIMES, STEP_WIDTH, STEP_DEPTH, STEP_REPEAT = 64, 40, 64, 2, 30
RTOL, ATOL = 1e-4, 1e-6


def step_problem():
    key_model, key_data = jax.random.split(jax.random.key(0))
    ts = jnp.linspace(0.0, 5.0, STEP_TIMES)
    y0 = jax.random.uniform(key_data, (STEP_BATCH, 2), minval=-1.5, maxval=1.5)
    target = y0[:, None, :] * jnp.stack([jnp.cos(ts), jnp.exp(-0.1 * ts)], -1)[None]
    field = nde.MLPField(size=2, width=STEP_WIDTH, depth=STEP_DEPTH, key=key_model)
    return ts, y0, target, field


def diffrax_solve(ts, solver):
    def solve(mlp, y):
        solution = diffrax.diffeqsolve(
            diffrax.ODETerm(lambda t, y, args: mlp(y)),
            solver,
            ts[0],
            ts[-1],
            None,
            y,
            saveat=diffrax.SaveAt(ts=ts),
            stepsize_controller=diffrax.PIDController(rtol=RTOL, atol=ATOL),
            max_steps=4096,
        )
        return solution.ys

    return solve


def compiled_step(model, solve, y0, target) -> tuple[Callable[[], Any], float]:
    """One jitted Adam step of the parameters of `jaxlab.split_model` (settings stay
    fixed, as in training) as `run() -> outputs`, and the seconds of its first call."""
    optimizer = optax.adam(1e-3)
    params, buffers, layout = jaxlab.split_model(model)

    @jax.jit
    def step(params, opt_state):
        def loss(params):
            model = layout.merge(params, buffers)
            return jnp.mean((jax.vmap(lambda y: solve(model, y))(y0) - target) ** 2)

        value, grads = jax.value_and_grad(loss)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    opt_state = optimizer.init(params)
    start = time.perf_counter()
    jax.block_until_ready(step(params, opt_state))
    return (lambda: step(params, opt_state)), time.perf_counter() - start


def best_seconds(runs: dict[str, Callable[[], Any]]) -> dict[str, float]:
    """Best of STEP_REPEAT timed calls of each run, the runs interleaved round by round
    so that a change in the machine's load hits all of them alike."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(STEP_REPEAT):
        for name, run in runs.items():
            start = time.perf_counter()
            jax.block_until_ready(run())
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def torchdiffeq_seconds(field, ts, y0, target) -> float | None:
    """Best of STEP_REPEAT seconds of the same Adam step in torchdiffeq (dopri5)."""
    try:
        import torch
        import torchdiffeq
    except ImportError:
        return None
    torch.set_num_threads(os.cpu_count() or 1)
    layers = []
    for i, linear in enumerate(field.mlp.layers):
        torch_linear = torch.nn.Linear(linear.in_features, linear.out_features)
        with torch.no_grad():
            torch_linear.weight.copy_(torch.from_numpy(np.array(linear.weight)))
            torch_linear.bias.copy_(torch.from_numpy(np.array(linear.bias)))
        layers += [torch_linear] + ([torch.nn.Softplus()] if i < len(field.mlp.layers) - 1 else [])
    mlp = torch.nn.Sequential(*layers)
    optimizer = torch.optim.Adam(mlp.parameters(), lr=1e-3)
    t = torch.from_numpy(np.array(ts))
    start_state, goal = (torch.from_numpy(np.array(a)) for a in (y0, target))

    def step():
        optimizer.zero_grad()
        ys = torchdiffeq.odeint(
            lambda t, y: mlp(y), start_state, t, rtol=RTOL, atol=ATOL, method="dopri5"
        )
        loss = torch.mean((ys.transpose(0, 1) - goal) ** 2)
        loss.backward()
        optimizer.step()

    step()
    best = float("inf")
    for _ in range(STEP_REPEAT):
        start = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - start)
    return best


def bench_step_cost(quick: bool) -> dict[str, Any]:
    ts, y0, target, field = step_problem()
    raw = {"tsit5": diffrax.Tsit5(), "dopri5": diffrax.Dopri5()}
    runs, first = {}, {}
    for solver in ("tsit5", "dopri5"):
        model = nde.NeuralODE(field, solver=solver, rtol=RTOL, atol=ATOL)
        runs[f"jaxlab {solver}"], first[f"jaxlab {solver}"] = compiled_step(
            model, lambda m, y: m(ts, y), y0, target
        )
        runs[f"diffrax {solver}"], first[f"diffrax {solver}"] = compiled_step(
            field.mlp, diffrax_solve(ts, raw[solver]), y0, target
        )
    best = best_seconds(runs)
    seconds = {name: (first[name], best[name]) for name in runs}
    for name, (first, best) in seconds.items():
        print(f"(b) {name}: step {1e3 * best:.2f} ms (first call {first:.1f} s)", flush=True)
    torch_best = torchdiffeq_seconds(field, ts, y0, target)
    if torch_best is None:
        print("(b) torchdiffeq: skipped (torch and torchdiffeq are not installed)", flush=True)
    else:
        print(f"(b) torchdiffeq dopri5: step {1e3 * torch_best:.2f} ms", flush=True)
    ratio = {s: seconds[f"jaxlab {s}"][1] / seconds[f"diffrax {s}"][1] for s in raw}
    rows = [(name, f"{1e3 * best:.2f}", f"{first:.1f}") for name, (first, best) in seconds.items()]
    if torch_best is not None:
        ratio["torchdiffeq / jaxlab (dopri5)"] = torch_best / seconds["jaxlab dopri5"][1]
        rows.append(("torchdiffeq dopri5", f"{1e3 * torch_best:.2f}", "-"))
    return {
        "title": "(b) neural ODE training step: jaxlab against raw diffrax",
        "seconds": {k: {"first": f, "best": b} for k, (f, b) in seconds.items()},
        "torchdiffeq_seconds": torch_best,
        "ratios": ratio,
        "table": (("model", "step ms (best)", "first call s"), rows),
        "result": ", ".join(f"{k} {v:.2f}" for k, v in ratio.items()),
        "target": "jaxlab / diffrax <= 1.1 (tsit5)",
        "pass": ratio["tsit5"] <= 1.1,
    }


# --- (c) seed scaling ------------------------------------------------------------------


def bench_seed_scaling(quick: bool) -> dict[str, Any]:
    from jaxlab.nde import SpiralsConfig

    config = SpiralsConfig(steps=20) if quick else SpiralsConfig()
    seconds = {}
    for seeds in (1, 8):
        experiment = jaxlab.get_experiment("nde.spirals")
        first = jaxlab.sweep(experiment, config, seeds, progress=False)
        second = jaxlab.sweep(experiment, config, seeds, progress=False)
        seconds[seeds] = second.run_seconds
        print(
            f"(c) nde.spirals, {seeds} seed(s), {config.steps} steps: compile "
            f"{first.compile_seconds:.1f} s, run {second.run_seconds:.2f} s (second call, "
            f"compile {second.compile_seconds:.1f} s)",
            flush=True,
        )
    ratio = seconds[8] / seconds[1]
    return {
        "title": "(c) nde.spirals: 8 seeds in one sweep against 1 seed",
        "seconds": seconds,
        "table": (
            ("seeds", "run s"),
            [(str(k), f"{v:.2f}") for k, v in seconds.items()],
        ),
        "result": f"t8 / t1 = {ratio:.2f}",
        "target": "<= 3",
        "pass": ratio <= 3,
    }


# --- (d) every experiment ----------------------------------------------------------------


def bench_experiments(quick: bool) -> dict[str, Any]:
    names = ["nde.spirals"] + sorted(
        n for n in jaxlab.experiments() if n.startswith("nde.") and n != "nde.spirals"
    )
    rows = {}
    with tempfile.TemporaryDirectory() as folder:
        for name in names:
            start = time.perf_counter()
            _, out_dir = jaxlab.run_experiment(
                name, seeds=8, quick=True, out_dir=Path(folder) / name, progress=False
            )
            wall = time.perf_counter() - start
            env = json.loads((out_dir / "environment.json").read_text())
            rows[name] = {
                "compile_seconds": env["compile_seconds"],
                "run_seconds": env["run_seconds"],
                "wall_seconds": wall,
            }
            print(
                f"(d) {name} --quick, 8 seeds: compile {env['compile_seconds']:.1f} s, "
                f"run {env['run_seconds']:.1f} s, wall {wall:.1f} s",
                flush=True,
            )
    spirals = rows["nde.spirals"]["wall_seconds"]
    return {
        "title": "(d) nde experiments at --quick, 8 seeds: compile and run seconds",
        "experiments": rows,
        "table": (
            ("experiment", "compile s", "run s", "wall s"),
            [
                (
                    n,
                    f"{r['compile_seconds']:.1f}",
                    f"{r['run_seconds']:.1f}",
                    f"{r['wall_seconds']:.1f}",
                )
                for n, r in rows.items()
            ],
        ),
        "result": f"nde.spirals --quick wall {spirals:.1f} s",
        "target": "< 60 s",
        "pass": spirals < 60,
    }


SECTIONS: list[Callable[[bool], dict[str, Any]]] = [
    bench_reversible_memory,
    bench_step_cost,
    bench_seed_scaling,
    bench_experiments,
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, about a minute")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the results as JSON")
    parser.add_argument(
        "--only", metavar="LETTERS", default="abcd", help="the sections to run, e.g. 'bc'"
    )
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "full"

    info = machine()
    print(f"jaxlab.nde benchmark ({mode})")
    print_machine(info)
    print()

    results = []
    for letter, section in zip("abcd", SECTIONS):
        if letter not in args.only:
            continue
        result = section(args.quick)
        results.append(result)
        print(f"\n{result['title']}")
        print_table(*result["table"])
        print(f"[target {result['target']}: {verdict(result['pass'])}]\n", flush=True)

    print(f"Summary ({mode})")
    print_table(
        ("measurement", "result", "target", ""),
        [(r["title"], r["result"], r["target"], verdict(r["pass"])) for r in results],
    )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        sections = [{k: v for k, v in r.items() if k != "table"} for r in results]
        payload = {"mode": mode, "machine": info, "results": sections}
        args.json.write_text(json.dumps(payload, indent=2, default=float) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
