"""Saves that never leave a half-written file: write beside the final name, then rename.

`os.replace` is atomic on one file system, so a crash or a full disk leaves either
the previous file (or folder) or the new one, never a mix. Training, the demo and
anything else that replaces a model or its tokenizers in place saves through here.
"""

import json
import os
import shutil


def write_atomically(path, write, suffix=".partial"):
    """Calls `write(partial)` for a file beside `path`, then renames it to `path`.

    Args:
        path: the file to write (replaced if it exists).
        write: a function that writes a whole file at the path it is given.
        suffix: ends the temporary name (Keras wants `.keras` or `.weights.h5`).

    Example:
    >>> from pathlib import Path
    >>> write_atomically("notes.txt", lambda partial: Path(partial).write_text("done"))
    >>> Path("notes.txt").read_text()
    'done'
    """
    partial = path + suffix
    write(partial)
    os.replace(partial, path)


def save_model_atomically(model, path):
    """`model.save(path)`, never leaving `path` half-written.

    Args:
        model: a `keras.Model`.
        path: the `.keras` file to write (replaced if it exists).

    Example:
    >>> save_model_atomically(model, "runs/x/model.keras")  # doctest: +SKIP
    """
    write_atomically(path, model.save, suffix=".partial.keras")


def save_weights_atomically(model, path):
    """`model.save_weights(path)` (a `.weights.h5` file), never leaving `path` half-written.

    Example:
    >>> save_weights_atomically(model, "runs/x/checkpoints/epoch-001.weights.h5")  # doctest: +SKIP
    """
    write_atomically(path, model.save_weights, suffix=".partial.weights.h5")


def write_json_atomically(path, value):
    """Writes `value` as indented JSON to `path`, never leaving it half-written.

    Example:
    >>> write_json_atomically("best.json", {"epoch": 3})
    >>> json.load(open("best.json"))
    {'epoch': 3}
    """

    def write(partial):
        with open(partial, "w", encoding="utf-8") as f:
            json.dump(value, f, indent=2)

    write_atomically(path, write)


def save_tokenizers_atomically(source_tokenizer, target_tokenizer, folder):
    """Writes `folder/source` and `folder/target` to a staging folder, then swaps it in.

    A crash leaves either the previous pair or the new one, never a mix.

    Args:
        source_tokenizer: a `data.Tokenizer`, saved as `folder/source`.
        target_tokenizer: a `data.Tokenizer`, saved as `folder/target`.
        folder: the pair's folder (replaced if it exists).

    Example:
    >>> save_tokenizers_atomically(source_tokenizer, target_tokenizer, "runs/x/tokenizers")  # doctest: +SKIP
    """
    staging, previous = folder + ".partial", folder + ".previous"
    shutil.rmtree(staging, ignore_errors=True)
    source_tokenizer.save(os.path.join(staging, "source"))
    target_tokenizer.save(os.path.join(staging, "target"))
    if os.path.exists(folder):
        shutil.rmtree(previous, ignore_errors=True)
        os.replace(folder, previous)
        os.replace(staging, folder)
        shutil.rmtree(previous)
    else:
        os.replace(staging, folder)
