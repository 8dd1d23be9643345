import os
import pathlib
import subprocess
import sys

import pytest


EXAMPLES = sorted((pathlib.Path(__file__).parents[1] / "examples").glob("*.py"))


@pytest.fixture(scope="module")
def started(request, tmp_path_factory):
    """Every selected example, started at once as its own process at quick size:
    `{name: (process, output folder)}`. The examples are independent and each mostly
    keeps one core busy, so on a multi-core machine they run side by side."""
    names = {
        item.callspec.params["path"].stem
        for item in request.session.items
        if item.module is request.module
    }
    runs = {}
    for path in EXAMPLES:
        if path.stem not in names:
            continue
        out = tmp_path_factory.mktemp(f"example_{path.stem}")
        env = {
            **os.environ,
            "JAXLAB_EXAMPLE_QUICK": "1",
            "JAXLAB_EXAMPLE_OUT": str(out),
            "MPLBACKEND": "Agg",
        }
        with open(out / "output.txt", "w") as log:
            process = subprocess.Popen(
                [sys.executable, str(path)], stdout=log, stderr=subprocess.STDOUT, env=env
            )
        runs[path.stem] = process, out
    yield runs
    for process, _ in runs.values():
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs_at_quick_size(path, started):
    process, out = started[path.stem]
    try:
        code = process.wait(timeout=900)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    assert code == 0, (out / "output.txt").read_text()[-3000:]
    assert list(out.glob("*.png")), "the example saves its figures"
