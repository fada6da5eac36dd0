"""Build tfxai's shipped demo scorer: the small classifier that scores collaborative-GAN runs (IS/FID) offline.

Trains a 4-layer CNN on the bundled demo data (tfxai/data/demo: 3,000 Fashion-MNIST training
images, resized to 32x32 grey, pixels in [-1, 1]), reports its accuracy on the 600 demo test
images, and writes tfxai/gan/collaborative/demo_scorer.keras. Deterministic: one thread, op
determinism, fixed seed; rerunning it gives the same weights.

Its IS (at most 10 classes) and FID (its 64 penultimate features) are NOT comparable with papers'
InceptionV3 numbers, only between runs scored with it.

    python scripts/train_demo_scorer.py [--epochs 20] [--seed 0]
"""

import argparse
import os

import tfxai  # noqa: F401  (before tensorflow)

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfxai.data.demo import load_demo  # noqa: E402
from tfxai.training.determinism import seed_everything  # noqa: E402

TARGET = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tfxai", "gan", "collaborative", "demo_scorer.keras")


def prepare(images):
    return tf.image.resize(images.astype(np.float32), (32, 32)).numpy() / 127.5 - 1.0


def build(seed):
    init = lambda i: keras.initializers.HeNormal(seed=seed + i)  # noqa: E731
    return keras.Sequential([
        keras.Input((32, 32, 1), name="images"),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu", kernel_initializer=init(0)), keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu", kernel_initializer=init(1)), keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(64, 3, padding="same", activation="relu", kernel_initializer=init(2)), keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(64, activation="relu", name="features", kernel_initializer=init(3)),
        keras.layers.Dense(10, name="logits", kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 4)),
        keras.layers.Softmax(name="probabilities"),
    ], name="demo_scorer")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=TARGET)
    args = parser.parse_args()
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.experimental.enable_op_determinism()
    seed_everything(args.seed)
    (x_train, y_train), (x_test, y_test), _ = load_demo()
    x_train, x_test = prepare(x_train), prepare(x_test)
    model = build(args.seed)
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=64, epochs=args.epochs, shuffle=True, verbose=2)
    accuracy = float(model.evaluate(x_test, y_test, verbose=0)[1])
    shipped = build(args.seed)  # the same network without the optimizer's state: a third of the file
    shipped.set_weights(model.get_weights())
    shipped.save(args.out)
    print(f"demo scorer: {model.count_params()} parameters, test accuracy {accuracy:.4f} on {len(x_test)} demo test images, "
          f"{os.path.getsize(args.out) / 1024:.0f} KB -> {os.path.normpath(args.out)}")


if __name__ == "__main__":
    main()
