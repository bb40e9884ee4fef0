"""The demo (`make demo`): a GRU with Bahdanau attention learns to normalise dates.

"3. März 2021", "03/03/21", "3rd of March, 2021" → "2021-03-03", character by
character, trained on CPU in a few minutes; prints held-out exact-match
accuracy and examples, and saves an attention heatmap.
"""

import os
import time

import keras
import numpy as np

from s2s_keras import export
from s2s_keras.atomic_save import save_model_atomically, save_tokenizers_atomically
from s2s_keras.data import CharTokenizer, date_pairs, make_dataset, with_known_cardinality
from s2s_keras.decoding import BeamSearch, GreedySearch
from s2s_keras.evaluation import translate_all
from s2s_keras.models import build_model
from s2s_keras.plotting import plot_attention
from s2s_keras.training import MaskedAccuracy, masked_loss
from s2s_keras.training.run_folder import MODEL_FILE, TOKENIZERS_FOLDER
from s2s_keras.translator import Translator

TARGET_MAX_LENGTH = 12  # "YYYY-MM-DD" + [END], with a margin
DEMO_MARKER = "demo.json"  # marks a folder the demo made, and may overwrite
PLOT_FILE = "attention.png"


def char_dataset(pairs, source_tokenizer, target_tokenizer, batch_size, shuffle_seed=None):
    """`({"source", "target_in"}, target_out)` batches of `batch_size`, tokenized in-graph.

    `make_dataset` without length buckets: dates are short, so plain padded
    batches (shuffled when `shuffle_seed` is given) are what the demo wants.
    """
    dataset = make_dataset(pairs, source_tokenizer, target_tokenizer, batch_size=batch_size, max_length=None,
                           shuffle=shuffle_seed is not None, seed=shuffle_seed, bucket_boundaries=[], log=False)
    return with_known_cardinality(dataset)  # the progress bar shows a total from the first epoch


def _claim_output(output_dir):
    """Creates `output_dir` as a demo folder, refusing a non-empty folder the demo did not make.

    The demo replaces `model.keras` and `tokenizers/`; in a training run's folder
    that would destroy the user's model. A folder the demo wrote before it left
    `demo.json` (only `attention.png`, `model.keras`, `tokenizers/`) is accepted.
    """
    marker = os.path.join(output_dir, DEMO_MARKER)
    entries = set(os.listdir(output_dir)) if os.path.isdir(output_dir) else set()
    made_before_markers = PLOT_FILE in entries and entries <= {PLOT_FILE, MODEL_FILE, TOKENIZERS_FOLDER}
    if entries and DEMO_MARKER not in entries and not made_before_markers:
        raise ValueError(f"{output_dir!r} is not empty and was not made by the demo; give the demo a new or "
                         "empty --output folder (nothing was changed).")
    os.makedirs(output_dir, exist_ok=True)
    with open(marker, "w") as f:
        f.write('{"made_by": "s2s-keras demo"}\n')


def split_pairs(num_train, num_test, seed):
    """Training pairs and held-out pairs whose source strings never occur in training."""
    train = date_pairs(num_train, seed=seed)
    seen = {s for s, _ in train}
    test = [p for p in date_pairs(num_test * 2, seed=seed + 1) if p[0] not in seen][:num_test]
    return train, test


def run_date_demo(output_dir="outputs/demo", num_train=30000, num_test=1000, epochs=3, batch_size=64,
                  embedding_dim=64, units=128, seed=0, verbose="auto", export_to=None):
    """Trains `gru_attention` on the date task and reports what it learned.

    The output folder is laid out as a training run (`model.keras`,
    `tokenizers/source`, `tokenizers/target`), so `s2s-keras translate
    outputs/demo "3. März 2021"` works on it.

    Args:
        output_dir: where the model, tokenizers and attention plot go.
        num_train, num_test: numbers of generated training and held-out pairs.
        epochs, batch_size: training length.
        embedding_dim, units: model size.
        seed: seeds data, weights and shuffling.
        verbose: Keras progress display (`"auto"` shows progress bars).
        export_to: also export a SavedModel (beam 4) as a new version of this folder.

    Returns:
        A dict with `accuracy` (held-out exact match), `examples`, `seconds`
        (training time) and the paths written.

    Raises:
        ValueError: when `output_dir` is not empty and was not made by the demo.
    """
    _claim_output(output_dir)
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
    model.fit(train_ds, validation_data=test_ds, epochs=epochs, verbose=verbose, shuffle=False)  # shuffled in the pipeline
    seconds = time.time() - started

    translator = Translator(model, source_tokenizer, target_tokenizer, search=GreedySearch(max_length=TARGET_MAX_LENGTH))
    sources = [s for s, _ in test]
    predictions = translate_all(translator, sources, batch_size=256)
    correct = [p == t for p, (_, t) in zip(predictions, test)]
    accuracy = float(np.mean(correct))
    print(f"\nTrained in {seconds:.0f} s. Held-out exact-match accuracy: {accuracy:.1%} ({sum(correct)}/{len(test)})\n")
    examples = list(zip(sources, predictions, [t for _, t in test]))[:10]
    for source, prediction, target in examples:
        mark = "✓" if prediction == target else f"✗ (expected {target})"
        print(f"  {source:>40}  →  {prediction}  {mark}")

    plot_path = os.path.join(output_dir, PLOT_FILE)
    example_source, example_prediction, _ = max(examples, key=lambda e: len(e[0]))
    plot_attention(translator, example_source, example_prediction, path=plot_path)
    tokenizers_path = os.path.join(output_dir, TOKENIZERS_FOLDER)
    save_tokenizers_atomically(source_tokenizer, target_tokenizer, tokenizers_path)
    model_path = os.path.join(output_dir, MODEL_FILE)
    save_model_atomically(model, model_path)
    print(f"\nAttention heatmap: {plot_path}\nModel: {model_path}\nTokenizers: {tokenizers_path}")
    result = {"accuracy": accuracy, "examples": examples, "seconds": seconds,
              "plot": plot_path, "model": model_path, "tokenizers": tokenizers_path}
    if export_to:
        beam = Translator(model, source_tokenizer, target_tokenizer,
                          search=BeamSearch(beam_size=4, max_length=TARGET_MAX_LENGTH))
        result["export"] = export.save(beam, export_to)
        print(f"SavedModel (beam 4): {result['export']}")
    print(f'Try: s2s-keras translate {output_dir} "3. März 2021" "le 4 avril 1999"')
    return result
