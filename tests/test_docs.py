"""docs/quickstart.md shows what the code gives: every `$ jaxlab ...` command's output,
and the shape of every array its Python snippets quote (`x.shape  # (a, b)`), by running
the snippets as written."""

import ast
import re
import shlex
from pathlib import Path

import numpy as np
import pytest

from jaxlab._cli import main


QUICKSTART = Path(__file__).parents[1] / "docs" / "quickstart.md"


def blocks(language):
    """The contents of the page's fenced blocks of `language`, in order."""
    return re.findall(rf"```{language}\n(.*?)```", QUICKSTART.read_text(), flags=re.S)


def console_sessions():
    """`(command, expected output)` for every `$ jaxlab ...` line of a console block."""
    sessions = []
    for block in blocks("console"):
        for part in re.split(r"^\$ ", block, flags=re.M)[1:]:
            command, _, output = part.partition("\n")
            sessions.append((command, output))
    return sessions


@pytest.mark.parametrize("command, expected", console_sessions(), ids=lambda x: x[:40])
def test_console_output_is_what_the_command_prints(command, expected, capsys):
    argv = shlex.split(command)
    assert argv[0] == "jaxlab"
    main(argv[1:])
    out, err = capsys.readouterr()
    assert out + err == expected


@pytest.mark.claims  # it runs sensing.overparam --quick three times, as the page does
def test_python_snippets_run_and_give_the_quoted_shapes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the snippets write runs/...
    namespace, checked = {}, 0
    for block in blocks("python"):
        exec(compile(block, str(QUICKSTART), "exec"), namespace)
        for expression, shape in re.findall(r"^(\S+\.shape)\s+# (\([\d, ]+\))", block, re.M):
            assert eval(expression, namespace) == ast.literal_eval(shape), expression
            checked += 1
    assert checked >= 2


OWN_PROBLEM = [
    ("sensing.md", "## Your own problem"),
    ("nde.md", "## Train on your own data"),
    ("pig.md", "## Pose your own PDE"),
    ("cape.md", "## Train on your own trajectories"),
    ("pfgmpp.md", "## Train on your own data"),
]


@pytest.mark.claims  # each trains a small model for two or more seeds (a minute or two)
@pytest.mark.parametrize("page, heading", OWN_PROBLEM, ids=[p for p, _ in OWN_PROBLEM])
def test_your_own_problem_snippet_runs_and_gives_the_quoted_shapes(page, heading):
    """The "your own problem" snippet of each package page runs as written, and every
    line annotated `# (a, b)` is that shape (`x.shape`) or evaluates to arrays of that
    shape (each one, for a tuple)."""
    text = (QUICKSTART.parent / page).read_text()
    assert heading in text
    snippet = re.search(r"```python\n(.*?)```", text[text.index(heading) :], flags=re.S)[1]
    namespace = {}
    exec(compile(snippet, page, "exec"), namespace)
    quoted = re.findall(r"^(\S.*?)\s+# (\([\d, ]+\))", snippet, re.M)
    assert quoted
    for expression, shape in quoted:
        tree = ast.parse(expression, mode="eval").body
        parts = tree.elts if isinstance(tree, ast.Tuple) else [tree]
        for part in parts:
            value = eval(compile(ast.Expression(part), page, "eval"), namespace)
            got = value if expression.endswith(".shape") else np.shape(value)
            assert tuple(got) == ast.literal_eval(shape), expression
