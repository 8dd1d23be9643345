"""Random `--set` input for every registered experiment: each invalid input ends with exit
code 2 and one line, never a traceback or a results folder; each valid one reaches the
run (the sweep is replaced by a marker, so no experiment computes here)."""

import dataclasses
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import jaxlab
import jaxlab._runner
from jaxlab._cli import main


class Started(Exception):
    """Raised in place of the sweep: the input was accepted and the run began."""


def _started(*args, **kwargs):
    raise Started


EXPERIMENTS = jaxlab.experiments()
VALUES = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "none", "true", "false", "0", "-1", "1e309", "nan", "1,2", "0.5,-1"]),
    st.text(max_size=6),
)


@pytest.mark.parametrize("name", list(EXPERIMENTS))
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_random_fields_and_values(name, data, tmp_path_factory, capsys, monkeypatch):
    monkeypatch.setattr(jaxlab._runner, "sweep", _started)
    fields = [f.name for f in dataclasses.fields(EXPERIMENTS[name].config)]
    assignments = data.draw(
        st.lists(
            st.tuples(st.one_of(st.sampled_from(fields), st.text(min_size=1, max_size=8)), VALUES),
            min_size=1,
            max_size=3,
        )
    )
    seeds = data.draw(st.sampled_from(["1", "2", "0", "-3", "x"]))
    out = tmp_path_factory.mktemp("fuzz") / "out"
    args = ["run", name, "--quick", "--quiet", "--seeds", seeds, "--out", str(out)]
    for field, value in assignments:
        args += ["--set", f"{field}={value}"]
    capsys.readouterr()
    try:
        code = main(args)
    except Started:
        return
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("jaxlab: error: ") and err.count("\n") == 1, err
    assert not Path(out).exists()
