"""docs/quickstart.md shows what the code gives: every `$ jaxlab ...` command's output,
and the shape of every array its Python snippets quote (`x.shape  # (a, b)`), by running
the snippets as written."""

import ast
import re
import shlex
from pathlib import Path

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
