import json

import numpy as np

import jaxlab


def test_diverged_seeds_are_flagged_and_the_rest_reported(tmp_path, growth, growth_blown_up):
    metrics, out_dir = jaxlab.run_experiment(
        growth, seeds=8, out_dir=tmp_path / "g", progress=False
    )
    entry = metrics["summary"]["final"]
    blown = growth_blown_up(8, 0.9)
    assert blown.any() and (~blown).any()
    assert entry["diverged"] == list(np.flatnonzero(blown))
    assert entry["max"] < 1e-10  # the others converged to 0
    assert json.loads((out_dir / "metrics.json").read_text())["summary"]["final"] == entry
