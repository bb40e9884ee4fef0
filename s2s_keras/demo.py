"""The README's main job: a GRU with Bahdanau attention learns to normalise dates.

"3. März 2021", "03/03/21", "3rd of March, 2021" → "2021-03-03", character by
character, trained on CPU in a few minutes; prints held-out exact-match
accuracy and examples, and saves an attention heatmap.
"""

import json
import os
import time

import keras
import numpy as np
import tensorflow as tf

from s2s_keras.data import CharTokenizer, date_pairs
from s2s_keras.data.tokens import END_ID, START_ID
from s2s_keras.decoding import GreedySearch, decode
from s2s_keras.models import build_model
from s2s_keras.plotting import plot_attention_matrix
from s2s_keras.training import MaskedAccuracy, masked_loss

TARGET_MAX_LENGTH = 12  # "YYYY-MM-DD" + [END], with a margin


def char_dataset(pairs, source_tokenizer, target_tokenizer, batch_size, shuffle_seed=None):
    """`({"source", "target_in"}, target_out)` batches, tokenized in-graph."""
    sources = tf.constant([s for s, _ in pairs])
    targets = tf.constant([t for _, t in pairs])
    ds = tf.data.Dataset.from_tensor_slices((sources, targets))
    if shuffle_seed is not None:
        ds = ds.shuffle(len(pairs), seed=shuffle_seed, reshuffle_each_iteration=True)

    def to_model_inputs(source, target):
        source_ids = source_tokenizer.tokenize(source).to_tensor()  # (batch, src_len)
        target_ids = target_tokenizer.tokenize(target)
        batch = tf.shape(source)[0]
        start = tf.fill([batch, 1], START_ID)
        end = tf.fill([batch, 1], END_ID)
        target_ids = tf.concat([start, target_ids, end], axis=1).to_tensor()  # (batch, tgt_len + 2)
        return {"source": source_ids, "target_in": target_ids[:, :-1]}, target_ids[:, 1:]

    return ds.batch(batch_size).map(to_model_inputs, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def split_pairs(num_train, num_test, seed):
    """Training pairs and held-out pairs whose source strings never occur in training."""
    train = date_pairs(num_train, seed=seed)
    seen = {s for s, _ in train}
    test = [p for p in date_pairs(num_test * 2, seed=seed + 1) if p[0] not in seen][:num_test]
    return train, test


def translate(model, source_tokenizer, target_tokenizer, sentences, batch_size=256):
    """Greedy translations of `sentences` (a list of strings)."""
    search = GreedySearch(max_length=TARGET_MAX_LENGTH)

    @tf.function
    def run(strings):
        ids = source_tokenizer.tokenize(strings).to_tensor()
        result = decode(model, ids, search)
        return target_tokenizer.detokenize(result.ids[:, 0])

    outputs = []
    for i in range(0, len(sentences), batch_size):
        outputs.extend(t.decode() for t in run(tf.constant(sentences[i : i + batch_size])).numpy())
    return outputs


def save_attention_plot(model, source_tokenizer, target_tokenizer, sentence, translation, path):
    source_ids = source_tokenizer.tokenize([sentence]).to_tensor()
    target_ids = target_tokenizer.tokenize([translation]).to_tensor().numpy()
    target_in = np.concatenate([[[START_ID]], target_ids], axis=1)  # [START] + output
    weights = model.attention_weights(source_ids, target_in)[0].numpy()  # (tgt_len, src_len)
    plot_attention_matrix(
        weights, list(sentence), list(translation) + ["[END]"], path=path, title=f"{sentence} → {translation}"
    )


def run_date_demo(output_dir="outputs/demo", num_train=30000, num_test=1000, epochs=3, batch_size=64,
                  embedding_dim=64, units=128, seed=0, verbose="auto"):
    """Trains `gru_attention` on the date task and reports what it learned.

    Args:
        output_dir: where the model, vocabularies and attention plot go.
        num_train, num_test: numbers of generated training and held-out pairs.
        epochs, batch_size: training length.
        embedding_dim, units: model size.
        seed: seeds data, weights and shuffling.
        verbose: Keras progress display (`"auto"` shows progress bars).

    Returns:
        A dict with `accuracy` (held-out exact match), `examples`, `seconds`
        (training time) and the paths written.
    """
    os.makedirs(output_dir, exist_ok=True)
    keras.utils.set_random_seed(seed)
    train, test = split_pairs(num_train, num_test, seed)
    source_tokenizer = CharTokenizer.from_texts(s for s, _ in train)
    target_tokenizer = CharTokenizer.from_texts(t for _, t in train)
    print(f"Date normalisation: {len(train)} training pairs, {len(test)} held-out pairs, "
          f"{source_tokenizer.vocab_size} source and {target_tokenizer.vocab_size} target symbols.")

    model = build_model(
        "gru_attention",
        source_vocab_size=source_tokenizer.vocab_size,
        target_vocab_size=target_tokenizer.vocab_size,
        embedding_dim=embedding_dim,
        units=units,
        dropout=0.0,
    )
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss=masked_loss(), metrics=[MaskedAccuracy()])
    train_ds = char_dataset(train, source_tokenizer, target_tokenizer, batch_size, shuffle_seed=seed)
    test_ds = char_dataset(test, source_tokenizer, target_tokenizer, batch_size)
    started = time.time()
    model.fit(train_ds, validation_data=test_ds, epochs=epochs, verbose=verbose)
    seconds = time.time() - started

    sources = [s for s, _ in test]
    predictions = translate(model, source_tokenizer, target_tokenizer, sources)
    correct = [p == t for p, (_, t) in zip(predictions, test)]
    accuracy = float(np.mean(correct))
    print(f"\nTrained in {seconds:.0f} s. Held-out exact-match accuracy: {accuracy:.1%} ({sum(correct)}/{len(test)})\n")
    examples = list(zip(sources, predictions, [t for _, t in test]))[:10]
    for source, prediction, target in examples:
        mark = "✓" if prediction == target else f"✗ (expected {target})"
        print(f"  {source:>40}  →  {prediction}  {mark}")

    plot_path = os.path.join(output_dir, "attention.png")
    example_source, example_prediction, _ = max(examples, key=lambda e: len(e[0]))
    save_attention_plot(model, source_tokenizer, target_tokenizer, example_source, example_prediction, plot_path)
    model_path = os.path.join(output_dir, "gru_attention_dates.keras")
    model.save(model_path)
    vocab_path = os.path.join(output_dir, "vocabularies.json")
    with open(vocab_path, "w", encoding="utf-8") as f:
        json.dump({"source": source_tokenizer.vocabulary, "target": target_tokenizer.vocabulary}, f, ensure_ascii=False)
    print(f"\nAttention heatmap: {plot_path}\nModel: {model_path}\nVocabularies: {vocab_path}")
    return {"accuracy": accuracy, "examples": examples, "seconds": seconds,
            "plot": plot_path, "model": model_path, "vocabularies": vocab_path}
