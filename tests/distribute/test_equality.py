"""Every tfxai train_step: one epoch on two logical CPUs (MirroredStrategy) equals one epoch on one device.

The comparison runs in one fresh process (logical devices must be configured
before TensorFlow starts) that trains all methods and reports per method; see
equality_script.py for what it holds fixed (synchronized BN, fixed latents, SGD).
"""

import json
import os
import sys

import pytest

from tfxai.testing import run_process

SCRIPT = os.path.join(os.path.dirname(__file__), "equality_script.py")
METHODS = ["classifier", "abn", "gain", "st_abn", "stargan_v2", "collaborative_gan", "1d_san", "mixed_training"]
WEIGHT_ATOL = 1e-5
METRIC_RTOL = 1e-4


# StarGAN v2 runs in a process of its own: after the other seven methods in the same process its weights differ
# by 3.3e-4 (alone 1.3e-7). The cause: Grappler's arithmetic optimizer and remapper rewrite by node names, which
# carry Keras' process-wide layer-name counters (tfxai.training.determinism). With those two rewrites off StarGAN matches
# to 7.9e-8 after the others, but the classifier then differs by 8.8e-5 (1.2e-7 with them on): the script keeps
# TensorFlow's defaults and StarGAN its own process.
GROUPS = [[m for m in METHODS if m != "stargan_v2"], ["stargan_v2"]]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    from concurrent.futures import ThreadPoolExecutor

    def run(group):  # both processes at once: much of each is single-threaded tracing
        done = run_process([sys.executable, SCRIPT, *group], env=env, cwd=tmp_path_factory.mktemp("equality"))
        return json.loads(done.stdout.strip().splitlines()[-1])

    found = {}
    with ThreadPoolExecutor(len(GROUPS)) as pool:
        for group_report in pool.map(run, GROUPS):
            found.update(group_report)
    return found


@pytest.mark.parametrize("method", METHODS)
def test_two_replicas_train_like_one_device_at_the_same_global_batch(report, method):
    result = report[method]
    assert "error" not in result, result.get("error")
    assert result["replicas"] == 2
    assert result["weights_moved"] > 100 * WEIGHT_ATOL  # the epoch really trained
    assert result["max_weight_diff"] < WEIGHT_ATOL, result
    # the logged losses are global-batch means, not one replica's share
    assert result["max_metric_rel_diff"] < METRIC_RTOL, (result["logs_one"], result["logs_two"])
