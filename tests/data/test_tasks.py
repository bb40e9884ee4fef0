import datetime
import re

import numpy as np
import pytest

from s2s_keras.data import CharTokenizer, date_pairs, pad_pairs, toy_pairs


def test_date_pairs_are_reproducible_and_correct():
    pairs = date_pairs(1000, seed=3)
    assert pairs == date_pairs(1000, seed=3)
    assert pairs != date_pairs(400, seed=4)
    for source, target in pairs:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", target)
        date = datetime.date.fromisoformat(target)
        assert 1800 <= date.year <= 2199
        assert str(date.day) in source  # every rendering shows the day's number
        if not 1950 <= date.year <= 2049:  # two-digit years only where they are read unambiguously
            assert str(date.year) in source, source
    # Many formats and languages are present.
    sources = " ".join(s for s, _ in pairs)
    for word in ("mars", "März", "marzo", "of", "/"):
        assert word in sources
    assert any(re.search(r"\d\d[./]\d\d?[./]\d\d$", source) for source, _ in pairs)  # some two-digit years


@pytest.mark.parametrize("task", ["copy", "reverse", "sort"])
def test_toy_pairs(task):
    pairs = toy_pairs(task, 50, 2, 9, 12, seed=0)
    for source, target in pairs:
        assert 2 <= len(source) <= 9 and source.min() >= 4 and source.max() < 12
        expected = {"copy": source, "reverse": source[::-1], "sort": np.sort(source)}[task]
        np.testing.assert_array_equal(target, expected)


def test_toy_pairs_reject_bad_arguments():
    with pytest.raises(ValueError, match="task"):
        toy_pairs("shuffle", 1, 1, 2, 10)
    with pytest.raises(ValueError, match="min_length"):
        toy_pairs("copy", 1, 3, 2, 10)


def test_pad_pairs_adds_start_and_end_and_shifts():
    inputs, labels = pad_pairs([([5, 6, 7], [8]), ([5], [9, 10, 11])])
    np.testing.assert_array_equal(inputs["source"], [[5, 6, 7], [5, 0, 0]])
    # The shorter target keeps its [END] in target_in; its label there is padding.
    np.testing.assert_array_equal(inputs["target_in"], [[2, 8, 3, 0], [2, 9, 10, 11]])
    np.testing.assert_array_equal(labels, [[8, 3, 0, 0], [9, 10, 11, 3]])


def test_char_tokenizer_round_trip_reserved_ids_and_unknowns():
    tokenizer = CharTokenizer.from_texts(["3 mars 2021", "März"])
    assert tokenizer.vocab_size == 4 + len(set("3 mars 2021März"))
    ids = tokenizer.tokenize(["3 März", "3 m€"]).to_list()
    assert min(min(row) for row in ids) >= 1 and ids[1][-1] == 1  # € is [UNK]
    text = tokenizer.detokenize(tokenizer.tokenize(["3 März 2021"]).to_tensor())
    assert text.numpy()[0].decode() == "3 März 2021"
    assert tokenizer.detokenize([[2, 4, 3, 0]]).numpy()[0].decode() == tokenizer.vocabulary[0]


def test_char_tokenizer_replaces_invalid_utf8():
    tokenizer = CharTokenizer.from_texts(["ab"])
    assert tokenizer.tokenize([b"a\xffb"]).to_list() == [[4, 1, 5]]
