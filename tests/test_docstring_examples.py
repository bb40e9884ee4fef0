"""Every docstring example in `s2s_keras` runs as a doctest, or is marked `# doctest: +SKIP`.

Each docstring with `>>>` examples is one test case (id: the doctest's name,
e.g. `s2s_keras.data.pipeline.width_bucket_boundaries`), run with its module's
globals, in a fresh temporary folder (so an example that writes a file writes
it there). Examples that need what a module does not define (a trained
`model`, `train_ds`, a run folder, an export) are illustrative and skipped;
the others must print exactly what the docstring says.
"""

import copy
import doctest
import importlib
import io
import os
import pkgutil
import re

import pytest

import s2s_keras

OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE

# Modules whose doctests are not collected because importing them has side effects, with the reason.
# None at present: every module only defines names when imported (`s2s_keras.cli` runs `main()` under
# its `__main__` guard alone, and `s2s_keras.quiet_import` imports TensorFlow only when called).
NOT_IMPORTED = {}


def _module_names():
    names = [s2s_keras.__name__]
    for info in pkgutil.walk_packages(s2s_keras.__path__, prefix=f"{s2s_keras.__name__}."):
        names.append(info.name)
    return sorted(name for name in names if name not in NOT_IMPORTED)


def _collect():
    finder = doctest.DocTestFinder()  # globals: a copy of the module's; docstrings without examples are left out
    tests = []
    for name in _module_names():
        module = importlib.import_module(name)
        tests.extend(test for test in finder.find(module) if test.examples)
    return sorted(tests, key=lambda test: test.name)


DOCTESTS = _collect()


def _example_lines_in_sources():
    """`>>>` lines in the package's source files, `{path: count}` (the modules `NOT_IMPORTED` left out)."""
    root = os.path.dirname(s2s_keras.__file__)
    counts = {}
    for folder, _, files in os.walk(root):
        for file in files:
            if not file.endswith(".py"):
                continue
            path = os.path.join(folder, file)
            module = os.path.relpath(path, os.path.dirname(root))[: -len(".py")].replace(os.sep, ".")
            if module.removesuffix(".__init__") in NOT_IMPORTED:
                continue
            with open(path, encoding="utf-8") as f:
                count = len(re.findall(r"^\s*>>> ", f.read(), flags=re.MULTILINE))
            if count:
                counts[os.path.relpath(path, root)] = count
    return counts


def test_every_example_in_the_sources_is_collected():
    """A `>>>` line that `DocTestFinder` does not see (a docstring it cannot reach) would never run."""
    root = os.path.dirname(s2s_keras.__file__)
    collected = {}
    for test in DOCTESTS:
        path = os.path.relpath(test.filename, root)
        collected[path] = collected.get(path, 0) + len(test.examples)
    assert collected == _example_lines_in_sources()


@pytest.mark.parametrize("test", DOCTESTS, ids=[test.name for test in DOCTESTS])
def test_docstring_example(test, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # an example that writes a file (a plot) writes it here
    test = copy.copy(test)
    test.globs = dict(test.globs)  # the run clears its globals: keep the collected test reusable
    runner = doctest.DocTestRunner(optionflags=OPTIONS)
    report = io.StringIO()
    failed, attempted = runner.run(test, out=report.write)
    assert failed == 0, f"{failed} of {attempted} examples of {test.name} failed:\n{report.getvalue()}"
