"""Benchmark `jaxlab.nde`: memory of the exact reversible adjoint.

Run it from the repository root:

    python benchmarks/bench_nde.py                  # full sizes (a few minutes on 2 cores)
    python benchmarks/bench_nde.py --quick          # small sizes, about a minute
    python benchmarks/bench_nde.py --json out.json  # also write the results as JSON

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

Memory figures come from XLA's buffer assignment of the compiled program: other processes
on the machine do not change them.
"""

import argparse
import json
import os
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp

import jaxlab
from jaxlab.nde._reversible import _forward, reversible_heun


# (a): the problem.
BATCH, DIM, WIDTH, DEPTH = 128, 8, 64, 2
STEPS, QUICK_STEPS = (100, 1000, 10000), (100, 1000)
FLAT_TARGET = 1.1


# --- the machine -----------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    return {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "jax": jax.__version__,
        "diffrax": diffrax.__version__,
        "jaxlab": jaxlab.__version__,
        "devices": [str(d) for d in jax.devices()],
    }


def print_machine(info: dict[str, Any]) -> None:
    print(f"CPU:     {info['cpu']}, {info['cpu_count']} cores")
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


SECTIONS: list[Callable[[bool], dict[str, Any]]] = [bench_reversible_memory]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, about a minute")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the results as JSON")
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "full"

    info = machine()
    print(f"jaxlab.nde benchmark ({mode})")
    print_machine(info)
    print()

    results = []
    for section in SECTIONS:
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
