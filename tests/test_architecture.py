"""The shape of the code is a checked contract (DESIGN.md "Shape"): the import contracts of
pyproject.toml hold, they break when an import runs up the stack or into a pure module, no module
imports itself back through others, and no import hides inside a function."""

import ast
import os
import shutil
import subprocess
import sys
import tomllib

import grimp
import pytest

import app

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
with open(os.path.join(ROOT, "pyproject.toml"), "rb") as _fh:
    _LINTER = tomllib.load(_fh)["tool"]["importlinter"]
PACKAGES = tuple(_LINTER["root_packages"])  # every package of the app, as the contracts see it
LINT_IMPORTS = os.path.join(os.path.dirname(sys.executable), "lint-imports")


def lint_imports(cwd: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_the_import_contracts_hold():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


@pytest.fixture
def copy_of_the_code(tmp_path):
    """The packages and pyproject.toml in a scratch folder, to break on purpose."""
    for name in PACKAGES:
        shutil.copytree(
            os.path.join(ROOT, name),
            tmp_path / name,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    shutil.copy(os.path.join(ROOT, "pyproject.toml"), tmp_path / "pyproject.toml")
    return tmp_path


BREAKAGES = [
    # notify is below problems: it must not know the problems' tables
    ("notify/queries.py", "from problems.models import Problem", "notify", "problems"),
    # grid is the bottom of the stack
    ("grid/access.py", "import desk.views", "grid", "desk"),
    # a pure rule module reaching the database through another module, or Flask directly
    ("grid/geo.py", "from grid.queries import locate", "grid.geo", "extensions"),
    ("problems/escalation.py", "from flask import current_app", "problems.escalation", "flask"),
    ("sync/clock.py", "import app", "sync.clock", "app"),
]


@pytest.mark.parametrize(("module", "line", "importer", "imported"), BREAKAGES)
def test_an_import_against_the_shape_breaks_a_contract(
    copy_of_the_code, module, line, importer, imported
):
    path = copy_of_the_code / module
    path.write_text(path.read_text() + f"\n{line}  # noqa\n")
    result = lint_imports(str(copy_of_the_code))
    assert result.returncode != 0
    assert f"{importer} is not allowed to import {imported}" in result.stdout, result.stdout


def _graph():
    sys.path.insert(0, ROOT)
    try:
        return grimp.build_graph(*PACKAGES, cache_dir=None)
    finally:
        sys.path.remove(ROOT)


def test_no_module_imports_itself_back():
    """No import cycles, within a package or across: for every import a -> b, nothing that b
    imports (however far) leads back to a."""
    graph = _graph()
    cycles = []
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back:
                cycles.append(" -> ".join((importer, *back[1:])))
    assert not cycles, "\n".join(cycles)


def _app_modules():
    yield os.path.join(ROOT, "app.py")
    yield os.path.join(ROOT, "extensions.py")
    for package in PACKAGES:
        for folder, _dirs, files in os.walk(os.path.join(ROOT, package)):
            for name in files:
                if name.endswith(".py"):
                    yield os.path.join(folder, name)


def test_no_import_hides_inside_a_function():
    """Imports are at the top of a module, where a reader (and import-linter) sees them; one
    inside a function is how an import cycle or an upward import gets dodged."""
    hidden = []
    for path in _app_modules():
        with open(path, encoding="utf-8") as fh:
            tree = ast.parse(fh.read(), path)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Import | ast.ImportFrom):
                        hidden.append(f"{os.path.relpath(path, ROOT)}:{inner.lineno}")
    assert not hidden, "imports inside functions: " + ", ".join(sorted(set(hidden)))


def test_every_package_is_in_the_layers_and_in_the_app():
    """A package added without its place in the stack would be checked by nothing."""
    layers = next(c for c in _LINTER["contracts"] if c["type"] == "layers")["layers"]
    # "a | b": siblings that may not import each other (enforcement and the assessment)
    assert list(PACKAGES) == [name.strip() for layer in layers for name in layer.split("|")]
    on_disk = {
        name
        for name in os.listdir(ROOT)
        if os.path.isfile(os.path.join(ROOT, name, "__init__.py"))
        and name not in ("tests", "bench", "migrations")
    }
    assert on_disk == set(PACKAGES)
    assert [d.__name__ for d in app.DOMAINS] == [p for p in reversed(PACKAGES) if p != "i18n"]
