"""One way to reject bad input in every package: `ConfigError` with a one-line message."""

import ast
import pathlib

import pytest

import jaxlab


PACKAGES = ("sensing", "nde", "pig", "cape", "pfgmpp")


@pytest.mark.parametrize("package", PACKAGES)
def test_packages_raise_only_config_errors(package):
    """No package raises `ValueError` or `TypeError` of its own: bad input is a
    [`ConfigError`][jaxlab.ConfigError] (a `ValueError`) in the "field: allowed, got X"
    form, raised through `jaxlab.require` or directly."""
    root = pathlib.Path(jaxlab.__file__).parent / package
    raised = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                name = getattr(node.exc.func, "id", None)
                if name in ("ValueError", "TypeError"):
                    raised.append(f"{path.name}:{node.lineno} {name}")
    assert raised == []
