"""The `jaxlab` command: `list`, `describe`, `run`, `show`, `bench`, `data generate`."""

import argparse
import dataclasses
import importlib.metadata
import os
import sys
import time
from pathlib import Path

from ._config import field_doc, field_rule
from ._experiment import ConfigError, config_with, experiments, field_types, get_experiment, require
from ._results import read_results


__version__ = importlib.metadata.version("jaxlab")


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise ConfigError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="jaxlab", description="Reproduce jaxlab experiments.")
    parser.add_argument("--version", action="version", version=f"jaxlab {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    commands.add_parser("list", help="registered experiments")
    run = commands.add_parser("run", help="run an experiment over seeds")
    run.add_argument("name")
    run.add_argument("--seeds", default="8", help="number of seeds (default 8)")
    run.add_argument("--quick", action="store_true", help="the small test-size config")
    run.add_argument(
        "--set", action="append", default=[], metavar="FIELD=VALUE", dest="assignments"
    )
    run.add_argument("--out", type=Path, help="results folder (default runs/NAME/<timestamp>)")
    run.add_argument("--overwrite", action="store_true", help="replace a non-empty --out")
    run.add_argument("--resume", action="store_true", help="continue the interrupted run in --out")
    run.add_argument(
        "--chunk-size", default="1000", help="steps between checkpoints (default 1000)"
    )
    run.add_argument(
        "--quiet", "--no-progress", action="store_true", dest="quiet", help="no progress bar"
    )
    run.add_argument(
        "--compile-cache", type=Path, metavar="DIR", help="persistent compilation cache folder"
    )
    run.add_argument(
        "--log",
        nargs=2,
        metavar=("KIND", "DIR"),
        help="also log config, curves and figures: KIND is tensorboard",
    )
    run.add_argument(
        "--distributed",
        action="store_true",
        help="join a multi-process run (settings from --coordinator/--num-processes/"
        "--process-id, the JAXLAB_* environment, or cluster detection)",
    )
    run.add_argument("--coordinator", metavar="HOST:PORT", help="process 0's address")
    run.add_argument("--num-processes", help="processes in the run")
    run.add_argument("--process-id", help="this process's index, from 0")
    run.add_argument(
        "--distributed-timeout", default="60", help="seconds to wait for the others (default 60)"
    )
    bench = commands.add_parser("bench", help="time every experiment (or those named)")
    bench.add_argument("names", nargs="*", metavar="NAME", help="experiments or packages")
    bench.add_argument("--full", action="store_true", help="default configs, not quick()")
    bench.add_argument("--seeds", default="8", help="seeds of the scaling run (default 8)")
    bench.add_argument("--json", type=Path, metavar="PATH", help="where to write the JSON")
    bench.add_argument(
        "--start-only", action="store_true", help="only cold and warm start (compile cache)"
    )
    describe = commands.add_parser(
        "describe", help="an experiment's config fields: type, default, quick value, doc"
    )
    describe.add_argument("name")
    show = commands.add_parser("show", help="print a saved summary")
    show.add_argument("dir", type=Path)
    data = commands.add_parser("data", help="PDE data sets")
    data_commands = data.add_subparsers(dest="data_command", required=True, parser_class=_Parser)
    generate = data_commands.add_parser(
        "generate", help="write a PDEBench-layout HDF5 file of PDE trajectories"
    )
    generate.add_argument("pde", help="advection, burgers or diffusion_reaction")
    generate.add_argument("--samples", required=True, help="number of trajectories")
    generate.add_argument(
        "--set", action="append", default=[], metavar="FIELD=VALUE", dest="assignments"
    )
    generate.add_argument("--out", type=Path, required=True, help="the .h5 file to write")
    generate.add_argument("--seed", default="2022", help="random seed (default 2022)")
    generate.add_argument("--batch-size", default="100", help="trajectories per batch")
    generate.add_argument("--overwrite", action="store_true", help="replace an existing file")
    return parser


def format_summary(metrics: dict) -> str:
    """A plain-text table of a `metrics.json` summary."""
    rows = [("metric", "mean", "std", "min", "max", "diverged")]
    for name, entry in metrics["summary"].items():
        stats = [
            f"{entry[s]:.4g}" if entry[s] is not None else "-"
            for s in ("mean", "std", "min", "max")
        ]
        rows.append((name, *stats, str(len(entry["diverged"]))))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in rows]
    header = (
        f"{metrics['experiment']}: {metrics['seeds']} seeds{' (quick)' if metrics['quick'] else ''}"
    )
    return "\n".join([header, *lines])


