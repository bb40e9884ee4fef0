import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# dtype_policy="auto" caches its matmul measurement here, not in the user's ~/.cache (subprocesses inherit it)
os.environ.setdefault("S2S_KERAS_CACHE", tempfile.mkdtemp(prefix="s2s_keras_cache_"))
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(1234)
    yield


def pytest_collection_modifyitems(config, items):
    """Runs the slow tests first, so `pytest -n 2` does not end with one worker on a long test."""
    items.sort(key=lambda item: 0 if item.get_closest_marker("slow") else 1)  # stable: keeps file order
