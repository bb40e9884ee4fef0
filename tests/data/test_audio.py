"""Speech data: WAV reading, the audio pipeline, spoken digit utterances, error rates. Data made here."""

import wave

import numpy as np
import pytest
import tensorflow as tf

from s2s_keras.data import (
    DIGIT_WORDS, CharTokenizer, fsdd_utterances, load_fsdd, make_audio_dataset, read_wav, tone_utterances,
)
from s2s_keras.data.audio import decode_wav_tensor, length_bucket_boundaries
from s2s_keras.data.spoken_digits import tone_word
from s2s_keras.data.special_ids import END_ID, PAD_ID, START_ID
from s2s_keras.speech_metrics import TranscriptionScores, score_transcripts

RATE = 8000


def _batches(dataset):
    return [({k: v.numpy() for k, v in inputs.items()}, out.numpy()) for inputs, out in dataset]


def _constant_utterances(lengths):
    """Waveform `i` is `lengths[i]` samples of the value `(i + 1) / 64` (never 0), so a row names its utterance."""
    waveforms = [np.full(n, (i + 1) / 64, np.float32) for i, n in enumerate(lengths)]
    transcripts = [" ".join(DIGIT_WORDS[(i + k) % 10] for k in range(1 + i % 3)) for i in range(len(lengths))]
    return waveforms, transcripts


# --- the tone task -----------------------------------------------------------------------------

def test_tone_utterances_are_reproducible_and_transcribed():
    waveforms, transcripts = tone_utterances(20, min_words=2, max_words=3, seed=5)
    again, same = tone_utterances(20, min_words=2, max_words=3, seed=5)
    other, _ = tone_utterances(20, min_words=2, max_words=3, seed=6)
    assert transcripts == same and all(np.array_equal(a, b) for a, b in zip(waveforms, again))
    assert not all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(waveforms, other))
    assert all(2 <= len(t.split()) <= 3 and set(t.split()) <= set(DIGIT_WORDS) for t in transcripts)
    assert all(w.dtype == np.float32 and w.ndim == 1 and np.abs(w).max() <= 1.0 for w in waveforms)


def test_a_tone_word_sounds_the_same_whatever_the_seed():
    for seed in (0, 1):
        waveforms, transcripts = tone_utterances(4, vocabulary=("a", "b"), max_words=1, noise_level=0.0, seed=seed)
        for waveform, word in zip(waveforms, transcripts):
            sound = tone_word(("a", "b").index(word))
            gain = np.abs(waveform).max() / np.abs(sound).max()
            np.testing.assert_allclose(waveform, gain * sound, atol=1e-6)
    assert len({tone_word(i).tobytes() for i in range(36)}) == 36


def test_tone_utterances_refuse_a_bad_vocabulary():
    with pytest.raises(ValueError, match="distinct words without spaces"):
        tone_utterances(2, vocabulary=("one", "one"))
    with pytest.raises(ValueError, match="min_words"):
        tone_utterances(2, min_words=3, max_words=2)


# --- WAV files ---------------------------------------------------------------------------------

def test_read_wav_round_trips_a_wav_file(tmp_path):
    samples = (0.5 * np.sin(np.arange(800) / 5)).astype(np.float32)  # (samples,)
    path = tmp_path / "tone.wav"
    path.write_bytes(tf.audio.encode_wav(samples[:, None], RATE).numpy())
    read = read_wav(path)
    assert read.dtype == np.float32 and read.shape == (800,)
    np.testing.assert_allclose(read, samples, atol=1 / 32768)
    np.testing.assert_array_equal(read_wav(path.read_bytes()), read)
    in_graph = tf.data.Dataset.from_tensors(tf.io.read_file(str(path))).map(decode_wav_tensor)
    np.testing.assert_array_equal(next(iter(in_graph)).numpy(), read)


def test_read_wav_refuses_another_rate_and_a_file_that_is_not_wav(tmp_path):
    path = tmp_path / "fast.wav"
    path.write_bytes(tf.audio.encode_wav(tf.zeros([160, 1]), 16000).numpy())
    with pytest.raises(ValueError, match="fast.wav' has a sample rate of 16000 Hz; expected 8000 Hz"):
        read_wav(path)
    text = tmp_path / "notes.wav"
    text.write_text("not a wav file")
    with pytest.raises(ValueError, match="notes.wav' is not a WAV file"):
        read_wav(text)
    with pytest.raises(tf.errors.InvalidArgumentError, match="sample rate"):
        decode_wav_tensor(tf.io.read_file(str(path)), RATE)


# --- the pipeline ------------------------------------------------------------------------------

