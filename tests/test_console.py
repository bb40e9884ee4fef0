"""What a user sees on the console: no TensorFlow start-up lines, no warnings about what Keras ignores, totals."""

import os
import re
import subprocess
import sys
import warnings

from s2s_keras.quiet_import import STARTUP_NOISE, dropped_stderr_lines
from s2s_keras.training.run import train
from s2s_keras.training.settings import TrainSettings

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_python(code_or_args, env_drop=("TF_CPP_MIN_LOG_LEVEL",)):
    env = {k: v for k, v in os.environ.items() if k not in env_drop}
    return subprocess.run([sys.executable, *code_or_args], capture_output=True, text=True, env=env, cwd=REPO,
                          timeout=300)


def test_help_and_usage_errors_answer_before_tensorflow_loads():
    done = run_python(["-c", "import sys; from s2s_keras import cli; cli.make_parser().format_help(); "
                             "print('tensorflow' in sys.modules, 'keras' in sys.modules)"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]


def test_a_command_prints_its_answer_without_tensorflow_startup_lines():
    done = run_python(["-m", "s2s_keras.cli", "translate", "saved_models/dates", "3. März 2021"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2021-03-03"
    for noise in (*STARTUP_NOISE, "cudart_stub", "cuda_platform", "port.cc"):
        assert noise not in done.stderr, done.stderr


def test_dropped_stderr_lines_drops_only_the_named_lines(capfd):
    with dropped_stderr_lines(("chatty",)):
        os.write(2, b"a chatty start-up line\nsomething the user must see\n")
    assert capfd.readouterr().err == "something the user must see\n"


def test_training_shows_each_epochs_total_and_warns_about_nothing_it_passes(tmp_path, capsys):
    settings = TrainSettings(model="gru_attention", data="task:dates", output=str(tmp_path), tokenizer="char",
                             epochs=2, batch_size=50, task_size=300, overrides={"units": 8, "embedding_dim": 8},
                             bleu_sample=0, recipe="none")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(settings)
    messages = [str(w.message) for w in caught]
    assert not [m for m in messages if "shuffle" in m or "ran out of data" in m], messages
    shown = capsys.readouterr().out
    assert "Unknown" not in shown
    plain = re.sub(r"\x1b\[[0-9;]*m", "", shown)  # without the terminal colours
    steps = [(int(a), int(b)) for a, b in re.findall(r"(?:^|\r)\s*(\d+)/(\d+) ", plain, re.M)]
    total = steps[0][1]  # the first step of the first epoch knows the epoch's total
    assert steps[0] == (1, total) and total > 1
    assert all(of == total for _, of in steps) and steps.count((total, total)) >= 2  # both epochs end there
