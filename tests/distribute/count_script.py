"""One multi-worker epoch that counts which examples each worker trains on; prints JSON (tests/distribute/test_multiworker.py)."""

import json

import tfxai  # noqa: F401  (before TensorFlow)
from tfxai.training.distribute import make_strategy

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

COUNT, GLOBAL_BATCH = 40, 8


class Counter(keras.Model):
    """Adds 1 to ``seen[i]`` for every example id ``i`` its train_step receives."""

    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(1)
        self.seen = tf.Variable(tf.zeros(COUNT), trainable=False, synchronization=tf.VariableSynchronization.ON_READ,
                                aggregation=tf.VariableAggregation.SUM)

    def call(self, x):
        return self.dense(x[:, 1:])

    def train_step(self, data):
        x, _ = data
        ids = tf.cast(x[:, 0], tf.int32)
        self.seen.assign_add(tf.math.bincount(ids, minlength=COUNT, maxlength=COUNT, dtype=tf.float32))
        return {"examples": tf.cast(tf.shape(x)[0], tf.float32)}


strategy = make_strategy("multiworker")
with strategy.scope():
    model = Counter()
    model(np.zeros((1, 2), "float32"))
    model.compile()
x = np.stack([np.arange(COUNT), np.ones(COUNT)], 1).astype("float32")
data = tf.data.Dataset.from_tensor_slices((x, np.zeros(COUNT, "float32"))).shuffle(COUNT, seed=3).batch(GLOBAL_BATCH)
steps = []
model.fit(data, epochs=1, verbose=0, callbacks=[keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs=None: steps.append(batch))])
seen = np.sum([v.numpy() for v in strategy.experimental_local_results(model.seen)], axis=0)
print(json.dumps({"steps": len(steps), "seen": seen.tolist()}))