def test_batches_pad_waveforms_with_zeros_and_frame_targets_with_start_and_end():
    lengths = [300, 1200, 50, 800, 640, 90, 1000, 333, 700, 20]
    waveforms, transcripts = _constant_utterances(lengths)
    tokenizer = CharTokenizer.from_texts(transcripts)
    dataset = make_audio_dataset(waveforms, transcripts, tokenizer, batch_size=3, seed=1)
    seen = []
    for inputs, target_out in _batches(dataset):
        source, target_in = inputs["source"], inputs["target_in"]
        assert source.dtype == np.float32 and target_in.dtype == np.int32 and target_out.dtype == np.int32
        assert target_in.shape == target_out.shape and source.shape[0] == target_in.shape[0]
        for samples, t_in, t_out in zip(source, target_in, target_out):
            i = int(round(samples[0] * 64)) - 1  # the utterance this row holds
            seen.append(i)
            assert np.all(samples[: lengths[i]] == (i + 1) / 64) and np.all(samples[lengths[i]:] == 0.0)
            framed = [START_ID, *tokenizer.tokenize(transcripts[i]).numpy(), END_ID]
            target = np.pad(framed, (0, len(t_in) + 1 - len(framed)), constant_values=PAD_ID)  # (tgt_len + 1,)
            assert np.array_equal(t_in, target[:-1]) and np.array_equal(t_out, target[1:])
    assert sorted(seen) == list(range(len(lengths)))


def test_buckets_group_similar_lengths_and_seconds_per_batch_sets_each_batch_size():
    rng = np.random.default_rng(0)
    lengths = list(rng.integers(800, 1200, 24)) + list(rng.integers(7000, 8000, 24))
    waveforms, transcripts = _constant_utterances(lengths)
    tokenizer = CharTokenizer.from_texts(transcripts)
    for kwargs in ({"bucket_boundaries": [4000], "batch_size": 4}, {"seconds_per_batch": 2.0}):
        batches = _batches(make_audio_dataset(waveforms, transcripts, tokenizer, seed=0, **kwargs))
        assert sum(len(out) for _, out in batches) == 48
        for inputs, _ in batches:
            row_lengths = np.count_nonzero(inputs["source"], axis=1)
            assert row_lengths.max() < 4000 or row_lengths.min() >= 4000  # one cluster per batch
            if "seconds_per_batch" in kwargs:
                assert inputs["source"].size <= 2.0 * RATE
    assert length_bucket_boundaries([100, 200, 300, 400], num_buckets=2) == [250]
    assert length_bucket_boundaries([500] * 4) == []


def test_over_long_utterances_and_empty_transcripts_are_dropped_and_counted():
    lengths = [400, 9000, 500, 600, 12000, 700]
    waveforms, transcripts = _constant_utterances(lengths)
    transcripts[2] = " "
    tokenizer = CharTokenizer.from_texts(transcripts)
    with pytest.warns(UserWarning) as warned:
        dataset, stats = make_audio_dataset(waveforms, transcripts, tokenizer, batch_size=8, max_seconds=1.0,
                                            shuffle=False, log=False, return_stats=True)
    messages = [str(w.message) for w in warned]
    assert any("1 of 6 utterances have no samples or an empty transcript" in m for m in messages)
    assert any("2 of 6 utterances are longer than max_seconds=1.0" in m for m in messages)
    batches = _batches(dataset)
    kept = sorted(np.count_nonzero(inputs["source"], axis=1).tolist() for inputs, _ in batches)
    assert sum(kept, []) == [400, 600, 700]
    assert stats.as_dict() == {"pairs_read": 6, "empty_skipped": 1, "too_long_dropped": 2, "truncated": 0,
                               "passes": 1, "pairs_kept": 3}


def test_a_dataset_of_pairs_gives_the_same_batches():
    lengths = [100, 250, 400, 520]
    waveforms, transcripts = _constant_utterances(lengths)
    tokenizer = CharTokenizer.from_texts(transcripts)
    pairs = tf.data.Dataset.from_generator(
        lambda: zip(waveforms, transcripts),
        output_signature=(tf.TensorSpec([None], tf.float32), tf.TensorSpec([], tf.string)),
    )
    from_list = _batches(make_audio_dataset(waveforms, transcripts, tokenizer, batch_size=4, shuffle=False,
                                             bucket_boundaries=[]))
    from_dataset = _batches(make_audio_dataset(pairs, None, tokenizer, batch_size=4, shuffle=False,
                                               bucket_boundaries=[]))
    assert len(from_list) == len(from_dataset) == 1
    for key in ("source", "target_in"):
        np.testing.assert_array_equal(from_list[0][0][key], from_dataset[0][0][key])
    np.testing.assert_array_equal(from_list[0][1], from_dataset[0][1])
    with pytest.warns(UserWarning, match="1 of 4 utterances are longer"):  # the lengths measured in one pass
        measured = make_audio_dataset(pairs, None, tokenizer, seconds_per_batch=0.1, max_seconds=0.06, log=False)
    rows = [n for inputs, _ in _batches(measured) for n in np.count_nonzero(inputs["source"], axis=1)]
    assert sorted(rows) == [100, 250, 400]


