import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import jaxlab
from jaxlab import summarize
from jaxlab._cli import main
from jaxlab._experiment import _REGISTRY


SIZES = {"n": 8, "rank": 2, "k": 3, "m": 120, "steps": 200}
SMALL = [arg for name, value in SIZES.items() for arg in ("--set", f"{name}={value}")]


def run_cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def direct_sweep(seeds, **fields):
    """The per-seed metrics and curves of `sensing.overparam --quick` with the `SMALL` sizes
    and `fields`, computed by `jaxlab.sweep` and the experiment's own `report` (no results
    folder), and the sweep's compile seconds."""
    experiment = jaxlab.get_experiment("sensing.overparam")
    config = dataclasses.replace(experiment.default_config(True), **SIZES, **fields)
    result = jaxlab.sweep(experiment, config, seeds=seeds)
    metrics = experiment.report(config, result.results, None)
    return metrics, experiment.history(config, result.results), result.compile_seconds


def assert_summary_matches(summary, per_seed):
    """metrics.json's summary holds, for every metric, the per-seed values computed directly
    (null where non-finite), lists exactly the non-finite seeds as diverged, and gives the
    mean, std, min and max of the finite values only."""
    assert set(summary) == set(per_seed)
    for key, values in per_seed.items():
        values = np.asarray(values, dtype=float)
        finite = np.isfinite(values)
        entry = summary[key]
        expected = [float(v) if ok else None for v, ok in zip(values, finite)]
        assert entry["per_seed"] == expected, key
        assert entry["diverged"] == np.flatnonzero(~finite).tolist(), key
        kept = values[finite]
        if kept.size == 0:
            assert entry["mean"] is entry["std"] is entry["min"] is entry["max"] is None, key
            continue
        assert entry["mean"] == pytest.approx(np.mean(kept), rel=1e-12, abs=0), key
        assert entry["std"] == pytest.approx(np.std(kept), rel=1e-9, abs=0), key
        assert (entry["min"], entry["max"]) == (np.min(kept), np.max(kept)), key


def test_list(capsys):
    code, out, _ = run_cli(capsys, "list")
    assert code == 0
    assert "sensing.overparam" in out and "sensing.robust" in out


def test_describe_lists_every_field_with_default_and_quick_value(capsys):
    code, out, _ = run_cli(capsys, "describe", "sensing.overparam")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("sensing.overparam: ")
    rows = {line.split()[0]: line.split() for line in lines[2:]}
    config = jaxlab.get_experiment("sensing.overparam").config
    assert list(rows) == [f.name for f in dataclasses.fields(config)]
    full, quick = config(), config.quick()
    assert rows["m"][1:4] == ["int", repr(full.m), repr(quick.m)]  # differs at quick size
    assert rows["step_size"][1:4] == ["float", repr(full.step_size), "="]
    fields = {f.name: f for f in dataclasses.fields(config)}
    doc = jaxlab.field_doc(fields["steps"])  # its own doc, then what it allows
    assert " ".join(rows["steps"][4:]) == f"{doc} [{jaxlab.field_rule(config, fields['steps'])}]"
    code, _, err = run_cli(capsys, "describe", "sensing.nope")
    assert code == 2 and err.startswith("jaxlab: error: experiment: one of ")


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"jaxlab {jaxlab.__version__}"


