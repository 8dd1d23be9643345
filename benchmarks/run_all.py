"""Every benchmark in one run: `jaxlab bench` over every experiment, then each module's own
benchmark (its speed ratios against peers), with one JSON file for all.

    python benchmarks/run_all.py                 # quick configs (CPU: about an hour)
    python benchmarks/run_all.py --full          # default configs (hours on CPU)
    python benchmarks/run_all.py --only sensing,nde --out runs/bench/all.json

The module benchmarks run in their own processes with the options below; each writes its
JSON, from which every number whose name says `ratio` or `speedup` is listed in the last
table (the benchmarks' docstrings say what each compares). Record the output, with the
machine printed at the top, in BENCHMARKS.md.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


HERE = Path(__file__).parent
# The quick and the full options of each module's benchmark script.
MODULES = {
    "sensing": (["--quick"], []),
    "nde": (["--quick"], []),
    "pig": (["--only", "a,b,d"], []),
    "cape": (["--samples", "100", "--skip-models"], ["--scaling"]),
    "pfgmpp": (["--skip-quick"], []),
}


def ratios(tree, prefix=""):
    """Every number in a JSON tree whose key path names a ratio or a speed-up."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from ratios(value, f"{prefix}/{key}" if prefix else str(key))
    elif isinstance(tree, int | float) and any(w in prefix.lower() for w in ("ratio", "speedup")):
        yield prefix, float(tree)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--only", default=",".join(MODULES), help="modules, comma-separated")
    parser.add_argument("--out", type=Path, default=Path("runs/bench") / time.strftime(
        "%Y%m%d-%H%M%S-all.json"))
    args = parser.parse_args()
    modules = [m.strip() for m in args.only.split(",") if m.strip()]
    unknown = sorted(set(modules) - set(MODULES))
    if unknown:
        parser.error(f"--only: modules among {', '.join(MODULES)}, got {', '.join(unknown)}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        table = Path(tmp) / "bench.json"
        command = ["jaxlab", "bench", *modules, "--json", str(table)]
        subprocess.run([*command, *(["--full"] if args.full else [])], check=True)
        payload = {"bench": json.loads(table.read_text()), "modules": {}}
        for module in modules:
            out = Path(tmp) / f"{module}.json"
            options = MODULES[module][1 if args.full else 0]
            script = HERE / f"bench_{module}.py"
            print(f"\n== {script.name} {' '.join(options)}", flush=True)
            done = subprocess.run([sys.executable, str(script), *options, "--json", str(out)])
            payload["modules"][module] = (
                json.loads(out.read_text()) if done.returncode == 0 and out.exists() else None
            )
    print(f"\n{'module':8s}  {'ratio':60s}  value")
    for module, result in payload["modules"].items():
        for name, value in ratios(result or {}):
            print(f"{module:8s}  {name:60s}  {value:.3g}")
    args.out.write_text(json.dumps(payload, indent=2, default=float) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
