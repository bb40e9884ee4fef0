"""Transcriber: waveforms, WAV bytes and the export give the same transcripts; bad audio gets clear errors."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from s2s_keras import Transcriber, export
from s2s_keras.data import CharTokenizer
from s2s_keras.decoding import BeamSearch
from s2s_keras.models import build_model
from tests.speech.test_speech_models import TINY


@pytest.fixture(scope="module")
def transcriber():
    keras.utils.set_random_seed(2)
    tokenizer = CharTokenizer.from_texts(["zero one two three four five six seven eight nine"])
    model = build_model("las", target_vocab_size=tokenizer.vocab_size, **TINY["las"])
    return Transcriber(model, tokenizer, search=BeamSearch(beam_size=2, max_length=8))


def noise(seconds, seed):
    return (0.1 * np.random.default_rng(seed).normal(size=int(8000 * seconds))).astype("float32")


def wav_bytes(waveform, rate=8000):
    return tf.audio.encode_wav(tf.constant(waveform)[:, None], rate).numpy()


def test_waveforms_wav_bytes_and_files_agree(transcriber, tmp_path):
    audio = [noise(0.5, 0), noise(1.2, 1)]
    texts, scores = transcriber(audio, return_scores=True)
    assert all(isinstance(t, str) and t for t in texts) and len(scores) == 2
    # WAV stores 16-bit samples: the same audio, quantised
    quantised = [np.round(a * 32767) / 32767 for a in audio]
    assert transcriber([wav_bytes(a) for a in audio]) == transcriber(quantised)
    path = tmp_path / "a.wav"
    path.write_bytes(wav_bytes(audio[0]))
    assert transcriber(str(path)) == transcriber(quantised[0])
    assert transcriber([audio[1]]) == [texts[1]]  # batched = alone


def test_empty_and_silent_audio_transcribe_to_empty(transcriber):
    texts, scores = transcriber([np.zeros(0, "float32"), np.zeros(800, "float32"), noise(0.3, 2)],
                                return_scores=True)
    assert texts[:2] == ["", ""] and scores[:2] == [0.0, 0.0] and texts[2]
    assert transcriber([]) == []


def test_bad_audio_gets_clear_errors(transcriber, tmp_path):
    with pytest.raises(ValueError, match="sample rate"):
        transcriber([wav_bytes(noise(0.3, 3), rate=16000)])
    with pytest.raises(ValueError, match="Could not read the audio"):
        transcriber([b"this is not a wav file"])
    with pytest.raises(ValueError, match="Could not read"):
        transcriber(str(tmp_path / "missing.wav"))


def test_mismatched_tokenizer_or_text_model_is_refused(transcriber):
    other = CharTokenizer.from_texts(["abc"])
    with pytest.raises(ValueError, match="target vocabulary"):
        Transcriber(transcriber.model, other)
    text_model = build_model("gru", source_vocab_size=10, target_vocab_size=10, units=8, embedding_dim=4)
    with pytest.raises(ValueError, match="Translator"):
        Transcriber(text_model, other)


def test_export_serves_the_same_transcripts(transcriber, tmp_path):
    audio = [noise(0.7, 4), noise(0.4, 5)]
    expected = transcriber(audio, return_scores=True)
    version = export.save(transcriber, str(tmp_path / "speech"))
    served = export.load(str(tmp_path / "speech"))
    assert served.metadata["kind"] == "speech" and served.sample_rate == 8000
    texts, scores = served.predict(audio)
    assert texts == expected[0]
    np.testing.assert_allclose(scores, expected[1], rtol=1e-5)
    loaded = tf.saved_model.load(version)  # without this package: the signatures alone
    out = loaded.signatures["transcribe_wav"](audio=tf.constant([wav_bytes(a) for a in audio]))
    assert [t.decode() for t in out["transcripts"].numpy()] == transcriber([wav_bytes(a) for a in audio])
    with pytest.raises(ValueError, match="sample rate"):
        served.predict([wav_bytes(audio[0], rate=16000)])


def test_rest_server_transcribes_wav_files_sent_as_b64(transcriber, tmp_path):
    import base64

    from s2s_keras.serving import create_app
    from tests.test_serving import READ_TIMEOUT, call, running

    audio = [noise(0.6, 6), noise(0.9, 7)]
    files = [wav_bytes(a) for a in audio]
    expected = transcriber(files)
    export.save(transcriber, str(tmp_path / "digits"))
    with running(create_app(str(tmp_path / "digits")), read_timeout=READ_TIMEOUT) as url:
        predict = f"{url}/v1/models/digits:predict"
        b64 = [{"b64": base64.b64encode(f).decode()} for f in files]
        status, rows = call(predict, {"instances": b64})
        assert status == 200 and [p["transcripts"] for p in rows["predictions"]] == expected
        status, columns = call(predict, {"inputs": [{"audio": b64[0]}]})
        assert status == 200 and columns["outputs"]["transcripts"] == expected[:1]
        wrong_rate = base64.b64encode(wav_bytes(audio[0], rate=16000)).decode()
        status, answer = call(predict, {"instances": [{"b64": wrong_rate}]})
        assert status == 400 and "sample rate" in answer["error"]
        status, answer = call(predict, {"instances": ["a text"]})
        assert status == 400 and "WAV" in answer["error"]
