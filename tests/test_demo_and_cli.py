import os

import pytest

from s2s_keras import cli
from s2s_keras.demo import run_date_demo


def test_demo_runs_end_to_end_at_a_tiny_size(tmp_path):
    result = run_date_demo(str(tmp_path), num_train=256, num_test=32, epochs=1, embedding_dim=8, units=16, verbose=0)
    assert 0.0 <= result["accuracy"] <= 1.0 and len(result["examples"]) == 10
    for key in ("plot", "model"):
        assert os.path.getsize(result[key]) > 0
    assert sorted(os.listdir(result["tokenizers"])) == ["source", "target"]
    with open(result["plot"], "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_cli_lists_models(capsys):
    assert cli.main(["models"]) == 0
    assert "gru_attention" in capsys.readouterr().out.split()
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
