import os
import pathlib
import subprocess
import sys

import pytest


EXAMPLES = sorted((pathlib.Path(__file__).parents[1] / "examples").glob("*.py"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs_at_quick_size(path, tmp_path):
    env = {
        **os.environ,
        "JAXLAB_EXAMPLE_QUICK": "1",
        "JAXLAB_EXAMPLE_OUT": str(tmp_path),
        "MPLBACKEND": "Agg",
    }
    proc = subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, env=env, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert list(tmp_path.glob("*.png")), "the example saves its figures"
