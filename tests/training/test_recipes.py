"""Recipes: every model's settings reach `train()` and the CLI; provenance, resume, "auto" precision."""

import dataclasses
import json
import os

import pytest

from s2s_keras import cli
from s2s_keras.models import PLAIN, REGISTRY, Recipe, get_recipe, list_models
from s2s_keras.training import precision
from s2s_keras.training.run import train
from s2s_keras.training.run_folder import RUN_FILE
from s2s_keras.training.settings import FROM_RECIPE, RECIPE_FIELDS, TrainSettings, resolve_settings

# One changed value per recipe field, different from every registered recipe's.
CHANGES = {"tokenizer": "char", "vocab_size": 1234, "tokens_per_batch": 777, "max_length": 33, "bucket_width": 5,
           "learning_rate": 3e-4, "warmup_steps": 55, "label_smoothing": 0.05, "overrides": {"num_layers": 2},
           "dtype_policy": "mixed_float16", "keep": "last"}
FLAGS = {"tokenizer": ["--tokenizer", "char"], "vocab_size": ["--vocab-size", "1234"],
         "tokens_per_batch": ["--tokens-per-batch", "777"], "max_length": ["--max-length", "33"],
         "bucket_width": ["--bucket-width", "5"], "learning_rate": ["--learning-rate", "3e-4"],
         "warmup_steps": ["--warmup-steps", "55"], "label_smoothing": ["--label-smoothing", "0.05"],
         "overrides": ["--set", "num_layers=2"], "dtype_policy": ["--dtype-policy", "mixed_float16"],
         "keep": ["--keep", "last"]}


def _recipe_view(settings):
    return {name: getattr(settings, name) for name in RECIPE_FIELDS}


def test_every_registered_model_carries_a_recipe_the_cli_prints(capsys):
    assert set(CHANGES) == set(RECIPE_FIELDS) == set(FLAGS)
    for name in list_models():
        if REGISTRY.source_kind(name) == "audio":  # trained by training.train_speech, not these flags
            continue
        recipe = get_recipe(name)
        assert isinstance(recipe, Recipe) and recipe is not PLAIN and recipe.keep == "best"
        assert all(CHANGES[key] != value for key, value in recipe.settings().items())
    assert get_recipe("gru_attention").overrides == {"units": 256}
    assert get_recipe("transformer_small").warmup_steps == 400
    assert cli.main(["models", "transformer_small"]) == 0
    out = capsys.readouterr().out
    assert "training recipe" in out and "warmup_steps = 400" in out and "dtype_policy = 'auto'" in out
    with pytest.raises(ValueError, match="Unknown model 'nope'"):
        get_recipe("nope")
    with pytest.raises(ValueError, match="keep"):
        get_recipe("gru").replace(keep="first")


@pytest.mark.parametrize("name", ["gru_attention", "lstm_luong", "transformer_small"])
def test_resolved_settings_are_the_recipe_and_one_setting_overrides_one_field(name):
    recipe = get_recipe(name)
    base = TrainSettings(model=name, data="train.tsv", output="run")
    resolved, provenance = resolve_settings(base)
    assert _recipe_view(resolved) == recipe.settings()
    assert provenance == {**{key: "recipe" for key in RECIPE_FIELDS},
                          "overrides": {key: "recipe" for key in recipe.overrides}}
    for field, value in CHANGES.items():
        given = {**recipe.overrides, **value} if field == "overrides" else value
        changed, changed_provenance = resolve_settings(dataclasses.replace(base, **{field: value}))
        assert _recipe_view(changed) == {**recipe.settings(), field: given}, field
        assert [key for key in RECIPE_FIELDS if changed_provenance[key] != provenance[key]] == [field]
    plain, plain_provenance = resolve_settings(dataclasses.replace(base, recipe="none"))
    assert _recipe_view(plain) == PLAIN.settings() and plain_provenance["vocab_size"] == "plain"
    custom, custom_provenance = resolve_settings(dataclasses.replace(base, recipe=recipe.replace(vocab_size=999)))
    assert custom.vocab_size == 999 and custom.recipe == "custom" and custom_provenance["vocab_size"] == "recipe"
    with pytest.raises(ValueError, match="`recipe` must be 'model', 'none' or a Recipe"):
        resolve_settings(dataclasses.replace(base, recipe="best"))


def _cli_settings(monkeypatch, argv):
    """The `TrainSettings` the CLI builds from `argv`, resolved as `train()` resolves them."""
    seen = []
    monkeypatch.setattr("s2s_keras.training.run.train", lambda settings: seen.append(settings) or (0, 0, 0, {}))
    assert cli.main(["train", "transformer_small", "--data", "train.tsv", "--output", "run", *argv]) == 0
    return resolve_settings(seen[0])[0]


