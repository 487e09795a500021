"""The README and docs/ point only at things that exist, so they cannot rot silently.

Checked in README.md, docs/*.md, results/README.md and bench/README.md:
- every relative Markdown link or image, `[text](path#anchor)`: the file exists and, for a
  link into a Markdown file, the anchor is one of its headings (GitHub's slugs);
- every repository path in code (inline backticks or fenced blocks) under one of the
  project's folders, e.g. `sweep/run/units.py`, `tests/fixtures/`, `models/packed_*.py`
  (a glob must match something);
- every dotted name such as `sweep.run.api.run_sweep` or `models.config.TrialConfig`:
  the module exists and defines the name.
Paths under results/ other than its README are what runs write, so they are not checked.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted(
    [ROOT / "README.md", ROOT / "results" / "README.md", ROOT / "bench" / "README.md"]
    + list((ROOT / "docs").glob("*.md"))
)
# Folders whose files a page may name; a path must start with one of them to be checked.
REPO_DIRS = ("models", "evaluator", "sweep", "tests", "bench", "examples", "docs", ".ci")
PACKAGES = ("models", "evaluator", "sweep", "bench")

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
INLINE = re.compile(r"`((?:[^`\n]|\n(?!\s*\n))+)`")  # a code span may wrap a line
PATH = re.compile(
    r"(?<![\w./~<-])(?:%s)/[\w.*/-]*" % "|".join(re.escape(d) for d in REPO_DIRS)
)
DOTTED = re.compile(r"(?<![\w./])((?:%s)(?:\.\w+){2,})" % "|".join(PACKAGES))


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"`|\*\*|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip()).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return {_slug(h) for h in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", text, re.M)}


def _code(text: str) -> str:
    """The text of every inline code span and fenced block of a page."""
    fenced = [m.group(0) for m in FENCE.finditer(text)]
    inline = INLINE.findall(FENCE.sub("", text))
    return "\n".join(fenced + inline)


def _defines(module: Path, name: str) -> bool:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if node.name == name:
                return True
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                return True
        elif isinstance(node, ast.ImportFrom):
            if any((a.asname or a.name) == name for a in node.names):
                return True
    return False


def _dotted_problem(dotted: str) -> str | None:
    """None when `dotted` names a module, or a module and a name it defines."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        base = ROOT.joinpath(*parts[:i])
        module = base.with_suffix(".py")
        if not module.is_file() and (base / "__init__.py").is_file():
            module = base / "__init__.py"
        if module.is_file():
            rest = parts[i:]
            if not rest:
                return None
            if _defines(module, rest[0]):
                return None
            return f"{module.relative_to(ROOT)} defines no {rest[0]!r}"
    return "no such module"


def _problems(page: Path) -> list[str]:
    text = page.read_text(encoding="utf-8")
    found = []
    for target in LINK.findall(FENCE.sub("", text)):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:, s3: ...
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            found.append(f"link {target!r}: no file {path!r}")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            found.append(f"link {target!r}: no heading #{anchor} in {dest.name}")
    code = _code(text)
    for path in sorted(set(PATH.findall(code))):
        path = path.rstrip(".")
        hits = list(ROOT.glob(path.rstrip("/"))) if "*" in path else [ROOT / path]
        if not any(h.exists() for h in hits):
            found.append(f"path `{path}` does not exist")
    for dotted in sorted(set(DOTTED.findall(code))):
        why = _dotted_problem(dotted)
        if why:
            found.append(f"`{dotted}`: {why}")
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_and_path_on_the_page_exists(page: Path) -> None:
    assert page.is_file()
    problems = _problems(page)
    assert not problems, f"{page.relative_to(ROOT)}:\n  " + "\n  ".join(problems)


def test_the_checker_catches_a_moved_module(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "See [the code](code.md#nowhere), [gone](missing.md), `sweep/run/no_such_module.py`,\n"
        "`models/no_such_*.py`, `models.config.NoSuchThing`, `sweep.no_such.run_sweep`.\n"
        "Fine: `models/losses/gan.py`, `models/packed_*.py`, `models.config.TrialConfig`,\n"
        "[ok](code.md), `results/table1/trials.parquet`, https://example.org/models/x.py\n",
        encoding="utf-8",
    )
    (tmp_path / "code.md").write_text("# Code\n", encoding="utf-8")
    problems = _problems(page)
    assert problems == [
        "link 'code.md#nowhere': no heading #nowhere in code.md",
        "link 'missing.md': no file 'missing.md'",
        "path `models/no_such_*.py` does not exist",
        "path `sweep/run/no_such_module.py` does not exist",
        "`models.config.NoSuchThing`: models/config.py defines no 'NoSuchThing'",
        "`sweep.no_such.run_sweep`: sweep/__init__.py defines no 'no_such'",
    ]


def test_github_slugs() -> None:
    assert _slug("The paper-budget Figure 4") == "the-paper-budget-figure-4"
    assert _slug("`make bench` on the 2-core CPU") == "make-bench-on-the-2-core-cpu"
    assert _slug("Packs: many configurations per trial") == "packs-many-configurations-per-trial"