def test_a_reader_that_leaves_early_gets_no_traceback():
    """`jaxlab list | head -1`: the command's output pipe closes before it writes."""
    command = "import sys; from jaxlab._cli import main; sys.exit(main(['list']))"
    proc = subprocess.Popen(
        [sys.executable, "-c", command], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait() == 1
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


PLUGIN = """
import dataclasses

import jax
import jax.numpy as jnp

import jaxlab


@dataclasses.dataclass(frozen=True)
class SquareConfig:
    n: int = 4


def run(config, key):
    return {"mean_square": jnp.mean(jax.random.normal(key, (config.n,)) ** 2)}


def report(config, results, out_dir):
    return {"mean_square": results["mean_square"]}


jaxlab.register(jaxlab.Experiment("mylab.square", "a user's experiment", SquareConfig, report, run))
"""


def test_an_installed_package_adds_its_experiments_to_the_command(tmp_path):
    """A package installed beside jaxlab (its files and a `.dist-info` folder with an
    entry point in the group `jaxlab.experiments`, as pip writes them) shows in `jaxlab
    list` and runs with `jaxlab run`."""
    site = tmp_path / "site"
    (site / "mylab").mkdir(parents=True)
    (site / "mylab" / "__init__.py").write_text("")
    (site / "mylab" / "experiments.py").write_text(PLUGIN)
    info = site / "mylab-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mylab\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[jaxlab.experiments]\nmylab = mylab.experiments\n")
    env = {**os.environ, "PYTHONPATH": str(site)}
    jaxlab_command = [sys.executable, "-m", "jaxlab._cli"]
    listed = subprocess.run(
        [*jaxlab_command, "list"], capture_output=True, text=True, env=env, check=True
    )
    assert "mylab.square" in listed.stdout and "sensing.overparam" in listed.stdout
    out = tmp_path / "run"
    subprocess.run(
        [*jaxlab_command, "run", "mylab.square", "--seeds", "2", "--out", str(out)],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["experiment"] == "mylab.square" and metrics["seeds"] == 2
    assert metrics["summary"]["mean_square"]["mean"] > 0


def test_run_writes_a_complete_results_folder(capsys, tmp_path):
    out_dir = tmp_path / "run"
    args = [
        "run",
        "sensing.overparam",
        "--quick",
        "--seeds",
        "3",
        *SMALL,
        "--set",
        "alphas=0.4,0.2",
        "--out",
        str(out_dir),
        "--no-progress",
    ]
    code, out, err = run_cli(capsys, *args)
    assert code == 0, err
    assert "symmetric_exact/rate" in out and str(out_dir) in out
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert metrics["experiment"] == "sensing.overparam"
    assert metrics["seeds"] == 3 and metrics["quick"] is True
    for key in (
        "symmetric_exact/rate",
        "symmetric_exact/final_error",
        "symmetric_over/loglog_slope",
        "symmetric_over/final_error",
        "asymmetric_over/alpha=0.4/rate",
        "asymmetric_over/alpha=0.2/final_error",
        "asymmetric_onestep/alpha=0.2/rate",
        "asymmetric_onestep/alpha=0.4/final_error",
        "asymmetric_over/alpha=0.4/fit_start",
        "scaledgd/asymmetric_over/alpha=0.4/final_error",
        "precgd/symmetric_over/alpha=0.2/rate",
    ):
        entry = metrics["summary"][key]
        assert set(entry) == {"mean", "std", "min", "max", "per_seed", "diverged"}
        assert len(entry["per_seed"]) == 3
    # The same sweep run directly: one compiled program (the command's, reused), the same
    # per-seed values and curves, summarized over the finite seeds.
    per_seed, curves, compile_seconds = direct_sweep(3, alphas=(0.4, 0.2))
    assert compile_seconds == 0
    assert_summary_matches(metrics["summary"], per_seed)
    config = json.loads((out_dir / "config.json").read_text())
    assert config["n"] == 8 and config["alphas"] == [0.4, 0.2]
    environment = json.loads((out_dir / "environment.json").read_text())
    assert environment["compile_seconds"] > 0 and environment["run_seconds"] > 0
    assert environment["x64"] is True and environment["devices"]
    assert environment["processor"] and environment["cpu_count"] >= 1  # the machine
    assert environment["xla_flags"] == os.environ.get("XLA_FLAGS", "")
    history = np.load(out_dir / "history.npz")
    assert history["symmetric_exact"].shape == (3, 201)
    assert history["asymmetric_over/alpha=0.2"].shape == (3, 201)
    assert sorted(history.files) == sorted(curves)
    for name, curve in curves.items():
        np.testing.assert_array_equal(history[name], curve, err_msg=name)
    # This process runs in float32: float64 curves mean the config's x64 was honoured.
    assert history["symmetric_exact"].dtype == np.float64
    assert sorted(p.name for p in (out_dir / "figures").iterdir()) == [
        "errors_semilog.png",
        "preconditioned_semilog.png",
        "symmetric_over_loglog.png",
    ]

    code, shown, _ = run_cli(capsys, "show", str(out_dir))
    assert code == 0 and "symmetric_exact/rate" in shown

    # An existing folder is kept unless --overwrite is given.
    before = (out_dir / "metrics.json").read_text()
    code, _, err = run_cli(capsys, "run", "sensing.overparam", "--quick", "--out", str(out_dir))
    assert code == 2 and "--overwrite" in err
    assert (out_dir / "metrics.json").read_text() == before
    # With --overwrite the folder is replaced as a whole (the same run again: no recompile).
    (out_dir / "stale.txt").write_text("from an earlier run")
    code, _, err = run_cli(capsys, *args, "--overwrite")
    assert code == 0, err
    assert not (out_dir / "stale.txt").exists()
    assert json.loads((out_dir / "environment.json").read_text())["compile_seconds"] == 0
    assert_summary_matches(json.loads((out_dir / "metrics.json").read_text())["summary"], per_seed)
    assert not list(tmp_path.glob(".run*"))  # no staging folders left behind


@pytest.mark.parametrize(
    "args, field",
    [
        (["run", "sensing.nope"], "experiment"),
        (["run", "sensing.overparam", "--set", "colour=red"], "--set"),
        (["run", "sensing.overparam", "--set", "k=three"], "k"),
        (["run", "sensing.overparam", "--set", "k=2"], "k"),
        (["run", "sensing.overparam", "--set", "m=0"], "m"),
        (["run", "sensing.overparam", "--set", "alpha=-0.1"], "alpha"),
        (["run", "sensing.overparam", "--set", "alphas=0.1,-1"], "alphas"),
        (["run", "sensing.overparam", "--set", "n=2", "--set", "rank=3"], "rank"),
        (["run", "sensing.overparam", "--set", "steps=1.5"], "steps"),
        (["run", "sensing.overparam", "--seeds", "-3"], "--seeds"),
        (["run", "sensing.overparam", "--set", "resample_problem=maybe"], "resample_problem"),
        (["run", "sensing.robust", "--set", "outlier_fractions=0.6"], "outlier_fractions"),
        (["run", "sensing.robust", "--set", "decay=1.5"], "decay"),
        (["show", "/nonexistent/folder"], "DIR"),
        (["frobnicate"], "frobnicate"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(capsys, tmp_path, args, field):
    out_dir = tmp_path / "out"
    if args[0] == "run":
        args = [*args, "--out", str(out_dir)]
    code, out, err = run_cli(capsys, *args)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and field in err
    assert "Traceback" not in err
    assert not out_dir.exists()


def test_console_script_exit_code(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "jaxlab._cli", "run", "sensing.overparam", "--set", "m=-5"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == "jaxlab: error: m: a positive integer, got -5"
    assert not (tmp_path / "runs").exists()


def test_diverged_seeds_are_flagged_not_fatal(
    capsys, tmp_path, monkeypatch, growth, growth_blown_up
):
    """`test.growth` blows up exactly for the seeds that start above 1/rate: the command
    exits 0, lists those seeds as diverged and summarizes the others."""
    monkeypatch.setitem(_REGISTRY, growth.name, growth)  # registered for this test only
    rate, out_dir = 0.8, tmp_path / "g"
    args = ["run", growth.name, "--seeds", "8", "--set", f"rate={rate}", "--out", str(out_dir)]
    code, out, err = run_cli(capsys, *args, "--no-progress")
    assert code == 0, err
    summary = json.loads((out_dir / "metrics.json").read_text())["summary"]
    blown = growth_blown_up(8, rate)
    assert blown.any() and (~blown).any()
    assert summary["final"]["diverged"] == np.flatnonzero(blown).tolist()
    config = dataclasses.replace(growth.default_config(), rate=rate)
    direct = jaxlab.sweep(growth, config, seeds=8)
    assert direct.compile_seconds == 0  # the command's program, reused
    assert_summary_matches(summary, growth.report(config, direct.results, None))
    row = next(line.split() for line in out.splitlines() if line.startswith("final"))
    assert row[-1] == str(blown.sum())  # the table's diverged column


def test_summary_leaves_out_diverged_seeds():
    summary = summarize({"a/b": np.array([1.0, np.nan, 3.0, np.inf])})
    entry = summary["a/b"]
    assert entry["diverged"] == [1, 3]
    assert entry["per_seed"] == [1.0, None, 3.0, None]
    assert entry["mean"] == 2.0 and entry["min"] == 1.0 and entry["max"] == 3.0


def test_bench_selects_by_experiment_or_package_and_rejects_others(capsys, tmp_path):
    from jaxlab._bench import select, table

    assert select(["sensing"]) == ["sensing.overparam", "sensing.robust"]
    assert select(["nde.ou", "nde"])[0] == "nde.ou" and len(select(["nde.ou", "nde"])) == len(
        select(["nde"])
    )
    code, out, err = run_cli(capsys, "bench", "nope", "--json", str(tmp_path / "b.json"))
    assert code == 2 and "bench: an experiment or package" in err and err.count("\n") == 1
    assert not (tmp_path / "b.json").exists()
    text = table([{"name": "x.y", "compile_seconds": 1.25, "per_seed_cost": 0.5}])
    header, row = text.splitlines()
    assert row.split()[:3] == ["x.y", "1.2", "-"] and "0.50" in row
