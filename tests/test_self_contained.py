"""The repository stands alone: its docs and code cite only what it holds (docs/method.md for the
method, docs/conventions.md for how we write code), and no README or docs link leaves it."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What the web side, its tests, templates and top-level docs are written in.
SOURCES = [*ROOT.joinpath("surveys").rglob("*.py"), *ROOT.joinpath("tests", "surveys").rglob("*.py"),
           *ROOT.joinpath("templates").rglob("*.html"), *ROOT.joinpath("docs").glob("*.md"),
           ROOT / "README.md", ROOT / "Makefile", ROOT / "pyproject.toml", Path(__file__)]
# Documents that live outside the repository (the project's background notes and style guide), spelled
# in pieces so that this file, which looks for them, does not itself name them.
_SHARED = "sha" + "red"
OUTSIDE = re.compile("|".join([r"sci" + r"ence\.md", r"house[ -]sty" + "le", _SHARED + "/docs", r"\.\./" + _SHARED]),
                     re.IGNORECASE)
CITATION = re.compile(r"docs/(method|conventions)\.md §(\d+)")


def text_of(path: Path) -> str:
    return path.read_text() if path != Path(__file__) else ""  # this file names what it looks for


def test_nothing_points_outside_the_repository():
    found = [f"{path.relative_to(ROOT)}:{number}" for path in SOURCES
             for number, line in enumerate(text_of(path).splitlines(), 1) if OUTSIDE.search(line)]

    assert found == []


def test_every_link_of_the_readme_and_the_docs_stays_inside_and_exists():
    pages = [ROOT / "README.md", *ROOT.joinpath("docs").glob("*.md")]
    prose = {page: re.sub(r"`[^`]*`", "", page.read_text()) for page in pages}  # code is not a link
    links = [(page, target) for page in pages for target in re.findall(r"\]\(([^)]+)\)", prose[page])]

    assert len(links) > 10
    leaving = [target for _, target in links if re.match(r"[a-z]+:|/|\.\./", target)]
    missing = [target for page, target in links if not (page.parent / target.split("#")[0]).exists()]
    assert (leaving, missing) == ([], [])


def test_every_citation_names_a_section_that_exists():
    sections = {"method": set(re.findall(r"^## (\d+)\. ", ROOT.joinpath("docs/method.md").read_text(), re.M)),
                "conventions": set(re.findall(r"^(\d+)\. \*\*", ROOT.joinpath("docs/conventions.md").read_text(),
                                              re.M))}
    cited = {(page, number) for path in SOURCES for page, number in CITATION.findall(text_of(path))}

    assert sections["method"] == {"1", "2", "3", "4", "5"}
    assert {page for page, _ in cited} == {"method", "conventions"}
    assert {(page, number) for page, number in cited if number not in sections[page]} == set()
