"""The API reference builds from the docstrings (`make docs`) and covers the public names."""

import pdoc
import pytest


@pytest.mark.slow
def test_the_api_reference_builds_and_documents_the_public_api(tmp_path, monkeypatch):
    monkeypatch.setenv("PDOC_ALLOW_EXEC", "1")
    pdoc.render.configure(docformat="google")
    pdoc.pdoc("s2s_keras", output_directory=tmp_path)
    package = (tmp_path / "s2s_keras.html").read_text(encoding="utf-8")
    training = (tmp_path / "s2s_keras" / "training.html").read_text(encoding="utf-8")
    models = (tmp_path / "s2s_keras" / "models.html").read_text(encoding="utf-8")
    assert "get_recipe" in package and "Translator" in package
    for name in ("TrainSettings", "KeepBestEpoch", "auto_dtype_policy", "recipe_learning_rate"):
        assert f'id="{name}"' in training, name
    assert 'id="Recipe"' in models and "tokens_per_batch" in models
