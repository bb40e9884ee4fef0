"""The command line end to end on a tiny run: train, resume, translate, evaluate, export."""

import io
import json
import os

import keras
import pytest

import s2s_keras as s2s
from s2s_keras import cli
from s2s_keras.training.run import train
from s2s_keras.training.settings import TrainSettings

TINY = ["--set", "units=16", "--set", "embedding_dim=8", "--task-size", "300", "--batch-size", "32",
        "--tokenizer", "char"]


class StopAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        raise RuntimeError("simulated crash")


def tiny_settings(output, epochs):
    return TrainSettings(model="gru_attention", data="task:dates", output=str(output), tokenizer="char",
                         epochs=epochs, batch_size=32, task_size=300, overrides={"units": 16, "embedding_dim": 8},
                         bleu_sample=0)


def test_an_interrupted_run_resumes_where_it_stopped(tmp_path):
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(tiny_settings(tmp_path, epochs=3), callbacks=[StopAfterFirstEpoch()])
    assert os.path.isdir(tmp_path / "backup") and not os.path.exists(tmp_path / "model.keras")
    _, _, _, logs = train(tiny_settings(tmp_path, epochs=3))
    assert len(logs["loss"]) == 2  # epochs 2 and 3 only
    assert os.path.exists(tmp_path / "model.keras") and not os.path.exists(tmp_path / "backup")
    _, _, _, again = train(tiny_settings(tmp_path, epochs=3))  # finished: not trained again
    assert again == {}
    for change in ({"tokenizer": "wordpiece"}, {"batch_size": 16}):
        other = TrainSettings(**{**tiny_settings(tmp_path, 3).__dict__, **change})
        with pytest.raises(ValueError, match=f"holds another run \\(different {next(iter(change))}\\)"):
            train(other)


