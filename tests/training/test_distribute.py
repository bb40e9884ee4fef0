"""tf.distribute: every model under MirroredStrategy on 2 CPU devices; 2 workers match 1 worker."""

import json
import math
import os
import socket
import subprocess
import sys

import pytest

from s2s_keras.models import list_models, model_source_kind
from s2s_keras.training.distribute import is_chief, make_strategy
from tests.training.distributed_run import COMPARED, one_per_architecture

RUN = [sys.executable, os.path.join(os.path.dirname(__file__), "distributed_run.py")]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}


def _result(stdout):
    lines = [line for line in stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, stdout[-3000:]
    return json.loads(lines[-1][len("RESULT "):])


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_every_registered_model_trains_under_mirrored_on_two_cpu_devices(tmp_path):
    done = subprocess.run(RUN + ["mirrored", str(tmp_path)], env=ENV, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-3000:]
    result = _result(done.stdout)
    assert result.pop("replicas") == 2
    assert sorted(result) == sorted(n for n in list_models() if model_source_kind(n) == "tokens")
    for name, losses in result.items():
        assert all(math.isfinite(x) for x in losses["strategy"]), name
        if "one_device" in losses:
            # Each replica divides its loss by the global batch's token count: the 2 replicas take the
            # same steps as one device (a loss averaged per replica would differ; one summed, double).
            assert losses["strategy"] == pytest.approx(losses["one_device"], rel=1e-4), (name, losses)
    assert {name for name, losses in result.items() if "one_device" in losses} == set(COMPARED)


@pytest.mark.slow
def test_two_workers_take_the_same_steps_as_one(tmp_path):
    """2 worker processes on 127.0.0.1 (TF_CONFIG), same global batches and seed, vs a single process.

    The replicas' losses are divided by the global batch's token count, so the summed gradients are
    the single-process ones; only float summation order differs. Tolerance on the final weights
    and the loss of the trained model: 1e-4 relative. The workers then also train a Transformer for a step
    under the same strategy.
    """
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    processes = []
    for index in range(2):
        env = {**ENV, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        command = RUN + ["multi-worker", str(tmp_path / "multi"), "gru_attention", "--all-models"]
        processes.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    try:
        outputs = [p.communicate(timeout=300) for p in processes]
    finally:
        for p in processes:
            p.kill()
    # The reference runs after the workers, not beside them: 3 processes on 2 cores only slow all down.
    single = subprocess.run(RUN + ["single", str(tmp_path / "single"), "gru_attention"], env=ENV,
                            capture_output=True, text=True, timeout=300)
    assert single.returncode == 0, single.stderr[-3000:]
    expected = _result(single.stdout)
    for process, (stdout, stderr) in zip(processes, outputs):
        assert process.returncode == 0, stderr[-3000:]
        got = _result(stdout)
        assert got["loss"] == pytest.approx(expected["loss"], rel=1e-4)
        assert got["weight_norm"] == pytest.approx(expected["weight_norm"], rel=1e-4)
        # The logged epoch loss is each worker's running mean over its own half-batches (weighted by
        # pairs, not tokens), so it only approximates the single process's.
        assert got["train_loss"] == pytest.approx(expected["train_loss"], rel=1e-2)
        every_model = got["every_model"]
        assert every_model.pop("replicas") == 2
        assert sorted(every_model) == sorted(one_per_architecture())
        for name, losses in every_model.items():
            assert len(losses["strategy"]) == 1 and math.isfinite(losses["strategy"][0]), (name, losses)
    assert expected["train_loss"][-1] < 3.0  # it did train
    assert os.path.exists(tmp_path / "multi" / "model.keras")  # written by the chief (worker 0) only


def test_strategy_names_and_chief(monkeypatch):
    assert make_strategy(None) is None
    with pytest.raises(ValueError, match="Unknown strategy 'tpu'"):
        make_strategy("tpu")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG"):
        make_strategy("multi-worker")
    assert is_chief(None)
