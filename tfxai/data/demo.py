"""The bundled demo data: a small, real, MIT-licensed subset of Fashion-MNIST."""

import os

import numpy as np

DEMO_FILE = os.path.join(os.path.dirname(__file__), "demo", "fashion_mnist_subset.npz")

__all__ = ["load_demo", "DEMO_FILE"]


def load_demo():
    """Return ``(x_train, y_train), (x_test, y_test), class_names``.

    Images are uint8 (N, 28, 28, 1); 3000 training and 600 test images of the
    10 Fashion-MNIST classes (Zalando SE, MIT licence; built by
    scripts/make_demo_data.py from the Debian package dataset-fashion-mnist).
    """
    with np.load(DEMO_FILE) as data:
        x_train, y_train = data["x_train"][..., None], data["y_train"].astype("int32")
        x_test, y_test = data["x_test"][..., None], data["y_test"].astype("int32")
        class_names = [str(name) for name in data["class_names"]]
    return (x_train, y_train), (x_test, y_test), class_names
