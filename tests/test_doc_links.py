"""Every reference in the documentation and the code points at something that exists.

Markdown links (files and `#anchors`) in README.md, docs/ and saved_models/,
`docs/...` paths named anywhere in the code, and every backticked
`s2s_keras.name.path` in the documentation and the docstrings.
"""

import glob
import importlib
import os
import re

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARKDOWN = ["README.md", *sorted(glob.glob("docs/*.md", root_dir=REPO)), "saved_models/README.md"]
CODE = sorted(glob.glob("s2s_keras/**/*.py", root_dir=REPO, recursive=True)
              + glob.glob("bench/*.py", root_dir=REPO) + glob.glob("notebooks/*.ipynb", root_dir=REPO)
              + ["Makefile", "pyproject.toml"])
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
DOTTED = re.compile(r"`(s2s_keras(?:\.[A-Za-z_][A-Za-z0-9_]*)+)`")
DOCS_PATH = re.compile(r"\b((?:docs|saved_models|notebooks|bench)/[A-Za-z0-9_./-]+\.(?:md|png|ipynb|py))")


def read(path):
    with open(os.path.join(REPO, path), encoding="utf-8") as f:
        return f.read()


def anchors(markdown):
    """GitHub's anchors of a Markdown file's headings."""
    found = set()
    for heading in re.findall(r"^#+\s+(.+?)\s*$", markdown, re.M):
        text = re.sub(r"[`*]", "", heading).strip().lower()
        found.add(re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", text)))
    return found


@pytest.mark.parametrize("path", MARKDOWN)
def test_markdown_links_point_at_files_and_headings_that_exist(path):
    text = read(path)
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        file, _, anchor = target.partition("#")
        resolved = os.path.normpath(os.path.join(os.path.dirname(path), file)) if file else path
        assert os.path.exists(os.path.join(REPO, resolved)), f"{path}: link to missing {target!r}"
        if anchor and resolved.endswith(".md"):
            assert anchor in anchors(read(resolved)), f"{path}: link to missing heading {target!r}"


@pytest.mark.parametrize("path", CODE + MARKDOWN)
def test_paths_named_in_the_project_exist(path):
    for named in DOCS_PATH.findall(read(path)):
        named = named.rstrip(".")
        if "*" in named or named.startswith("docs/api/"):  # a pattern, or the reference `make docs` builds
            continue
        assert os.path.exists(os.path.join(REPO, named)), f"{path} names {named!r}, which does not exist"


def resolves(dotted):
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for name in parts[split:]:
            if not hasattr(target, name):
                return False
            target = getattr(target, name)
        return True
    return False


def test_every_dotted_name_in_the_docs_and_docstrings_exists():
    missing = [(path, name) for path in CODE + MARKDOWN for name in DOTTED.findall(read(path)) if not resolves(name)]
    assert not missing
