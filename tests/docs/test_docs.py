"""The README stays a newcomer's page and the docs stay whole: README.md is short, keeps the
two commands (as the Makefile defines them), and every relative link in README.md and docs/
points at a file of this repository."""

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = [README, *sorted(DOCS.glob("*.md"))]
# [text](target) and ![alt](target); a target ends at whitespace or ")" (a title may follow).
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
MAX_README_LINES = 200


def relative_links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)  # code blocks are not links
    links = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("#"):
            continue  # http:, https:, mailto: ..., and anchors within the page
        links.append(target)
    return links


def test_readme_is_a_short_page():
    lines = README.read_text().splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines"


def test_readme_keeps_the_two_commands_the_makefile_defines():
    readme = README.read_text()
    assert re.search(r"^make run\b", readme, re.M), "README.md lost `make run`"
    assert re.search(r"^make test\b", readme, re.M), "README.md lost `make test`"
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^run:", makefile, re.M) and re.search(r"^test:", makefile, re.M)


def test_docs_have_their_pages_and_the_screenshot():
    for name in (
        "README.md",
        "user-guide.md",
        "operator-guide.md",
        "architecture.md",
        "performance.md",
        "img/provision.png",
    ):
        assert (DOCS / name).is_file(), f"docs/{name} is missing"
    assert "docs/img/provision.png" in README.read_text()


def test_readme_and_docs_link_nowhere_outside_the_repository():
    for page in PAGES:
        text = page.read_text()
        assert "../shared" not in text, f"{page.relative_to(ROOT)} links outside the repository"
        for target in relative_links(page):
            path = (page.parent / unquote(target.split("#", 1)[0])).resolve()
            assert path.is_relative_to(ROOT), f"{page.relative_to(ROOT)}: {target} leaves the repo"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_at_a_file_that_exists(page):
    links = relative_links(page)
    missing = [
        target for target in links if not (page.parent / unquote(target.split("#", 1)[0])).exists()
    ]
    assert not missing, f"{page.relative_to(ROOT)} links to missing files: {missing}"
