"""Build tfxai's bundled demo data from the Debian package dataset-fashion-mnist.

Takes the first N training and M test images of Fashion-MNIST (class-balanced
by taking them in file order, which is already shuffled) from
/usr/share/datasets/fashion-mnist/ and writes tfxai/data/demo/fashion_mnist_subset.npz.

Fashion-MNIST: Copyright (c) 2017 Zalando SE, MIT licence (see
tfxai/data/demo/LICENSE.fashion-mnist). Usage:

    python scripts/make_demo_data.py [--train 3000] [--test 600]
"""

import argparse
import gzip
import os

import numpy as np

SOURCE = "/usr/share/datasets/fashion-mnist"
TARGET = os.path.join(os.path.dirname(__file__), "..", "tfxai", "data", "demo", "fashion_mnist_subset.npz")
CLASS_NAMES = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot"]


def read_idx(path):
    with gzip.open(path, "rb") as handle:
        data = handle.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=3000)
    parser.add_argument("--test", type=int, default=600)
    args = parser.parse_args()
    x_train = read_idx(os.path.join(SOURCE, "train-images-idx3-ubyte.gz"))[: args.train]
    y_train = read_idx(os.path.join(SOURCE, "train-labels-idx1-ubyte.gz"))[: args.train]
    x_test = read_idx(os.path.join(SOURCE, "t10k-images-idx3-ubyte.gz"))[: args.test]
    y_test = read_idx(os.path.join(SOURCE, "t10k-labels-idx1-ubyte.gz"))[: args.test]
    np.savez_compressed(
        TARGET, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test, class_names=np.array(CLASS_NAMES)
    )
    print(f"wrote {os.path.normpath(TARGET)}: train {x_train.shape} test {x_test.shape}, "
          f"{os.path.getsize(TARGET) / 1e6:.2f} MB, train counts {np.bincount(y_train).tolist()}")


if __name__ == "__main__":
    main()
