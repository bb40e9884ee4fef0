"""A SavedModel holding tokenizers carries their vocabularies as assets and reloads without s2s_keras."""

import json
import os
import subprocess
import sys

import tensorflow as tf

from s2s_keras.data import CharTokenizer, SentencePieceTokenizer, WordPieceTokenizer

TEXTS = ["¿Dónde está la biblioteca?", "東京 🐱 «ﬁne» Ｃafé", "Grüße, Köln!"]
CORPUS = TEXTS * 30

RELOAD = """
import json, sys
import tensorflow as tf
import tensorflow_text  # registers the tokenizer ops; s2s_keras is not imported
texts = json.loads(sys.argv[2])
out = {}
for kind in ("char", "wordpiece", "sentencepiece"):
    module = tf.saved_model.load(f"{sys.argv[1]}/{kind}")
    ids = module.tokenize(tf.constant(texts))
    out[kind] = {"ids": ids.numpy().tolist(), "text": [t.decode() for t in module.detokenize(ids).numpy()]}
assert "s2s_keras" not in sys.modules
print(json.dumps(out))
"""


class TokenizerModule(tf.Module):
    """What an export does: tokenizer ops inside `tf.function`s with fixed signatures."""

    def __init__(self, tokenizer):
        super().__init__()
        self.tokenizer = tokenizer

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def tokenize(self, strings):
        return self.tokenizer.tokenize(strings).to_tensor()  # (batch, len), padded with 0

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)])
    def detokenize(self, ids):
        return self.tokenizer.detokenize(ids)


def test_saved_model_of_tokenizers_reloads_in_a_process_with_only_tensorflow_text(tmp_path):
    tokenizers = {
        "char": CharTokenizer.from_texts(CORPUS),
        "wordpiece": WordPieceTokenizer.from_texts(CORPUS, vocab_size=200),
        "sentencepiece": SentencePieceTokenizer.from_texts(CORPUS, vocab_size=320),
    }
    asset_names = {"char": "characters.tsv", "wordpiece": "vocab.txt", "sentencepiece": "sentencepiece.model"}
    expected = {}
    for kind, tokenizer in tokenizers.items():
        path = tmp_path / kind
        tf.saved_model.save(TokenizerModule(tokenizer), str(path))
        assert os.listdir(path / "assets") == [asset_names[kind]]
        expected[kind] = tokenizer.tokenize(TEXTS).to_tensor().numpy().tolist()
        # The asset is a copy: the tokenizer's own file may go away.
        for file in tokenizer.vocabulary_files:
            os.remove(file)

    result = subprocess.run(
        [sys.executable, "-c", RELOAD, str(tmp_path), json.dumps(TEXTS)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    reloaded = json.loads(result.stdout.strip().splitlines()[-1])
    for kind, tokenizer in tokenizers.items():
        assert reloaded[kind]["ids"] == expected[kind]
        normalized = [t.decode() for t in tokenizer.normalize(TEXTS).numpy()]
        assert reloaded[kind]["text"] == normalized

