"""`s2s-keras` on audio folders: train a speech model, evaluate it, transcribe WAV files, export and serve it."""

import os

import pytest

from s2s_keras import cli
from s2s_keras.data import load_audio_folder, tone_utterances, write_audio_folder

WORDS = ("one", "two", "three")


@pytest.fixture(scope="module")
def audio(tmp_path_factory):
    root = tmp_path_factory.mktemp("audio")
    train = write_audio_folder(str(root / "train"), *tone_utterances(40, vocabulary=WORDS, max_words=2, seed=0))
    valid = write_audio_folder(str(root / "valid"), *tone_utterances(8, vocabulary=WORDS, max_words=2, seed=1))
    return root, train, valid


def test_audio_folders_round_trip_and_refuse_bad_input(audio, tmp_path):
    _, train, _ = audio
    waveforms, transcripts = load_audio_folder(train)
    original = tone_utterances(40, vocabulary=WORDS, max_words=2, seed=0)
    assert transcripts == original[1] and [len(w) for w in waveforms] == [len(w) for w in original[0]]
    with pytest.raises(ValueError, match="not empty"):
        write_audio_folder(train, *original)
    with pytest.raises(ValueError, match="no transcripts.tsv"):
        load_audio_folder(str(tmp_path))
    (tmp_path / "transcripts.tsv").write_text("a.wav\tone\textra\n")
    with pytest.raises(ValueError, match="transcripts.tsv:1"):
        load_audio_folder(str(tmp_path))


def test_train_evaluate_transcribe_and_export(audio, capsys):
    root, train, valid = audio
    run, exported = str(root / "run"), str(root / "exported")
    tiny = ["--set", "units=16", "--set", "embedding_dim=8", "--set", "num_layers=2", "--set", "reductions=1",
            "--set", "num_mel_bins=20"]
    assert cli.main(["train", "las", "--data", train, "--valid", valid, "--output", run, "--epochs", "1",
                     "--tokenizer", "wordpiece", "--vocab-size", "20", *tiny]) == 0
    capsys.readouterr()
    wav = os.path.join(valid, "000000.wav")
    assert cli.main(["transcribe", run, wav, "--max-length", "6"]) == 0
    from_run = capsys.readouterr().out.splitlines()
    assert len(from_run) == 1
    assert cli.main(["evaluate", run, "--data", valid, "--max-length", "6"]) == 0
    report = capsys.readouterr().out
    assert "WER" in report and "CER" in report and "real-time factor" in report
    assert cli.main(["export", run, exported, "--max-length", "6"]) == 0
    capsys.readouterr()
    assert cli.main(["transcribe", exported, wav]) == 0
    assert capsys.readouterr().out.splitlines() == from_run
    assert cli.main(["evaluate", exported, "--data", valid]) == 0
    assert "WER" in capsys.readouterr().out
    assert cli.main(["transcribe", run, os.path.join(valid, "transcripts.tsv")]) == 2
    assert "Could not read the audio" in capsys.readouterr().err
    assert cli.main(["train", "las", "--data", train, "--output", str(root / "no-valid")]) == 2
    assert "--valid" in capsys.readouterr().err