def test_a_failed_final_save_keeps_the_backup_and_the_rerun_finishes(tmp_path, monkeypatch):
    def disk_full(model, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("s2s_keras.training.run.save_model_atomically", disk_full)
    with pytest.raises(OSError, match="No space left"):
        train(tiny_settings(tmp_path, epochs=2))
    assert os.path.exists(tmp_path / "backup" / "state.npz") and not os.path.exists(tmp_path / "model.keras")
    monkeypatch.undo()
    _, _, _, logs = train(tiny_settings(tmp_path, epochs=2))
    assert logs.get("loss", []) == []  # both epochs were done: nothing is trained again
    assert os.path.exists(tmp_path / "model.keras") and not os.path.exists(tmp_path / "backup")


def test_train_translate_evaluate_export_from_the_command_line(tmp_path, capsys, monkeypatch):
    run = str(tmp_path / "run")
    assert cli.main(["train", "gru_attention", "--data", "task:dates", "--output", run, "--epochs", "1",
                     "--bucket-width", "1", *TINY]) == 0
    assert "Saved" in capsys.readouterr().out
    assert cli.main(["translate", run, "3 mars 2021", "le 4 avril 1999", "--beam-size", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    sentences = tmp_path / "sentences.txt"
    sentences.write_text("3 mars 2021\n\nMarch 4th, 1999\n", encoding="utf-8")
    assert cli.main(["translate", run, "--file", str(sentences)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3  # the empty line gives an empty line
    # invalid UTF-8 as an argument (a lone surrogate, PEP 383) or on stdin: U+FFFD, not an error
    assert cli.main(["translate", run, "3 mars \udcff2021"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"3 mars 2021\nle 4 \xffavril\n")))
    assert cli.main(["translate", run]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    # only "\n" and "\r\n" end a line: output line N answers input line N, on stdin and with --file
    carriage = b"a\rb\n3 mars 2021\r\nx\n"
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(carriage)))
    assert cli.main(["translate", run]) == 0
    from_stdin = capsys.readouterr().out.split("\n")
    sentences.write_bytes(carriage)
    assert cli.main(["translate", run, "--file", str(sentences)]) == 0
    assert capsys.readouterr().out.split("\n") == from_stdin and len(from_stdin) == 4  # 3 lines and the end
    assert cli.main(["translate", run, "3 mars 2021"]) == 0
    assert capsys.readouterr().out.split("\n")[0] == from_stdin[1]
    # a file is read ahead in chunks of 16 batches, each sorted by length: still one output line per input line
    many = [f"{day} {month} {1990 + day}" for day, month in zip(range(1, 21), ["mars", "avril juin", "mai"] * 7)]
    assert cli.main(["translate", run, *many]) == 0
    one_batch = capsys.readouterr().out.splitlines()
    sentences.write_text("\n".join(many) + "\n", encoding="utf-8")
    assert cli.main(["translate", run, "--file", str(sentences), "--batch-size", "1"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == one_batch and len(one_batch) == 20 and "translated 20/20" in err
    assert cli.main(["translate", run, "3 mars 2021", "le 4 avril 1999", "--prefix", "1888"]) == 0
    assert [line[:4] for line in capsys.readouterr().out.splitlines()] == ["1888", "1888"]  # forced, then continued
    assert cli.main(["evaluate", run, "--data", "task:dates", "--limit", "20"]) == 0
    out, err = capsys.readouterr()
    assert "BLEU" in out and "chrF" in out and "TER" in out and "nrefs:1" in out
    assert "Search ready in" in err and "sentences/s (20 in" in out  # traced before the timed pass
    blanks = tmp_path / "blanks.tsv"
    blanks.write_text("3 mars 2021\t2021-03-03\n\nle 4 avril 1999\t\n\t1999-04-04\n", encoding="utf-8")
    assert cli.main(["evaluate", run, "--data", str(blanks)]) == 0
    captured = capsys.readouterr()
    assert "Skipped 3 line(s)" in captured.err and "1 sources, 1 references" in captured.out
    blanks.write_text("\n\t\n", encoding="utf-8")
    assert cli.main(["evaluate", run, "--data", str(blanks)]) == 2
    assert "No pair with a source and a reference" in capsys.readouterr().err
    target = str(tmp_path / "exports" / "dates")
    assert cli.main(["export", run, target, "--beam-size", "2", "--max-length", "12"]) == 0
    assert capsys.readouterr().out.strip().endswith(os.path.join("dates", "1"))
    assert cli.main(["translate", target, "3 mars 2021"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1
    with open(os.path.join(run, "run.json")) as f:
        recorded = json.load(f)
    assert recorded["overrides"] == {"units": 16, "embedding_dim": 8} and recorded["bucket_width"] == 1
    assert recorded["provenance"]["bucket_width"] == "user" and recorded["provenance"]["learning_rate"] == "recipe"
    with open(os.path.join(run, "history.json")) as f:
        assert "val_bleu" in json.load(f)[0]
    assert os.path.exists(os.path.join(run, "training_curves.png"))


def test_evaluate_scores_a_source_on_several_lines_against_all_its_references(tmp_path, capsys):
    run = str(tmp_path / "run")
    train(tiny_settings(run, epochs=1))
    test = tmp_path / "test.tsv"
    test.write_text("3 mars 2021\t2021-03-03\n4 avril 1999\t1999-04-04\n3 mars 2021\t2021-3-3\n", encoding="utf-8")
    assert cli.main(["evaluate", run, "--data", str(test)]) == 0
    out = capsys.readouterr().out
    assert "2 sources, 3 references" in out and "nrefs:var" in out


def test_evaluate_translate_and_export_an_ensemble_of_runs(tmp_path, capsys):
    import shutil

    run, copy = str(tmp_path / "run"), str(tmp_path / "copy")
    train(tiny_settings(run, epochs=1))
    shutil.copytree(run, copy)
    capsys.readouterr()
    assert cli.main(["translate", run, "3 mars 2021", "le 4 avril 1999", "--beam-size", "2"]) == 0
    alone = capsys.readouterr().out
    assert cli.main(["translate", run, "3 mars 2021", "le 4 avril 1999", "--beam-size", "2",
                     "--ensemble", copy]) == 0
    assert capsys.readouterr().out == alone  # a model with itself: the same translations
    assert cli.main(["evaluate", run, "--ensemble", copy, "--data", "task:dates", "--limit", "10"]) == 0
    assert "BLEU" in capsys.readouterr().out
    assert cli.main(["export", run, str(tmp_path / "exported"), "--ensemble", copy, "--max-length", "12"]) == 0
    capsys.readouterr()
    shutil.rmtree(os.path.join(copy, "tokenizers", "target"))
    s2s.data.CharTokenizer.from_texts(["0123456789"]).save(os.path.join(copy, "tokenizers", "target"))
    assert cli.main(["evaluate", run, "--ensemble", copy, "--data", "task:dates", "--limit", "10"]) == 2
    assert "other tokenizers" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "nope", "--data", "task:dates", "--output", "x"], "Unknown model 'nope'"),
        (["train", "gru", "--data", "missing.tsv", "--output", "x"], "No such data file"),
        (["translate", "missing_folder", "hi"], "No such export folder"),
        (["evaluate", "missing_folder", "--data", "task:dates"], "No such export folder"),
        (["export", "missing_run", "out"], "not a finished training run"),
        (["train", "gru", "--data", "task:dates", "--output", "x", "--set", "hidden=3"], "Unknown override"),
        (["train", "gru", "--data", "task:dates", "--output", "x", "--set", "units=-1"], "units"),
        (["train", "gru", "--data", "task:dates", "--output", "x", "--set", "bidirectional=yes"],
         "must be true or false"),
        (["train", "gru", "--data", "task:dates", "--output", "x", "--set", "units=2.5"], "must be an integer"),
        (["train", "gru", "--data", "task:dates", "--valid", "missing.tsv", "--output", "x"], "No such data file"),
    ],
)
def test_errors_are_one_line_with_status_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("s2s-keras: error:") and message in err and err.count("\n") == 1
    assert not os.path.exists(tmp_path / "x")  # nothing written: the corrected command starts afresh


def test_bad_files_are_one_line_errors_too(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.txt").write_text("uno\ndos\ntres\n", encoding="utf-8")
    (tmp_path / "b.txt").write_text("one\ntwo\n", encoding="utf-8")
    assert cli.main(["train", "gru", "--data", "a.txt,b.txt", "--output", "run", *TINY]) == 2
    err = capsys.readouterr().err
    assert "different numbers of lines" in err and err.count("\n") == 1
    (tmp_path / "broken" / "tokenizers" / "source").mkdir(parents=True)
    (tmp_path / "broken" / "tokenizers" / "source" / "tokenizer.json").write_text("{}", encoding="utf-8")
    from s2s_keras.data import load_tokenizer

    with pytest.raises(ValueError, match="is damaged"):
        load_tokenizer(str(tmp_path / "broken" / "tokenizers" / "source"))


@pytest.mark.parametrize("command", ["demo", "models", "train", "evaluate", "translate", "average", "export", "serve"])
def test_every_subcommand_has_help_with_examples(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([command, "--help"])
    assert exit_info.value.code == 0
    assert "examples:" in capsys.readouterr().out


class PoisonWeights(keras.callbacks.Callback):
    """Makes the loss NaN from the second epoch on."""

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            kernel = self.model.get_layer("output_projection").kernel
            kernel.assign(kernel * float("nan"))


def test_nan_stops_with_a_clear_message_and_keeps_the_last_good_state(tmp_path):
    from s2s_keras.training.callbacks import TrainingDiverged, epoch_checkpoints

    with pytest.raises(TrainingDiverged, match=r"loss became nan at epoch 2, step 1.*last good state"):
        train(tiny_settings(tmp_path, epochs=3), callbacks=[PoisonWeights()])
    assert not os.path.exists(tmp_path / "model.keras")
    checkpoints = epoch_checkpoints(str(tmp_path / "checkpoints"))
    assert [os.path.basename(p) for p in checkpoints] == ["epoch-001.weights.h5"]
    import h5py
    import numpy as np

    with h5py.File(checkpoints[0]) as f:
        values = []
        f.visititems(lambda name, obj: values.append(np.asarray(obj)) if isinstance(obj, h5py.Dataset) else None)
    assert values and all(np.all(np.isfinite(v)) for v in values)
    with np.load(tmp_path / "backup" / "state.npz") as state:
        assert list(state["position"]) == [1, 0]  # after epoch 1
        assert all(np.all(np.isfinite(state[k])) for k in state.files if state[k].dtype.kind == "f")


def test_average_of_the_last_checkpoints(tmp_path, capsys):
    import numpy as np

    from s2s_keras.training.averaging import average_checkpoints
    from s2s_keras.training.callbacks import epoch_checkpoints
    from s2s_keras.training.run_folder import load_run

    train(TrainSettings(**{**tiny_settings(tmp_path, 3).__dict__, "keep_checkpoints": 2}))
    checkpoints = epoch_checkpoints(str(tmp_path / "checkpoints"))
    assert [os.path.basename(p) for p in checkpoints] == ["epoch-002.weights.h5", "epoch-003.weights.h5"]
    assert cli.main(["average", str(tmp_path), "--last", "2"]) == 0
    assert "Averaged 2 checkpoints" in capsys.readouterr().out
    averaged, _, _ = load_run(str(tmp_path), model_file="model_avg2.keras")
    model, _, _ = load_run(str(tmp_path))
    expected = []
    for path in checkpoints:
        model.load_weights(path)
        expected.append(model.get_weights())
    for got, a, b in zip(averaged.get_weights(), *expected):
        np.testing.assert_allclose(got, (a + b) / 2, rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="No checkpoints"):
        average_checkpoints(model, [])


def test_boolean_overrides_from_the_command_line_are_booleans():
    assert cli._override("bidirectional=false") == ("bidirectional", False)
    assert cli._override("bidirectional=True") == ("bidirectional", True)
    from s2s_keras.models import build_model

    one_way = build_model("gru_attention", source_vocab_size=10, target_vocab_size=10, units=8, embedding_dim=4,
                          bidirectional=False)
    two_way = build_model("gru_attention", source_vocab_size=10, target_vocab_size=10, units=8, embedding_dim=4)
    assert not one_way.get_layer("encoder").get_config()["bidirectional"]
    assert two_way.get_layer("encoder").get_config()["bidirectional"]
    with pytest.raises(ValueError, match="`bidirectional` of model 'gru_attention' must be true or false"):
        build_model("gru_attention", source_vocab_size=10, target_vocab_size=10, bidirectional="false")


def test_a_run_that_failed_before_its_first_step_does_not_block_the_corrected_command(tmp_path, capsys):
    empty = tmp_path / "empty.tsv"
    empty.write_text("\n\n\t\n", encoding="utf-8")
    output = str(tmp_path / "run")
    argv = ["train", "gru", "--output", output, "--epochs", "1", *TINY]
    assert cli.main([*argv, "--data", str(empty)]) == 2
    capsys.readouterr()
    good = tmp_path / "good.tsv"
    good.write_text("".join(f"{i} mars\t{i}-03\n" for i in range(40)), encoding="utf-8")
    assert cli.main([*argv, "--data", str(good)]) == 0
    assert "Saved" in capsys.readouterr().out


def test_history_keeps_a_killed_calls_epochs_and_a_finished_run_says_so(tmp_path, capsys):
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(tiny_settings(tmp_path, epochs=3), callbacks=[StopAfterFirstEpoch()])
    with open(tmp_path / "history.json") as f:
        assert [len(call["loss"]) for call in json.load(f)] == [1]  # the killed call's epoch is kept
    train(tiny_settings(tmp_path, epochs=3))
    with open(tmp_path / "history.json") as f:
        assert [len(call["loss"]) for call in json.load(f)] == [1, 2]
    capsys.readouterr()
    assert cli.main(["train", "gru_attention", "--data", "task:dates", "--output", str(tmp_path), "--epochs", "3",
                     "--batch-size", "32", "--task-size", "300", "--tokenizer", "char", "--bleu-sample", "0",
                     "--set", "units=16", "--set", "embedding_dim=8"]) == 0
    out = capsys.readouterr().out
    assert "is a finished run" in out and "Saved" not in out
    model_file = tmp_path / "model.keras"
    model_file.write_bytes(model_file.read_bytes()[:1000])  # truncated
    assert cli.main(["translate", str(tmp_path), "3 mars 2021"]) == 2
    assert "model.keras' is damaged: not a complete .keras archive" in capsys.readouterr().err
