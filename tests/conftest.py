import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
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
