"""`jaxlab bench`: compile time, run time, seed scaling, start-up with a warm compilation
cache and peak memory of every registered experiment, measured the same way, in one table.

Each experiment is measured in fresh processes that share a new, empty persistent
compilation cache: the first (cold) process times a 1-seed sweep (compiling it, filling
the cache) and then an N-seed sweep, each called twice so that run time excludes
compiling; the second (warm) process times the same 1-seed sweep, now loading its
programs from the cache, and counts what it still had to compile (`warm compiles`, 0
when every program was found). Start time is from launching a process to its first result
(Python and JAX start-up, tracing, compiling or loading, one run). Every time is wall
clock, blocked until ready.
"""

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ._experiment import experiments, require


_BACKEND_COMPILE = "/jax/core/compile/backend_compile_duration"  # compiled or loaded
_CACHE_HIT = "/jax/compilation_cache/cache_hits"  # loaded from the persistent cache
COLUMNS = (
    ("experiment", "name", "{}"),
    ("compile s", "compile_seconds", "{:.1f}"),
    ("run s (1 seed)", "run_seconds_1", "{:.3g}"),
    ("run s (N seeds)", "run_seconds_n", "{:.3g}"),
    ("per-seed cost", "per_seed_cost", "{:.2f}"),
    ("cold start s", "cold_start_seconds", "{:.1f}"),
    ("warm start s", "warm_start_seconds", "{:.1f}"),
    ("warm compile s", "warm_compile_seconds", "{:.1f}"),
    ("warm compiles", "warm_compiles", "{}"),
    ("peak host MiB", "peak_host_mib", "{:.0f}"),
    ("peak device MiB", "peak_device_mib", "{:.0f}"),
)


def _peak_device_mib() -> float | None:
    import jax

    stats = [d.memory_stats() or {} for d in jax.local_devices()]
    peaks = [s["peak_bytes_in_use"] for s in stats if "peak_bytes_in_use" in s]
    return max(peaks) / 2**20 if peaks else None


def measure(name: str, seeds: int, quick: bool, warm_only: bool) -> dict[str, Any]:
    """The measurements of one process (see the module docstring); `compiles` counts the
    programs XLA compiled for the first sweep (its data included), not loaded from the
    persistent cache."""
    import jax

    from ._experiment import get_experiment
    from ._sweep import sweep

    events = {_BACKEND_COMPILE: 0, _CACHE_HIT: 0}

    def count(event, *args, **kwargs):
        if event in events:
            events[event] += 1

    jax.monitoring.register_event_listener(count)
    jax.monitoring.register_event_duration_secs_listener(count)
    experiment = get_experiment(name)
    config = experiment.default_config(quick)
    one = sweep(experiment, config, 1)
    out = {
        "first_result_time": time.time(),
        "compile_seconds": one.compile_seconds,
        "compiles": events[_BACKEND_COMPILE] - events[_CACHE_HIT],
    }
    if not warm_only:
        out["run_seconds_1"] = sweep(experiment, config, 1).run_seconds
        sweep(experiment, config, seeds)
        out["run_seconds_n"] = sweep(experiment, config, seeds).run_seconds
        out["per_seed_cost"] = out["run_seconds_n"] / (seeds * out["run_seconds_1"])
    out["peak_host_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["peak_device_mib"] = _peak_device_mib()
    return out


def _measured(name: str, seeds: int, quick: bool, cache: Path, warm_only: bool) -> dict:
    command = [
        sys.executable,
        "-m",
        "jaxlab._bench",
        name,
        str(seeds),
        str(int(quick)),
        str(cache),
        str(int(warm_only)),
    ]
    launched = time.time()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1][:200]}
    out = json.loads(done.stdout.strip().splitlines()[-1])
    out["start_seconds"] = out.pop("first_result_time") - launched
    return out


def bench_experiment(
    name: str, seeds: int = 8, quick: bool = True, start_only: bool = False
) -> dict[str, Any]:
    """Measure one registered experiment in two fresh processes (cold, then warm cache);
    `start_only` skips the run-time and scaling sweeps of the cold process."""
    with tempfile.TemporaryDirectory(prefix="jaxlab-bench-cache-") as cache:
        cold = _measured(name, seeds, quick, Path(cache), warm_only=start_only)
        warm = _measured(name, seeds, quick, Path(cache), warm_only=True)
    row = {"name": name, "seeds": seeds, "quick": quick, **cold}
    row["cold_start_seconds"] = cold.pop("start_seconds", None)
    row.pop("start_seconds", None)
    row["warm_start_seconds"] = warm.get("start_seconds")
    row["warm_compile_seconds"] = warm.get("compile_seconds")
    row["warm_compiles"] = warm.get("compiles")
    if "error" in warm and "error" not in row:
        row["error"] = warm["error"]
    return row


def select(patterns: list[str]) -> list[str]:
    """Registered experiment names matching `patterns` (full names or package names)."""
    names = list(experiments())
    if not patterns:
        return names
    chosen = []
    for pattern in patterns:
        matches = [n for n in names if n == pattern or n.split(".")[0] == pattern]
        require(matches, "bench", f"an experiment or package: {', '.join(names)}", pattern)
        chosen += [m for m in matches if m not in chosen]
    return chosen


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a fixed-width text table (`-` where a value is missing)."""
    cells = [[title for title, _, _ in COLUMNS]]
    for row in rows:
        line = []
        for _, key, fmt in COLUMNS:
            value = row.get(key)
            line.append("-" if value is None else fmt.format(value))
        if "error" in row:
            line.append(f"error: {row['error']}")
        cells.append(line)
    widths = [max(len(r[i]) for r in cells if i < len(r)) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths + [0])) for r in cells)


if __name__ == "__main__":
    name, seeds, quick, cache, warm_only = sys.argv[1:]
    from ._runner import enable_compile_cache

    enable_compile_cache(cache)
    print(json.dumps(measure(name, int(seeds), quick == "1", warm_only == "1")))