def test_make_audio_dataset_refuses_bad_arguments():
    waveforms, transcripts = _constant_utterances([100, 200])
    tokenizer = CharTokenizer.from_texts(transcripts)
    with pytest.raises(ValueError, match="exactly one of `batch_size` and `seconds_per_batch`"):
        make_audio_dataset(waveforms, transcripts, tokenizer, batch_size=2, seconds_per_batch=1.0)
    with pytest.raises(ValueError, match="as many transcripts as waveforms"):
        make_audio_dataset(waveforms, transcripts[:1], tokenizer, batch_size=2)
    with pytest.raises(ValueError, match=r"waveforms\[0\] of shape \(2, 50\)"):
        make_audio_dataset([np.zeros([2, 50], np.float32)], ["one"], tokenizer, batch_size=2)
    with pytest.raises(ValueError, match="must hold the longest utterance"):
        make_audio_dataset(waveforms, transcripts, tokenizer, seconds_per_batch=0.01)


# --- FSDD utterances on a fake FSDD folder -------------------------------------------------------

SPEAKERS = ("jackson", "nicolas", "theo")
INDICES = range(7)  # 0-4: test, 5-6: train


def _code(speaker, digit, index):
    return 1 + SPEAKERS.index(speaker) * 100 + digit * 10 + index


def _fake_fsdd(root):
    """Recordings of 40 samples of one value that names them (`_code`), 16-bit, 8 kHz."""
    folder = root / "recordings"
    folder.mkdir()
    for speaker in SPEAKERS:
        for digit in range(10):
            for index in INDICES:
                with wave.open(str(folder / f"{digit}_{speaker}_{index}.wav"), "wb") as f:
                    f.setnchannels(1)
                    f.setsampwidth(2)
                    f.setframerate(RATE)
                    f.writeframes(np.full(40, 50 * _code(speaker, digit, index), "<i2").tobytes())
    return root


def _recordings_in(waveform):
    """`(speaker, digit, index)` of each recording an utterance joins (silences are zeros without noise)."""
    nonzero = np.concatenate([[0], (waveform != 0).astype(np.int8), [0]])
    starts = np.flatnonzero(np.diff(nonzero) == 1)
    codes = [int(round(waveform[s] * 32768 / 50)) - 1 for s in starts]
    return [(SPEAKERS[c // 100], c % 100 // 10, c % 10) for c in codes]


def test_fsdd_utterances_are_reproducible_and_keep_to_their_split(tmp_path):
    root = _fake_fsdd(tmp_path)
    assert len(load_fsdd(root)) == 3 * 10 * len(INDICES)
    waveforms, transcripts = fsdd_utterances(root, "train", 12, seed=3)
    again, same = fsdd_utterances(root, "train", 12, seed=3)
    assert transcripts == same and all(np.array_equal(a, b) for a, b in zip(waveforms, again))
    for split, speakers, indices in (("train", {"jackson", "nicolas"}, {5, 6}),
                                     ("test", {"jackson", "nicolas"}, {0, 1, 2, 3, 4}),
                                     ("speaker", {"theo"}, set(INDICES))):
        waveforms, transcripts = fsdd_utterances(root, split, 20, max_digits=4, noise_level=0.0, seed=1)
        for waveform, transcript in zip(waveforms, transcripts):
            used = _recordings_in(waveform)
            assert [DIGIT_WORDS[digit] for _, digit, _ in used] == transcript.split()
            assert 1 <= len(used) <= 4 and len({speaker for speaker, _, _ in used}) == 1  # one voice
            assert {speaker for speaker, _, _ in used} <= speakers and {i for _, _, i in used} <= indices


def test_fsdd_refuses_a_folder_without_recordings_and_an_unknown_speaker(tmp_path):
    with pytest.raises(ValueError, match="No FSDD recordings"):
        load_fsdd(tmp_path)
    root = _fake_fsdd(tmp_path)
    with pytest.raises(ValueError, match="held_out_speaker='lucas'"):
        fsdd_utterances(root, "train", 2, held_out_speaker="lucas")
    with pytest.raises(ValueError, match="`split` must be one of"):
        fsdd_utterances(root, "validation", 2)


# --- error rates -------------------------------------------------------------------------------

def test_score_transcripts_on_a_hand_case():
    scores = score_transcripts(["one too three"], ["one two three"])
    assert isinstance(scores, TranscriptionScores) and scores.sentences == 1
    assert scores.wer == pytest.approx(100 / 3) and scores.cer == pytest.approx(100 / 13)
    assert score_transcripts(["", "four"], ["one two", "four"]).wer == pytest.approx(200 / 3)  # 2 deletions / 3
    assert score_transcripts(["a b"], ["a b"]) == (0.0, 0.0, 1)


def test_score_transcripts_refuses_mismatched_or_empty_lists():
    with pytest.raises(ValueError, match="2 hypotheses, 1 references"):
        score_transcripts(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="at least one reference"):
        score_transcripts([], [])
