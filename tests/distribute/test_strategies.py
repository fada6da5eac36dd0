"""make_strategy by name, TF_CONFIG checks, the chief rule and split_cpu's too-late error."""

import json
import os

import pytest

import tfxai  # noqa: F401  (before TensorFlow)
import tensorflow as tf

from tfxai.training.distribute import is_chief, make_strategy, split_cpu, strategy_name, tf_config, worker_directory
from tfxai.errors import TfxaiError

CLUSTER = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}


def set_config(monkeypatch, config):
    monkeypatch.setenv("TF_CONFIG", config if isinstance(config, str) else json.dumps(config))


def test_default_and_mirrored_strategies():
    assert make_strategy("default") is tf.distribute.get_strategy()
    mirrored = make_strategy("mirrored")
    assert isinstance(mirrored, tf.distribute.MirroredStrategy)
    assert strategy_name(mirrored) == {"strategy": "mirrored", "replicas": mirrored.num_replicas_in_sync}
    assert strategy_name(make_strategy("default"))["strategy"] == "default"


def test_unknown_name_is_one_line_error():
    with pytest.raises(TfxaiError, match="unknown distribution strategy 'mirror'.*default, mirrored, multiworker"):
        make_strategy("mirror")


@pytest.mark.parametrize(
    "config, message",
    [
        (None, "needs TF_CONFIG"),
        ("{not json", "not valid JSON"),
        ({"task": {"type": "worker", "index": 0}}, 'no "cluster"'),
        ({"cluster": CLUSTER}, 'no "task"'),
        ({"cluster": CLUSTER, "task": {"type": "worker", "index": 2}}, "task worker:2 is not in the cluster"),
        ({"cluster": CLUSTER, "task": {"type": "chief", "index": 0}}, "task chief:0 is not in the cluster"),
    ],
)
def test_bad_tf_config_is_one_line_error_before_any_connection(monkeypatch, config, message):
    if config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        set_config(monkeypatch, config)
    with pytest.raises(TfxaiError, match=message) as caught:
        make_strategy("multiworker")
    assert "\n" not in str(caught.value)


def test_only_the_chief_writes_the_run_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert tf_config() is None and is_chief()
    set_config(monkeypatch, {"cluster": CLUSTER, "task": {"type": "worker", "index": 0}})
    assert is_chief() and worker_directory(str(tmp_path)) == str(tmp_path)
    set_config(monkeypatch, {"cluster": CLUSTER, "task": {"type": "worker", "index": 1}})
    assert not is_chief()
    other = worker_directory(str(tmp_path / "run"))
    assert os.path.basename(other) == "run" and not other.startswith(str(tmp_path))
    assert not os.path.exists(other) and os.path.isdir(os.path.dirname(other))  # the app creates it, as for the chief
    with_chief = {"chief": ["127.0.0.1:3"], **CLUSTER}
    set_config(monkeypatch, {"cluster": with_chief, "task": {"type": "worker", "index": 0}})
    assert not is_chief()
    set_config(monkeypatch, {"cluster": with_chief, "task": {"type": "chief", "index": 0}})
    assert is_chief()


def test_split_cpu_after_tensorflow_started_names_the_fix():
    tf.constant(1.0)  # devices are initialised now
    devices = len(tf.config.list_logical_devices("CPU"))
    assert len(split_cpu(devices)) == devices  # asking for what exists is fine
    with pytest.raises(TfxaiError, match="already initialised.*call split_cpu before creating any tensor"):
        split_cpu(devices + 1)
    with pytest.raises(TfxaiError, match="give 1 or more"):
        split_cpu(0)