def describe(experiment) -> str:
    """A table of `experiment`'s config fields: type, paper-scale default, quick value
    (`=` when the same), the field's one-line doc and what it allows."""
    cls = experiment.config
    hints = field_types(cls)
    full = experiment.default_config(False)
    quick = experiment.default_config(True) if hasattr(cls, "quick") else full
    rows = [("field", "type", "default", "quick", "doc")]
    for field in dataclasses.fields(cls):
        name = field.name
        hint = hints[name]
        kind = hint.__name__ if isinstance(hint, type) else str(hint)
        default, small = getattr(full, name), getattr(quick, name)
        same = "=" if small == default else repr(small)
        doc = f"{field_doc(field)} [{field_rule(cls, field)}]"
        rows.append((name, kind.replace("typing.", ""), repr(default), same, doc))
    widths = [min(28, max(len(r[i]) for r in rows)) for i in range(4)]
    lines = ["  ".join([*(c.ljust(w) for c, w in zip(r[:4], widths)), r[4]]).rstrip() for r in rows]
    return "\n".join([f"{experiment.name}: {experiment.description}", *lines])


def _run(args) -> None:
    experiment = get_experiment(args.name)
    seeds = _integer(args.seeds, "--seeds", 1)
    config = config_with(experiment.default_config(args.quick), _assignments(args.assignments))
    chunk_size = _integer(args.chunk_size, "--chunk-size", 1)
    require(args.out is not None or not args.resume, "--resume", "an --out DIR to resume", None)
    if args.log is not None:
        require(args.log[0] == "tensorboard", "--log", "tensorboard DIR", " ".join(args.log))
        from ._tracking import check_tensorboard

        check_tensorboard(Path(args.log[1]))
    if args.distributed:
        from .distributed import initialize

        initialize(
            args.coordinator,
            _integer(args.num_processes, "--num-processes", 1) if args.num_processes else None,
            _integer(args.process_id, "--process-id", 0) if args.process_id else None,
            timeout_seconds=_integer(args.distributed_timeout, "--distributed-timeout", 1),
        )
    from ._runner import enable_compile_cache, run_experiment

    if args.compile_cache is not None:
        enable_compile_cache(args.compile_cache)
    metrics, out_dir = run_experiment(
        experiment,
        config,
        seeds=seeds,
        quick=args.quick,
        out_dir=args.out,
        overwrite=args.overwrite,
        resume=args.resume,
        progress=not args.quiet,
        chunk_size=chunk_size,
    )
    if metrics is None:  # not process 0 of a distributed run
        return
    if args.log is not None:
        from ._tracking import log_tensorboard

        log_tensorboard(Path(args.log[1]), out_dir)
    print(format_summary(metrics))
    print(f"results: {out_dir}  figures: {out_dir / 'figures'}")


def _integer(text: str, field: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = None
    require(value is not None and value >= minimum, field, f"an integer >= {minimum}", text)
    return value


def _assignments(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        field, sep, value = item.partition("=")
        require(sep == "=" and field, "--set", "FIELD=VALUE", item)
        out[field.strip()] = value.strip()
    return out


def _generate(args) -> None:
    from .cape import data_config, generate_file

    samples = _integer(args.samples, "--samples", 1)
    seed = _integer(args.seed, "--seed", 0)
    batch_size = _integer(args.batch_size, "--batch-size", 1)
    config = config_with(data_config(args.pde), _assignments(args.assignments))
    path = generate_file(
        config, args.out, samples, seed=seed, batch_size=batch_size, overwrite=args.overwrite
    )
    print(
        f"{path}: tensor [{samples}, {round(config.t_end / config.dt_save) + 1}, {config.nx}], "
        f"{', '.join(f'{k}={v:g}' for k, v in config.params.items())}"
    )


def _bench(args) -> None:
    from ._bench import bench_experiment, select, table
    from ._results import machine, write_json

    names = select(args.names)
    seeds = _integer(args.seeds, "--seeds", 2)
    path = args.json or Path("runs") / "bench" / f"{time.strftime('%Y%m%d-%H%M%S')}.json"
    require(not path.exists(), "--json", "a file that does not exist yet", str(path))
    rows = []
    print(table([]), flush=True)
    for name in names:
        rows.append(bench_experiment(name, seeds, quick=not args.full, start_only=args.start_only))
        print(table(rows[-1:]).splitlines()[-1], flush=True)
    print(table(rows))
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, {"machine": machine(), "seeds": seeds, "quick": not args.full, "rows": rows})
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        if args.command == "list":
            for name, experiment in experiments().items():
                print(f"{name:24s} {experiment.description}")
        elif args.command == "run":
            _run(args)
        elif args.command == "data":
            _generate(args)
        elif args.command == "bench":
            _bench(args)
        elif args.command == "describe":
            print(describe(get_experiment(args.name)))
        else:
            print(format_summary(read_results(args.dir)["metrics"]))
        sys.stdout.flush()  # a closed pipe shows here, not at exit
    except ConfigError as error:
        print(f"jaxlab: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader left (`jaxlab show DIR | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
