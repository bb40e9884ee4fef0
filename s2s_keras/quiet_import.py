"""Imports TensorFlow without the C++ start-up lines a command-line user cannot act on.

TensorFlow's C++ code logs before its logging is set up (`oneDNN custom
operations are on`, `Could not find cuda drivers`, `failed call to cuInit`,
the CPU-feature notice), and those lines ignore `TF_CPP_MIN_LOG_LEVEL`. The
command line imports TensorFlow here: with the log level at 3 (errors come
back as Python exceptions) unless the user set it, and with the known
start-up lines dropped from what the import writes to standard error; any
other line still reaches it.

Set `TF_CPP_MIN_LOG_LEVEL=0` to see TensorFlow's own log.
"""

import contextlib
import os
import sys
import tempfile

# Substrings of the start-up lines that are dropped; nothing else is.
STARTUP_NOISE = (
    "All log messages before absl::InitializeLog() is called",
    "oneDNN custom operations are on",
    "Could not find cuda drivers",
    "failed call to cuInit",
    "cpu_feature_guard",
    "This TensorFlow binary is optimized",
    "To enable the following instructions",
    "rebuild TensorFlow with the appropriate compiler flags",
)

# What TensorFlow Text's copy of sentencepiece logs (at INFO, with no way to lower it from Python) the first time
# a graph runs a SentencePiece tokenizer trained with identity normalization, as ours are.
TOKENIZER_NOISE = ("precompiled_charsmap is empty",)


@contextlib.contextmanager
def dropped_stderr_lines(noise=STARTUP_NOISE):
    """Within the block, lines written to file descriptor 2 that contain any of `noise` are dropped.

    The other lines are written to standard error when the block ends. Where
    descriptor 2 cannot be redirected, nothing is dropped.

    Args:
        noise: substrings; a line containing one of them is dropped.

    Example:
    >>> with dropped_stderr_lines(("chatty",)):
    ...     print("chatty start-up line", file=sys.stderr)
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode("utf-8", errors="replace").splitlines(keepends=True):
                if not any(part in line for part in noise):
                    sys.stderr.write(line)
            sys.stderr.flush()


def import_tensorflow_quietly():
    """Imports TensorFlow, tensorflow-text and Keras, at log level 3 unless set, without the start-up lines."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with dropped_stderr_lines():
        import keras  # noqa: F401
        import tensorflow  # noqa: F401
        import tensorflow_text  # noqa: F401
