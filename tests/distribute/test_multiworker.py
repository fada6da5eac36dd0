"""Two real worker processes on this machine (MultiWorkerMirroredStrategy over 127.0.0.1), each on one core."""

import glob
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

import tfxai  # noqa: F401  (before TensorFlow)
import keras

from tfxai.testing import process_timeout, run_process

HERE = os.path.dirname(__file__)


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def run_workers(args, directory, timeout=None):
    """Start one process per worker (TF_CONFIG, one CPU core, own TMPDIR), wait for both or kill both; return their stdouts."""
    timeout = process_timeout() if timeout is None else timeout
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    processes = []
    for index in range(2):
        tmp = os.path.join(directory, f"tmp{index}")
        os.makedirs(tmp, exist_ok=True)
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TMPDIR=tmp, OMP_NUM_THREADS="1",
                   TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1",
                   TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        cores = sorted(os.sched_getaffinity(0))
        core = {cores[index % len(cores)]}
        processes.append(subprocess.Popen(args, cwd=directory, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          text=True, preexec_fn=lambda core=core: os.sched_setaffinity(0, core)))
    outputs = []
    try:
        for process in processes:
            out, err = process.communicate(timeout=timeout)
            assert process.returncode == 0, f"worker exit code {process.returncode}\n{out[-2000:]}\n{err[-3000:]}"
            outputs.append(out)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    return outputs


def test_input_is_sharded_so_each_example_is_seen_once_per_epoch(tmp_path):
    outputs = run_workers([sys.executable, os.path.join(HERE, "count_script.py")], str(tmp_path))
    reports = [json.loads(out.strip().splitlines()[-1]) for out in outputs]
    for report in reports:
        assert report["steps"] == 5  # 40 examples at global batch 8
    seen = np.array([report["seen"] for report in reports])
    assert seen.sum(axis=0).tolist() == [1.0] * 40  # every example once, on one worker
    assert seen.sum(axis=1).tolist() == [20.0, 20.0]  # half each


@pytest.fixture(scope="module")
def mixed_inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mixed_inputs")
    rng = np.random.default_rng(0)
    np.savez(folder / "data.npz", x=rng.integers(0, 256, (32, 8, 8, 1)).astype("uint8"), y=np.arange(32) % 2)
    keras.utils.set_random_seed(0)
    teacher = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(8, activation="relu"),
                                keras.layers.Dense(2, activation="softmax")])
    teacher.save(folder / "teacher.keras")
    return folder


def app(folder, out, *extra):
    return [sys.executable, "-m", "tfxai.apps.cli", "train", "mixed", "--data", str(folder / "data.npz"),
            "--teacher", str(folder / "teacher.keras"), "--student", str(folder / "teacher.keras"), "--out", out,
            "--fraction", "0", "--validation-split", "0", "--epochs", "1", "--batch-size", "8", "--augment", "none",
            "--no-export", "--seed", "1", "--quiet", *extra]


def test_two_workers_train_through_the_app_like_one_process_and_only_the_chief_writes_the_run(tmp_path, mixed_inputs):
    run_workers(app(mixed_inputs, "run", "--strategy", "multiworker"), str(tmp_path))
    run_process(app(mixed_inputs, str(tmp_path / "single")), cwd=tmp_path, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    single = keras.saving.load_model(tmp_path / "single" / "model.keras").get_weights()
    chief = keras.saving.load_model(tmp_path / "run" / "model.keras").get_weights()
    others = glob.glob(str(tmp_path / "tmp1" / "tfxai-worker-*" / "run" / "model.keras"))
    assert len(others) == 1 and not glob.glob(str(tmp_path / "tmp0" / "tfxai-worker-*"))  # worker 1 wrote to a temp folder
    other = keras.saving.load_model(others[0]).get_weights()
    start = keras.saving.load_model(mixed_inputs / "teacher.keras").get_weights()
    assert max(float(np.abs(a - s).max()) for a, s in zip(chief, start)) > 1e-4  # trained
    for a, b, c in zip(chief, other, single):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(a, c, rtol=1e-5, atol=1e-6)  # the same global batches in the same order
    recorded = [json.loads((tmp_path / name / "metrics.json").read_text()) for name in ("run", "single")]
    assert [(m["strategy"], m["replicas"]) for m in recorded] == [("multiworker", 2), ("default", 1)]  # metrics.json says how it ran
