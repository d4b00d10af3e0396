"""Imports run one way: down the app stack, and never from the engine into the web side
(docs/architecture.md, "Who may import whom")."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Each app and the surveys apps it may import; an app imports nothing above it in this list.
ALLOWED = {
    "common": set(),
    "generation": {"common"},
    "studies": {"common", "generation"},
    "trials": {"common", "generation", "studies"},
    "scoring": {"common", "generation", "studies", "trials"},
    "console": {"common", "generation", "studies", "trials", "scoring"},
}
# Project modules an app may import: the settings reader. (settings, urls, celery and wsgi import apps.)
SHARED_MODULES = {"env"}


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at its top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def surveys_parts(modules: set[str]) -> set[str]:
    """The apps and project modules of surveys that these modules name."""
    return {name.split(".")[1] for name in modules if name.startswith("surveys.") and name.count(".") >= 1}


def test_each_app_imports_only_the_apps_below_it():
    wrong = []
    for app, allowed in ALLOWED.items():
        for path in sorted(ROOT.joinpath("surveys", app).rglob("*.py")):
            for part in surveys_parts(imported_modules(path)) - {app} - allowed - SHARED_MODULES:
                wrong.append(f"{path.relative_to(ROOT)} imports surveys.{part}")

    assert wrong == []


def test_every_app_is_in_the_stack():
    apps = {path.name for path in ROOT.joinpath("surveys").iterdir() if path.joinpath("__init__.py").exists()}

    assert apps == set(ALLOWED)


def test_the_engine_imports_neither_django_nor_the_web_side():
    wrong = [f"{path.relative_to(ROOT)} imports {name}" for path in sorted(ROOT.joinpath("iri_engine").rglob("*.py"))
             for name in imported_modules(path) if name.split(".")[0] in ("django", "surveys")]

    assert wrong == []


def test_it_would_notice_an_import_up_the_stack(tmp_path):
    """The check itself can fail: a studies module importing scoring is caught."""
    module = tmp_path / "selectors.py"
    module.write_text("def f():\n    from surveys.scoring.selectors import study_report\n")

    assert surveys_parts(imported_modules(module)) - {"studies"} - ALLOWED["studies"] == {"scoring"}
