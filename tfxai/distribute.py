"""TensorFlow distribution strategies by name, and logical CPU devices for trying them on one machine.

``make_strategy("default" | "mirrored" | "multiworker")`` returns the strategy
the apps' ``--strategy`` option names:

- ``default``: TensorFlow's default (no-op) strategy, one device;
- ``mirrored``: :class:`tf.distribute.MirroredStrategy` over the local devices
  (GPUs, or the logical CPUs made by :func:`split_cpu`);
- ``multiworker``: :class:`tf.distribute.MultiWorkerMirroredStrategy`; the
  cluster and this process's role come from the ``TF_CONFIG`` environment
  variable (checked here, so a typo is one clear error, not a hang).

Every tfxai ``train_step`` averages its losses over the *global* batch
(``tf.nn.compute_average_loss``), so one epoch at global batch 2B over two
replicas gives the weights of one epoch at batch 2B on one device.

With several workers every worker runs the same command; only the chief
(:func:`is_chief`) writes the run folder, the others write to a temporary
folder (:func:`worker_directory`), the usual Keras pattern.
"""

import json
import os
import tempfile

from tfxai.errors import TfxaiError

__all__ = ["STRATEGIES", "make_strategy", "split_cpu", "tf_config", "is_chief", "worker_directory", "strategy_name"]

STRATEGIES = ("default", "mirrored", "multiworker")


def make_strategy(name="default"):
    """The ``tf.distribute.Strategy`` called ``name`` (one of :data:`STRATEGIES`)."""
    import tensorflow as tf

    if name not in STRATEGIES:
        raise TfxaiError(f"unknown distribution strategy {name!r}: use one of {', '.join(STRATEGIES)}")
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    tf_config(required=True)
    return tf.distribute.MultiWorkerMirroredStrategy()


def tf_config(required=False):
    """The parsed ``TF_CONFIG`` (``{"cluster": {...}, "task": {"type", "index"}}``), or None when unset and not ``required``."""
    text = os.environ.get("TF_CONFIG", "").strip()
    if not text:
        if required:
            raise TfxaiError(
                "--strategy multiworker needs TF_CONFIG: set it to "
                '\'{"cluster": {"worker": ["host1:port", "host2:port"]}, "task": {"type": "worker", "index": 0}}\' on every worker'
            )
        return None
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise TfxaiError(f"TF_CONFIG is not valid JSON ({error.msg} at character {error.pos}): fix the environment variable") from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or not cluster or not all(isinstance(v, list) and v for v in cluster.values()):
        raise TfxaiError('TF_CONFIG has no "cluster" with lists of "host:port" addresses: add e.g. "cluster": {"worker": ["host1:port", "host2:port"]}')
    if not isinstance(task, dict) or "type" not in task or "index" not in task:
        raise TfxaiError('TF_CONFIG has no "task" with "type" and "index": add e.g. "task": {"type": "worker", "index": 0}')
    kind, index = task["type"], task["index"]
    if kind not in cluster or not isinstance(index, int) or not 0 <= index < len(cluster[kind]):
        raise TfxaiError(
            f"TF_CONFIG task {kind}:{index} is not in the cluster {json.dumps(cluster)}: "
            "set task.type to a cluster job and task.index below its number of addresses"
        )
    return config


def is_chief(config=None):
    """True for the process that writes results: no TF_CONFIG, the ``chief`` task, or worker 0 of a chief-less cluster."""
    config = tf_config() if config is None else config
    if config is None:
        return True
    kind, index = config["task"]["type"], config["task"]["index"]
    return kind == "chief" or (kind == "worker" and index == 0 and "chief" not in config["cluster"])


def worker_directory(directory, strategy=None):
    """``directory`` for the chief; a fresh temporary folder for every other worker (whose files nobody needs)."""
    if strategy is not None and not _is_multi_worker(strategy):
        return directory
    if is_chief():
        return directory
    return tempfile.mkdtemp(prefix="tfxai-worker-")


def _is_multi_worker(strategy):
    extended = getattr(strategy, "extended", None)
    return bool(getattr(extended, "_in_multi_worker_mode", lambda: False)())


def strategy_name(strategy):
    """``"default"``, ``"mirrored"`` or ``"multiworker"`` for a strategy made by :func:`make_strategy`, with its replica count."""
    import tensorflow as tf

    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        name = "multiworker"
    elif isinstance(strategy, tf.distribute.MirroredStrategy):
        name = "mirrored"
    else:
        name = "default"
    return {"strategy": name, "replicas": int(strategy.num_replicas_in_sync)}


def split_cpu(count):
    """Split the (first) CPU into ``count`` logical devices, so MirroredStrategy can run ``count`` replicas on one machine.

    Must run before TensorFlow initialises its devices (before the first op,
    model or strategy); returns the logical CPU devices.
    """
    import tensorflow as tf

    count = int(count)
    if count < 1:
        raise TfxaiError(f"cannot split the CPU into {count} logical devices: give 1 or more")
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)])
    except RuntimeError:
        existing = tf.config.list_logical_devices("CPU")
        if len(existing) == count:
            return existing
        raise TfxaiError(
            f"TensorFlow already initialised {len(existing)} logical CPU(s), so it cannot split the CPU into {count}: "
            "call split_cpu before creating any tensor, model or strategy (right after importing tfxai)"
        ) from None
    return tf.config.list_logical_devices("CPU")
