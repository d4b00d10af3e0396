"""An import made inside a function says on its line why it must be lazy (docs/conventions.md)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("surveys", "iri_engine", "bench", "docker", "examples")


def _function_level_imports(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for function in ast.walk(tree):
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(function):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    yield node


def test_it_gives_every_lazy_import_its_reason_on_the_line():
    silent = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            lines = path.read_text().splitlines()
            for node in _function_level_imports(path):
                statement = lines[node.lineno - 1:node.end_lineno]
                if not any("#" in line for line in statement):
                    silent.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert silent == [], "imports inside functions without a reason on their line: " + ", ".join(silent)
