"""The `jaxlab` command: `list`, `run`, `show`."""

import argparse
import sys
from pathlib import Path

from ._experiment import ConfigError, config_with, experiments, get_experiment, require
from ._results import read_results


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise ConfigError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="jaxlab", description="Reproduce jaxlab experiments.")
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
    run.add_argument("--no-progress", action="store_true")
    show = commands.add_parser("show", help="print a saved summary")
    show.add_argument("dir", type=Path)
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


def _run(args) -> None:
    experiment = get_experiment(args.name)
    try:
        seeds = int(args.seeds)
    except ValueError:
        seeds = args.seeds
    require(isinstance(seeds, int) and seeds >= 1, "--seeds", "a positive integer", args.seeds)
    assignments = {}
    for item in args.assignments:
        field, sep, value = item.partition("=")
        require(sep == "=" and field, "--set", "FIELD=VALUE", item)
        assignments[field.strip()] = value.strip()
    config = config_with(experiment.default_config(args.quick), assignments)

    from ._runner import run_experiment

    metrics, out_dir = run_experiment(
        experiment,
        config,
        seeds=seeds,
        quick=args.quick,
        out_dir=args.out,
        overwrite=args.overwrite,
        progress=not args.no_progress,
    )
    print(format_summary(metrics))
    print(f"results: {out_dir}  figures: {out_dir / 'figures'}")


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        if args.command == "list":
            for name, experiment in experiments().items():
                print(f"{name:24s} {experiment.description}")
        elif args.command == "run":
            _run(args)
        else:
            print(format_summary(read_results(args.dir)["metrics"]))
    except ConfigError as error:
        print(f"jaxlab: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
