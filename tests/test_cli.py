import json
import subprocess
import sys

import numpy as np
import pytest

from jaxlab import summarize
from jaxlab._cli import main


SMALL = ["--set", "n=8", "--set", "rank=2", "--set", "k=3", "--set", "m=120", "--set", "steps=200"]


def run_cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_list(capsys):
    code, out, _ = run_cli(capsys, "list")
    assert code == 0
    assert "sensing.overparam" in out and "sensing.robust" in out


def test_run_writes_a_complete_results_folder(capsys, tmp_path):
    out_dir = tmp_path / "run"
    code, out, err = run_cli(
        capsys,
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
    )
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
        assert entry["min"] <= entry["mean"] <= entry["max"]
    config = json.loads((out_dir / "config.json").read_text())
    assert config["n"] == 8 and config["alphas"] == [0.4, 0.2]
    environment = json.loads((out_dir / "environment.json").read_text())
    assert environment["compile_seconds"] > 0 and environment["run_seconds"] > 0
    assert environment["x64"] is True and environment["devices"]
    history = np.load(out_dir / "history.npz")
    assert history["symmetric_exact"].shape == (3, 201)
    assert history["asymmetric_over/alpha=0.2"].shape == (3, 201)
    assert sorted(p.name for p in (out_dir / "figures").iterdir()) == [
        "errors_semilog.png",
        "symmetric_over_loglog.png",
    ]

    code, shown, _ = run_cli(capsys, "show", str(out_dir))
    assert code == 0 and "symmetric_exact/rate" in shown

    # An existing folder is kept unless --overwrite is given.
    before = (out_dir / "metrics.json").read_text()
    code, _, err = run_cli(capsys, "run", "sensing.overparam", "--quick", "--out", str(out_dir))
    assert code == 2 and "--overwrite" in err
    assert (out_dir / "metrics.json").read_text() == before
    code, _, err = run_cli(
        capsys,
        "run",
        "sensing.overparam",
        "--quick",
        "--seeds",
        "2",
        *SMALL,
        "--set",
        "alphas=0.4",
        "--out",
        str(out_dir),
        "--overwrite",
        "--no-progress",
    )
    assert code == 0, err
    assert json.loads((out_dir / "metrics.json").read_text())["seeds"] == 2
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


def test_diverging_step_size_is_flagged_not_fatal(capsys, tmp_path):
    code, out, err = run_cli(
        capsys,
        "run",
        "sensing.overparam",
        "--quick",
        "--seeds",
        "2",
        *SMALL,
        "--set",
        "alphas=0.4",
        "--set",
        "step_size=50",
        "--out",
        str(tmp_path / "d"),
        "--no-progress",
    )
    assert code == 0, err
    summary = json.loads((tmp_path / "d" / "metrics.json").read_text())["summary"]
    assert summary["symmetric_exact/final_error"]["diverged"] == [0, 1]
    assert summary["symmetric_exact/final_error"]["mean"] is None


def test_summary_leaves_out_diverged_seeds():
    summary = summarize({"a/b": np.array([1.0, np.nan, 3.0, np.inf])})
    entry = summary["a/b"]
    assert entry["diverged"] == [1, 3]
    assert entry["per_seed"] == [1.0, None, 3.0, None]
    assert entry["mean"] == 2.0 and entry["min"] == 1.0 and entry["max"] == 3.0
