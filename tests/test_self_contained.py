"""The repository stands alone: its docs and code cite only what it holds (docs/method.md for the
method, docs/conventions.md for how we write code), and no README or docs link leaves it."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Every page a reader may open: the README, docs/ with its subfolders (docs/engine), docker/certs/README.md.
PAGES = [ROOT / "README.md", *ROOT.joinpath("docs").rglob("*.md"), *ROOT.joinpath("docker").rglob("*.md")]
# What the web side, its tests, templates and those pages are written in.
SOURCES = [*ROOT.joinpath("surveys").rglob("*.py"), *ROOT.joinpath("tests", "surveys").rglob("*.py"),
           *ROOT.joinpath("templates").rglob("*.html"), *PAGES, ROOT / "Makefile", ROOT / "pyproject.toml",
           Path(__file__)]
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


def links_of(page: Path) -> list[str]:
    """The targets of a page's Markdown links and of its HTML href and src; code is not a link."""
    prose = re.sub(r"`[^`]*`", "", re.sub(r"```.*?```", "", page.read_text(), flags=re.S))
    return re.findall(r"\]\(([^)\s]+)", prose) + re.findall(r"(?:href|src)=\"([^\"]+)\"", prose)


def test_every_link_of_the_readme_and_the_docs_stays_inside_and_exists():
    links = [(page, target) for page in PAGES for target in links_of(page)]

    assert len(links) > 100 and any(page.parent.name == "engine" for page, _ in links)
    files = {(page, target): (page.parent / target.split("#")[0]).resolve() for page, target in links}
    # A relative link that climbs out of the repository (../ from docs/engine stays inside) leaves it too.
    leaving = [f"{page.relative_to(ROOT)}: {target}" for (page, target), file in files.items()
               if re.match(r"[a-z]+:|/", target) or not file.is_relative_to(ROOT)]
    missing = [f"{page.relative_to(ROOT)}: {target}" for (page, target), file in files.items() if not file.exists()]
    assert (leaving, missing) == ([], [])


def test_every_citation_names_a_section_that_exists():
    sections = {"method": set(re.findall(r"^## (\d+)\. ", ROOT.joinpath("docs/method.md").read_text(), re.M)),
                "conventions": set(re.findall(r"^(\d+)\. \*\*", ROOT.joinpath("docs/conventions.md").read_text(),
                                              re.M))}
    cited = {(page, number) for path in SOURCES for page, number in CITATION.findall(text_of(path))}

    assert sections["method"] == {"1", "2", "3", "4", "5"}
    assert {page for page, _ in cited} == {"method", "conventions"}
    assert {(page, number) for page, number in cited if number not in sections[page]} == set()
