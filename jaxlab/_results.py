"""The results folder and checkpoints: written atomically, never overwritten silently."""

import dataclasses
import importlib.metadata
import json
import math
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jax
import numpy as np

from ._experiment import require


def summarize(metrics: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per-key statistics of per-seed metrics.

    Each value is an array of shape `(seeds,)`. A non-finite entry marks a seed that
    diverged: it is listed under `"diverged"` (seed indices), shown as `null` in
    `per_seed`, and left out of `mean`, `std`, `min` and `max`.
    """
    summary = {}
    for name, values in metrics.items():
        values = np.atleast_1d(np.asarray(values, dtype=float))
        finite = np.isfinite(values)
        kept = values[finite]
        stats = (
            {
                "mean": float(kept.mean()),
                "std": float(kept.std()),
                "min": float(kept.min()),
                "max": float(kept.max()),
            }
            if kept.size
            else dict.fromkeys(("mean", "std", "min", "max"))
        )
        summary[name] = {
            **stats,
            "per_seed": [float(v) if ok else None for v, ok in zip(values, finite)],
            "diverged": [int(i) for i in np.flatnonzero(~finite)],
        }
    return summary


def _git_commit() -> str | None:
    """The commit of the checkout jaxlab runs from (editable install), else of the cwd."""
    for folder in (Path(__file__).parent, Path.cwd()):
        try:
            out = subprocess.run(
                ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=folder
            )
        except (OSError, subprocess.SubprocessError):
            continue
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()
    return None


def cpu_model() -> str:
    """The CPU's model name (from `/proc/cpuinfo` on Linux), else what `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine(devices: bool = True) -> dict[str, Any]:
    """The machine a number was measured on: CPU model, cores (and how many this process
    may use), the load average (1, 5 and 15 minutes) now, platform, the versions of Python,
    jax, jaxlib, jaxlab and NumPy, `XLA_FLAGS`, and, with `devices`, the JAX devices.
    `devices=False` leaves the JAX backend uninitialized (for a benchmark that times its
    first use)."""
    info: dict[str, Any] = {
        "processor": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jaxlib": _version("jaxlib"),
        "jaxlab": _version("jaxlab"),
        "numpy": np.__version__,
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
    }
    if devices:
        info["devices"] = [str(d) for d in jax.devices()]
        info["process_count"] = jax.process_count()
    return info


def environment(compile_seconds: float, run_seconds: float, x64: bool) -> dict[str, Any]:
    """The facts a number depends on: the machine (CPU, cores, load, versions, devices: see
    `machine`), precision, commit, timings."""
    return {
        **machine(),
        "x64": x64,
        "git_commit": _git_commit(),
        "compile_seconds": compile_seconds,
        "run_seconds": run_seconds,
    }


def check_out_dir(out_dir: Path, overwrite: bool) -> None:
    """A [`ConfigError`][jaxlab.ConfigError] if `out_dir` holds files and `overwrite` is off."""
    occupied = out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir()))
    require(
        not occupied or overwrite,
        "--out",
        "an empty or new folder (or pass --overwrite)",
        str(out_dir),
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _clean(value: Any) -> Any:
    """Replace non-finite floats by None so the JSON is standard."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(_clean(data), indent=2, default=_json_default) + "\n")


def write_results(
    out_dir: str | Path,
    *,
    name: str,
    config: Any,
    quick: bool,
    seeds: int,
    report: Callable[[Path], Mapping[str, Any]],
    history: Mapping[str, Any],
    environment: Mapping[str, Any],
    overwrite: bool = False,
) -> dict[str, Any]:
    """Write a results folder atomically and return its `metrics.json` content.

    Everything goes into a temporary sibling folder first: figures and per-seed metrics
    from `report(figures_dir)`, then the JSON files and `history.npz`; the folder then
    takes the place of `out_dir` by rename. A non-empty `out_dir` is replaced only with
    `overwrite`, and is left untouched if anything fails.
    """
    out_dir = Path(out_dir)
    check_out_dir(out_dir, overwrite)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        (staging / "figures").mkdir()
        summary = summarize(report(staging / "figures"))
        metrics = {"experiment": name, "seeds": seeds, "quick": quick, "summary": summary}
        write_json(staging / "metrics.json", metrics)
        write_json(staging / "config.json", {"experiment": name, **dataclasses.asdict(config)})
        write_json(staging / "environment.json", environment)
        np.savez(staging / "history.npz", **{k: np.asarray(v) for k, v in history.items()})
        if out_dir.exists():
            backup = out_dir.with_name(f".{out_dir.name}.old")
            shutil.rmtree(backup, ignore_errors=True)
            out_dir.rename(backup)
            staging.rename(out_dir)
            shutil.rmtree(backup)
        else:
            staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return metrics


def read_results(out_dir: str | Path) -> dict[str, Any]:
    """`metrics.json`, `config.json` and `environment.json` of a results folder."""
    out_dir = Path(out_dir)
    require((out_dir / "metrics.json").is_file(), "DIR", "a jaxlab results folder", str(out_dir))
    return {
        name: json.loads((out_dir / f"{name}.json").read_text())
        for name in ("metrics", "config", "environment")
        if (out_dir / f"{name}.json").is_file()
    }
