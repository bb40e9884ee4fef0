"""The record an export keeps beside its graph: `assets.extra/s2s_keras.json` (TF Serving's folder for extras)."""

import json
import os
import warnings

METADATA_FILE = os.path.join("assets.extra", "s2s_keras.json")


def read_metadata(version_path):
    """The export's record as a dict; empty when it has none or it cannot be read (with a warning).

    The graph serves without it: only the record (special ids, search, sample rate) is lost.
    """
    path = os.path.join(version_path, METADATA_FILE)
    if not os.path.exists(path):
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as error:
        warnings.warn(f"{path!r} could not be read ({error}); metadata left empty.", stacklevel=3)
        return {}
