"""Builds the API reference from the docstrings (`make docs`): pdoc, Google style, into docs/api/.

    python docs/build_api.py [OUTPUT]

`s2s_keras` loads its public names on first use; they are loaded first so that pdoc
finds them in the package. A name that does not resolve is an error, not a warning.
"""

import os
import pathlib
import sys
import warnings

os.environ.setdefault("PDOC_ALLOW_EXEC", "1")  # importing TensorFlow may start a subprocess, which pdoc blocks

import pdoc  # noqa: E402

import s2s_keras  # noqa: E402


def build(output="docs/api"):
    """Writes the reference into `output` and returns the path of its index page."""
    for name in s2s_keras.__all__:
        getattr(s2s_keras, name)
    pdoc.render.configure(docformat="google")
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*does not resolve")
        pdoc.pdoc("s2s_keras", output_directory=pathlib.Path(output))
    return pathlib.Path(output) / "index.html"


if __name__ == "__main__":
    print(build(*sys.argv[1:2]))
