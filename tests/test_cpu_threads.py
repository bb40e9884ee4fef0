"""Decoding commands set one thread per TensorFlow op on small machines, before TensorFlow runs an op."""

import subprocess
import sys

import pytest

from s2s_keras import cli
from s2s_keras.cpu_threads import decoding_intra_op_threads, use_intra_op_threads
from tests.test_console import REPO

# Runs `s2s-keras translate` with the command itself replaced: it prints the threads TensorFlow was given.
CLI_THREADS = """
import sys
import tensorflow as tf
from s2s_keras import cli
cli.COMMANDS["translate"] = lambda args: print(tf.config.threading.get_intra_op_parallelism_threads()) or 0
sys.exit(cli.main(["translate", "no/such/run", "hola", *sys.argv[1:]]))
"""


def run_python(code, *args):
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr
    return done


def test_one_thread_per_op_on_small_machines_only():
    assert [decoding_intra_op_threads(cores) for cores in (1, 2, 4, 64)] == [1, 1, 0, 0]


def test_threads_are_set_before_the_runtime_starts_and_left_alone_after():
    done = run_python("import tensorflow as tf\n"
                      "from s2s_keras.cpu_threads import use_intra_op_threads\n"
                      "print(use_intra_op_threads(1), tf.config.threading.get_intra_op_parallelism_threads())\n"
                      "tf.constant(1.0) + 1.0\n"
                      "print(use_intra_op_threads(2), use_intra_op_threads(1), "
                      "tf.config.threading.get_intra_op_parallelism_threads())")
    assert done.stdout.split() == ["True", "1", "False", "True", "1"]


@pytest.mark.parametrize("flag,expected", [([], decoding_intra_op_threads()), (["--intra-op-threads", "3"], 3)])
def test_decoding_commands_set_the_threads_before_they_run(flag, expected):
    assert run_python(CLI_THREADS, *flag).stdout.split() == [str(expected)]


def test_a_bad_thread_count_is_a_usage_error(capsys):
    with pytest.raises(SystemExit):
        cli.make_parser().parse_args(["translate", "run", "hola", "--intra-op-threads", "-1"])
    assert "--intra-op-threads" in capsys.readouterr().err
    with pytest.raises(ValueError, match="threads"):
        use_intra_op_threads(-2)
