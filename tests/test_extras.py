"""Experiments whose data come from an optional extra: without it, every one of them is the
same one-line error naming the extra, from Python and from the command (exit code 2)."""

import subprocess
import sys


NEEDS_DATA = {
    "nde.deq_digits": "scikit-learn",
    "nde.vowels": "aeon",
    "pfgmpp.digits": "scikit-learn",
    "pfgmpp.robustness": "scikit-learn",
}
# A process in which scikit-learn and aeon cannot be imported runs each experiment.
WITHOUT_EXTRAS = """
import sys, tempfile
sys.modules["sklearn"] = sys.modules["aeon"] = None
from jaxlab._cli import main
for name in sys.argv[1:]:
    out = tempfile.mkdtemp() + "/out"
    code = main(["run", name, "--quick", "--seeds", "1", "--quiet", "--out", out])
    print(f"{name} {code}", flush=True)
"""


def test_a_missing_extra_is_the_same_one_line_hint_everywhere():
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_EXTRAS, *NEEDS_DATA],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[:-1] == [f"{name} 2" for name in NEEDS_DATA]
    errors = done.stderr.strip().split("\n")
    assert len(errors) == len(NEEDS_DATA), done.stderr[-2000:]
    for line, (name, package) in zip(errors, NEEDS_DATA.items()):
        user = "pfgmpp.digits" if name.startswith("pfgmpp") else name
        assert line == f'jaxlab: error: {user}: needs {package}: pip install "jaxlab[data]"'
