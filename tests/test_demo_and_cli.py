import os

import pytest

from s2s_keras import cli
from s2s_keras.demo import run_date_demo


def test_demo_runs_end_to_end_at_a_tiny_size(tmp_path):
    tiny = dict(num_train=256, num_test=32, epochs=1, embedding_dim=8, units=16, verbose=0)
    result = run_date_demo(str(tmp_path), **tiny)
    examples = result["examples"]
    assert len(examples) == 10
    for key in ("plot", "model"):
        assert os.path.getsize(result[key]) > 0
    assert sorted(os.listdir(result["tokenizers"])) == ["source", "target"]
    with open(result["plot"], "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    # the saved folder is a run that translates exactly as the demo's own model did
    from s2s_keras.decoding import GreedySearch
    from s2s_keras.demo import TARGET_MAX_LENGTH
    from s2s_keras.training.run_folder import load_run
    from s2s_keras.translator import Translator

    model, source, target = load_run(str(tmp_path))
    reloaded = Translator(model, source, target, search=GreedySearch(max_length=TARGET_MAX_LENGTH))
    assert reloaded([e[0] for e in examples]) == [e[1] for e in examples]
    run_date_demo(str(tmp_path), **tiny)  # its own folder: the demo may run again there


def test_demo_refuses_a_folder_it_did_not_make(tmp_path):
    (tmp_path / "model.keras").write_bytes(b"a user's trained model")
    with pytest.raises(ValueError, match="not made by the demo"):
        run_date_demo(str(tmp_path), num_train=64, num_test=8, epochs=1, embedding_dim=8, units=16, verbose=0)
    assert sorted(os.listdir(tmp_path)) == ["model.keras"]
    assert (tmp_path / "model.keras").read_bytes() == b"a user's trained model"
    os.remove(tmp_path / "model.keras")
    (tmp_path / "attention.png").write_bytes(b"")  # what the demo wrote before it left demo.json
    run_date_demo(str(tmp_path), num_train=64, num_test=8, epochs=1, embedding_dim=8, units=16, verbose=0)
    assert (tmp_path / "demo.json").exists()


def test_cli_lists_models(capsys):
    assert cli.main(["models"]) == 0
    listed = capsys.readouterr().out
    assert "gru_attention" in listed.split() and "las  (speech: reads waveforms" in listed
    assert cli.main(["models", "lstm_luong"]) == 0
    assert "luong_score = 'general'" in capsys.readouterr().out


def test_cli_errors_are_one_line(capsys):
    assert cli.main(["models", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("s2s-keras: error: Unknown model 'nope'") and err.count("\n") == 1


def test_cli_rejects_bad_numbers():
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["demo", "--epochs", "0"])
    assert exit_info.value.code == 2