def test_the_cli_resolves_to_the_recipe_and_each_flag_overrides_one_field(monkeypatch, capsys):
    recipe = get_recipe("transformer_small")
    assert _recipe_view(_cli_settings(monkeypatch, [])) == recipe.settings()
    for field, flags in FLAGS.items():
        given = {**recipe.overrides, **CHANGES[field]} if field == "overrides" else CHANGES[field]
        assert _recipe_view(_cli_settings(monkeypatch, flags)) == {**recipe.settings(), field: given}, field
    # 0 asks for "none": buckets 25% apart, a constant learning rate
    zeros = _cli_settings(monkeypatch, ["--bucket-width", "0", "--warmup-steps", "0"])
    assert zeros.bucket_width is None and zeros.warmup_steps is None
    assert _recipe_view(_cli_settings(monkeypatch, ["--recipe", "none"])) == PLAIN.settings()


def _tiny(output, **changes):
    return TrainSettings(**{**dict(model="gru_attention", data="task:dates", output=str(output), tokenizer="char",
                                   epochs=2, batch_size=32, task_size=300, dtype_policy="float32", bleu_sample=0,
                                   overrides={"units": 16, "embedding_dim": 8}), **changes})


def test_run_json_records_provenance_and_a_resumed_run_keeps_its_settings_when_the_recipe_changes(
        tmp_path, monkeypatch):
    import keras

    class Crash(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise RuntimeError("simulated crash")

    with pytest.raises(RuntimeError, match="simulated crash"):
        train(_tiny(tmp_path), callbacks=[Crash()])
    recorded = json.loads((tmp_path / RUN_FILE).read_text())
    recipe = get_recipe("gru_attention")
    assert recorded["learning_rate"] == recipe.learning_rate and recorded["tokenizer"] == "char"
    assert recorded["provenance"]["learning_rate"] == "recipe" and recorded["provenance"]["tokenizer"] == "user"
    assert recorded["provenance"]["overrides"] == {"units": "user", "embedding_dim": "user"}
    assert recorded["recipe"] == "gru_attention" and recorded["recipe_settings"] == recipe.settings()
    # the recipe changes (a newer version of the library); the same command resumes with what was recorded
    monkeypatch.setitem(REGISTRY._recipes, "gru_attention",
                        recipe.replace(learning_rate=5e-4, tokens_per_batch=999, overrides={"units": 64}))
    _, _, _, logs = train(_tiny(tmp_path))
    assert len(logs["loss"]) == 1  # epoch 2 only: resumed, not refused as "another run"
    again = json.loads((tmp_path / RUN_FILE).read_text())
    assert {k: again[k] for k in RECIPE_FIELDS} == {k: recorded[k] for k in RECIPE_FIELDS}
    assert again["provenance"] == recorded["provenance"]
    with pytest.raises(ValueError, match=r"holds another run \(different vocab_size\)"):
        train(_tiny(tmp_path, vocab_size=77))  # a value given that contradicts the run


def test_a_run_json_from_before_recipes_resumes_with_the_plain_settings():
    recorded = {"model": "gru", "data": "d.tsv", "output": "o", "tokenizer": "wordpiece", "vocab_size": 8000,
                "tokens_per_batch": 4096, "learning_rate": 1e-3, "overrides": {"dropout": 0.2}}
    resolved, provenance = resolve_settings(TrainSettings(model="gru", data="d.tsv", output="o"), recorded)
    assert _recipe_view(resolved) == {**PLAIN.settings(), "overrides": {"dropout": 0.2}}
    assert provenance["vocab_size"] == "recorded" and provenance["overrides"] == {"dropout": "recorded"}


class _Stub:
    def __init__(self, float32, bfloat16):
        self.peaks, self.calls = {"float32": float32, "bfloat16": bfloat16}, []

    def __call__(self, dtype):
        self.calls.append(dtype)
        return self.peaks[dtype]


@pytest.mark.parametrize("bfloat16, expected", [(2.0e11, "mixed_bfloat16"), (1.5e11, "mixed_bfloat16"),
                                                (1.4e11, "float32"), (0.9e11, "float32")])
def test_auto_precision_decides_from_the_measurement_and_caches_it(tmp_path, monkeypatch, bfloat16, expected):
    monkeypatch.setattr("tensorflow.config.list_physical_devices", lambda kind=None: [])
    cache = str(tmp_path / "peaks.json")
    stub = _Stub(1.0e11, bfloat16)
    policy, reason = precision.auto_dtype_policy(measure=stub, cache_path=cache)
    assert policy == expected and "float32 100 GFLOP/s" in reason and stub.calls == ["float32", "bfloat16"]
    again, reason = precision.auto_dtype_policy(measure=_Stub(1.0e11, 9e11), cache_path=cache)  # cached: not re-run
    assert again == expected and "(cached)" in reason
    (tmp_path / "peaks.json").write_text("{not json")
    third = _Stub(1.0e11, 9e11)
    assert precision.auto_dtype_policy(measure=third, cache_path=cache)[0] == "mixed_bfloat16" and third.calls


def test_auto_precision_on_gpus_follows_the_compute_capability():
    assert precision.gpu_dtype_policy((9, 0)) == "mixed_bfloat16"
    assert precision.gpu_dtype_policy((8, 0)) == "mixed_bfloat16"
    assert precision.gpu_dtype_policy((7, 5)) == "mixed_float16"
    assert precision.gpu_dtype_policy((6, 1)) == "float32"


def test_train_resolves_auto_from_the_measurement(tmp_path, monkeypatch):
    monkeypatch.setattr(precision, "auto_dtype_policy",
                        lambda **kwargs: ("mixed_bfloat16", "stubbed: bfloat16 2.0x -> mixed_bfloat16"))
    model, _, _, _ = train(_tiny(tmp_path, dtype_policy=FROM_RECIPE, epochs=1))
    assert model.get_layer("decoder").compute_dtype == "bfloat16"
    recorded = json.loads((tmp_path / RUN_FILE).read_text())
    assert recorded["dtype_policy"] == "mixed_bfloat16" and recorded["provenance"]["dtype_policy"] == "recipe"
    assert recorded["dtype_policy_reason"].startswith("stubbed")


def test_the_real_measurement_is_quick_and_positive(tmp_path):
    import time

    started = time.perf_counter()
    peaks, cached = precision.measured_matmul_peaks(cache_path=str(tmp_path / "peaks.json"))
    assert not cached and time.perf_counter() - started < 4.0  # 2 s on an idle 2-core machine
    assert peaks["float32"] > 1e9 and peaks["bfloat16"] > 1e8
    assert os.path.exists(tmp_path / "peaks.json")


def test_corpus_rules_pick_the_smallest_size_that_covers_the_corpus():
    from s2s_keras.models import CorpusRule

    small = CorpusRule(max_pairs=1_000, changes={"vocab_size": 500, "overrides": {"dropout": 0.3}})
    medium = CorpusRule(max_pairs=50_000, changes={"overrides": {"dropout": 0.1}})
    recipe = Recipe(vocab_size=4000, overrides={"dropout": 0.0, "units": 64}, corpus_rules=(medium, small))
    assert recipe.for_corpus(50_001) == (recipe, None)
    at_medium, rule = recipe.for_corpus(50_000)
    assert rule is medium and at_medium.overrides == {"dropout": 0.1, "units": 64} and at_medium.vocab_size == 4000
    at_small, rule = recipe.for_corpus(999)
    assert rule is small and at_small.vocab_size == 500 and at_small.overrides == {"dropout": 0.3, "units": 64}
    assert "corpus_rules" not in recipe.settings()
    with pytest.raises(ValueError, match="changes"):
        CorpusRule(max_pairs=10, changes={"vocab": 3})
    with pytest.raises(ValueError, match="corpus_rules"):
        Recipe(corpus_rules=({"max_pairs": 3},))


def test_train_uses_the_recipe_for_its_corpus_size_and_a_resumed_run_keeps_it(tmp_path, monkeypatch, capsys):
    import keras

    from s2s_keras.models import CorpusRule

    recipe = get_recipe("gru_attention")
    rules = (CorpusRule(max_pairs=299, changes={"learning_rate": 7e-4}, note="tiny corpora"),
             CorpusRule(max_pairs=400, changes={"learning_rate": 9e-4, "overrides": {"dropout": 0.25}},
                        note="small corpora"))
    monkeypatch.setitem(REGISTRY._recipes, "gru_attention", recipe.replace(corpus_rules=rules))

    class Crash(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise RuntimeError("simulated crash")

    with pytest.raises(RuntimeError, match="simulated crash"):
        train(_tiny(tmp_path, overrides={"units": 16, "embedding_dim": 8}), callbacks=[Crash()])  # 300 task pairs
    assert "Corpus: 300 training pairs, at most 400" in capsys.readouterr().out
    recorded = json.loads((tmp_path / RUN_FILE).read_text())
    assert recorded["learning_rate"] == 9e-4 and recorded["overrides"]["dropout"] == 0.25
    assert recorded["provenance"]["learning_rate"] == "recipe"
    assert recorded["corpus_rule"] == {"pairs": 300, "max_pairs": 400, "changes": rules[1].changes}
    # the rules change (a newer library); the resumed run keeps the settings it started with
    monkeypatch.setitem(REGISTRY._recipes, "gru_attention", recipe.replace(corpus_rules=rules[:1]))
    _, _, _, logs = train(_tiny(tmp_path, overrides={"units": 16, "embedding_dim": 8}))
    again = json.loads((tmp_path / RUN_FILE).read_text())
    assert len(logs["loss"]) == 1 and again["learning_rate"] == 9e-4 and again["corpus_rule"] == recorded["corpus_rule"]
    # a value the user gives wins over the rule's; the rule's other changes still apply
    from s2s_keras.training.run import resolve_run_settings

    monkeypatch.setitem(REGISTRY._recipes, "gru_attention", recipe.replace(corpus_rules=rules))
    resolved, record, _ = resolve_run_settings(_tiny(tmp_path / "user", learning_rate=2e-3))
    assert resolved.learning_rate == 2e-3 and resolved.overrides["dropout"] == 0.25
    assert record["provenance"]["learning_rate"] == "user" and record["corpus_rule"]["max_pairs"] == 400
