"""The API reference builds from the docstrings (`make docs`) and covers the public names."""

import os
import subprocess
import sys

import pytest

BUILD = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "build_api.py")


@pytest.mark.slow
def test_the_api_reference_builds_and_documents_the_public_api(tmp_path):
    done = subprocess.run([sys.executable, BUILD, str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]  # a name that does not resolve fails the build
    assert "does not resolve" not in done.stderr
    package = (tmp_path / "s2s_keras.html").read_text(encoding="utf-8")
    training = (tmp_path / "s2s_keras" / "training.html").read_text(encoding="utf-8")
    models = (tmp_path / "s2s_keras" / "models.html").read_text(encoding="utf-8")
    for name in ("build_model", "get_recipe", "list_models", "Translator"):  # the package's lazy names
        assert f'id="{name}"' in package, name
    for name in ("TrainSettings", "KeepBestEpoch", "auto_dtype_policy", "recipe_learning_rate"):
        assert f'id="{name}"' in training, name
    assert 'id="Recipe"' in models and "tokens_per_batch" in models
