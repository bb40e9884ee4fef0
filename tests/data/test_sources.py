import gzip
import re

import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from s2s_keras.data import (
    CharTokenizer, date_pairs, load_parallel_text, load_tfds, load_translate_folder, load_tsv, make_dataset,
    pairs_dataset, task_source,
)


def as_pairs(dataset):
    return [(s.decode(), t.decode()) for s, t in dataset.as_numpy_iterator()]


def write(path, text, gzipped=False):
    data = text.encode("utf-8")
    if gzipped:
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)
    return str(path)


TSV = "Go.\tVe.\nno tab here\n¿Qué?\tWhat?\textra column\n"


@pytest.mark.parametrize("gzipped", [False, True])
def test_load_tsv_streams_columns_plain_or_gzip(tmp_path, gzipped):
    path = write(tmp_path / ("train.tsv.gz" if gzipped else "train.tsv"), TSV, gzipped)
    assert as_pairs(load_tsv(path)) == [("Go.", "Ve."), ("no tab here", ""), ("¿Qué?", "What?")]
    assert as_pairs(load_tsv(path, columns=(1, 0)))[0] == ("Ve.", "Go.")
    assert as_pairs(load_tsv(path, columns=(0, 2)))[2] == ("¿Qué?", "extra column")
    with pytest.raises(ValueError, match=re.escape("Received: columns=(1, 1)")):
        load_tsv(path, columns=(1, 1))


def test_a_line_without_target_is_skipped_and_counted(tmp_path):
    path = write(tmp_path / "train.tsv", TSV)
    tokenizer = CharTokenizer.from_texts(TSV)
    dataset = make_dataset(load_tsv(path), tokenizer, tokenizer, batch_size=8, log=False)
    assert sum(inputs["source"].shape[0] for inputs, _ in dataset) == 2
    assert dataset.pipeline_stats.empty_skipped.numpy() == 1


@pytest.mark.parametrize("gzipped", [False, True])
def test_load_parallel_text(tmp_path, gzipped):
    suffix = ".gz" if gzipped else ""
    source = write(tmp_path / f"train.es{suffix}", "Hola\n¿Qué tal?\n", gzipped)
    target = write(tmp_path / f"train.en{suffix}", "Hello\nHow are you?\n", gzipped)
    assert as_pairs(load_parallel_text(source, target)) == [("Hola", "Hello"), ("¿Qué tal?", "How are you?")]


def test_parallel_files_of_different_lengths_fail_loudly(tmp_path):
    source = write(tmp_path / "a.txt", "1\n2\n3\n")
    target = write(tmp_path / "b.txt", "1\n2\n")
    with pytest.raises(tf.errors.InvalidArgumentError, match="different numbers of lines"):
        as_pairs(load_parallel_text(source, target))
    with pytest.raises(ValueError, match="Mixed plain and .gz"):
        load_tsv([source, str(tmp_path / "b.txt.gz")])


def test_load_tfds_with_mock_data():
    with tfds.testing.mock_data(num_examples=6):
        dataset = load_tfds("ted_hrlr_translate/pt_to_en", "train")
        pairs = as_pairs(dataset)
        reversed_pairs = as_pairs(load_tfds("ted_hrlr_translate/pt_to_en", "train", keys=("en", "pt")))
        with pytest.raises(ValueError, match="Received: keys=\\('pt', 'de'\\)"):
            load_tfds("ted_hrlr_translate/pt_to_en", "train", keys=("pt", "de"))
    assert len(pairs) == 6 and all(isinstance(s, str) and isinstance(t, str) for s, t in pairs)
    assert reversed_pairs == [(t, s) for s, t in pairs]
    assert dataset.element_spec == (tf.TensorSpec([], tf.string), tf.TensorSpec([], tf.string))


def test_load_translate_folder(tmp_path):
    write(tmp_path / "es.train.txt", "Hola\nAdiós\n")
    write(tmp_path / "en.train.txt", "Hello\nGoodbye\n")
    pairs = as_pairs(load_translate_folder(str(tmp_path), keys=("es", "en")))
    assert sorted(pairs) == [("Adiós", "Goodbye"), ("Hola", "Hello")]


def test_task_sources_are_string_pairs():
    assert as_pairs(task_source("dates", 5, seed=2)) == date_pairs(5, seed=2)
    for source, target in as_pairs(task_source("reverse", 20, seed=1, vocab_size=30)):
        assert target.split() == source.split()[::-1]
        assert all(4 <= int(t) < 30 for t in source.split())
    with pytest.raises(ValueError, match="Received: task='shuffle'"):
        task_source("shuffle", 5)


def test_pairs_dataset_rejects_malformed_pairs():
    assert as_pairs(pairs_dataset([])) == []
    with pytest.raises(ValueError, match="Received: \\('a',\\)"):
        pairs_dataset([("a", "b"), ("a",)])
    with pytest.raises(ValueError, match="element_spec"):
        make_dataset(tf.data.Dataset.range(3), None, None, batch_size=2)
