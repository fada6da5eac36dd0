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

__all__ = ["STRATEGIES", "make_strategy", "split_cpu", "tf_config", "is_chief", "worker_directory", "strategy_name", "current_strategy"]

STRATEGIES = ("default", "mirrored", "multiworker")


def make_strategy(name="default"):
    """The ``tf.distribute.Strategy`` called ``name`` (one of :data:`STRATEGIES`)."""
    import tensorflow as tf

    if name not in STRATEGIES:
        raise TfxaiError(f"unknown distribution strategy {name!r}: use one of {', '.join(STRATEGIES)}")
    if name == "default":
        return tf.distribute.get_strategy()
    _build_from_local_batch()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    tf_config(required=True)
    return tf.distribute.MultiWorkerMirroredStrategy()


def _build_from_local_batch():
    """Let Keras 3 ``fit`` start under a strategy as it does without one.

    Under a strategy Keras 3.15 reads a first batch before every ``fit`` to build the
    model, even a built one. That extra pass over the dataset advances a
    ``reshuffle_each_iteration`` shuffle (the epoch then sees another order than
    without a strategy), and its ``strategy.reduce("MEAN", batch)`` fails for a
    multi-worker strategy (``cannot convert PerReplica to a Tensor``). So a built
    model reads no batch, and an unbuilt one takes the first local replica's batch
    (only shapes and dtypes are needed).
    """
    import keras
    import tensorflow as tf
    from keras.src.backend.tensorflow.trainer import TensorFlowTrainer

    original = TensorFlowTrainer._maybe_symbolic_build
    if getattr(original, "_tfxai_local_batch", False):
        return

    def local(value):
        if isinstance(value, tf.distribute.DistributedValues):
            return value._values[0]  # noqa: SLF001  (the first local replica's tensor)
        return value

    def maybe_symbolic_build(self, iterator=None, data_batch=None):
        if self._distribute_strategy is None or iterator is None:
            return original(self, iterator=iterator, data_batch=data_batch)
        if not _needs_a_batch(self):
            return original(self)
        for _, _, it in iterator:
            data_batch = keras.tree.map_structure(local, next(it))
            break
        return original(self, data_batch=data_batch)

    def _needs_a_batch(model):
        unbuilt = [model._compile_metrics, model._compile_loss]  # noqa: SLF001
        return not all(layer.built for layer in model._flatten_layers()) or any(  # noqa: SLF001
            part is not None and not part.built for part in unbuilt)

    maybe_symbolic_build._tfxai_local_batch = True
    TensorFlowTrainer._maybe_symbolic_build = maybe_symbolic_build
    _reduce_scalars_across_workers()


def _reduce_scalars_across_workers():
    """Keras 3.15 averages the logs of several workers with ``reduce("MEAN", v, axis=0)``, which fails for scalars; use ``axis=None`` for them."""
    import keras
    from keras.src.backend.tensorflow import trainer

    original = trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction="auto"):
        if reduction not in ("auto", "mean") or not trainer._collective_all_reduce_multi_worker(strategy):  # noqa: SLF001
            return original(values, strategy, reduction)

        def mean(value):
            if strategy.experimental_local_results(value)[0].shape.rank == 0:
                return strategy.reduce("MEAN", value, axis=None)
            return original(value, strategy, reduction)

        return keras.tree.map_structure(mean, values)

    trainer.reduce_per_replica = reduce_per_replica


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
    """``directory`` for the chief; for every other worker the same name in a fresh temporary folder (files nobody needs)."""
    if strategy is not None and not _is_multi_worker(strategy):
        return directory
    if is_chief():
        return directory
    return os.path.join(tempfile.mkdtemp(prefix="tfxai-worker-"), os.path.basename(os.path.normpath(directory)) or "run")


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


def current_strategy():
    """:func:`strategy_name` of the strategy in scope (the apps' ``--strategy``), for a run's ``metrics.json``."""
    import tensorflow as tf

    return strategy_name(tf.distribute.get_strategy())


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
