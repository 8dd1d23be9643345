"""MkDocs hook: serve MathJax from the docs site itself, so formulas render offline.

MathJax 3 comes from the `django-static-mathjax` package (installed with the `docs` extra: the
official MathJax distribution's files; it needs no Django to be read). Its `es5/` folder is added
to the site as `javascripts/mathjax/`; `mkdocs.yml` loads `javascripts/mathjax/tex-mml-chtml.js`,
which fetches its fonts and TeX extensions from beside itself. Of the prebuilt bundles at the top
of `es5/` only that one is copied; the folders under it (fonts, extensions, accessibility) all are.
"""

from importlib import resources
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files


BUNDLE = "tex-mml-chtml.js"
DEST = "javascripts/mathjax"


def _es5() -> Path:
    try:
        root = Path(str(resources.files("mathjax"))) / "static" / "mathjax" / "es5"
    except ModuleNotFoundError:
        root = None
    if root is None or not (root / BUNDLE).is_file():
        raise PluginError(
            "MathJax files not found: install the docs extra (pip install -e '.[docs]'), "
            "which brings django-static-mathjax"
        )
    return root


def on_files(files: Files, config) -> Files:
    root = _es5()
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if not path.is_file() or (len(rel.parts) == 1 and rel.name != BUNDLE):
            continue
        files.append(File.generated(config, f"{DEST}/{rel.as_posix()}", abs_src_path=str(path)))
    return files
