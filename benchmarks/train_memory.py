"""Peak memory of ``tfxai train classifier --epochs 1`` on 2,000 vs 20,000 images of the same kind (issue 27: ratio goal <= 1.2).

Usage::

    nice -n 10 python -P benchmarks/train_memory.py [--counts 2000 20000] [--size 64] [--old] [--keep DIR]

The digit tiles of :mod:`explain_memory` (opencv-doc's ``digits.png``,
resized to ``--size`` so that an in-memory copy of the pixels is visible) are
written once into ten class folders (each count a random subset of them); each count trains a ``small_cnn``
classifier for one epoch (grayscale, batch 256, 90% held out for validation so
the run is short while every image is still read, no export) in a subprocess
whose peak RSS is measured by :func:`explain_memory.measure`.

``--old`` also runs the path before issue 27 in the same installation: the
app with :class:`tfxai.data.image_folder.ImageFiles` replaced by
:func:`tfxai.data.load_images` (every image in one uint8 array, which
``make_dataset`` copies to float32 and slices), as ``load_labelled_images`` did.
"""

import argparse
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the other benchmarks, with -P
from explain_memory import count_table, subset, write_images  # noqa: E402

OLD_PATH = """
import sys
import tfxai
import tfxai.data.image_folder as image_folder
class Loaded:  # in ImageFiles' place: load_labelled_images gets the array load_images reads, make_dataset slices it
    def __new__(cls, paths, size, channels):
        return image_folder.load_images(list(paths), size, channels)
image_folder.ImageFiles = Loaded
image_folder.check_images = lambda paths, channels: None
from tfxai.apps.cli import main
main(sys.argv[1:])
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--size", type=int, default=64, help="Image side: the 20-px digits resized (default 64).")
    parser.add_argument("--old", action="store_true", help="Also measure the in-memory path of before issue 27.")
    parser.add_argument("--keep", default=None, help="Work in this folder and keep it (default: a temporary folder).")
    args = parser.parse_args()
    root = args.keep or tempfile.mkdtemp(prefix="train_memory.")
    os.makedirs(root, exist_ok=True)
    try:
        paths, source = write_images(os.path.join(root, "all"), max(args.counts), args.size)
        import random

        random.Random(0).shuffle(paths)  # every count holds all ten classes
        folders = {count: subset(root, paths, count) for count in args.counts}
        print(f"{source} at {args.size}x{args.size}, tfxai train classifier --backbone small_cnn --channels 1 --epochs 1 "
              f"--batch-size 256 --validation-split 0.9; python {sys.version.split()[0]}")
        for label, old in [("streamed", None)] + ([("old (all in memory)", OLD_PATH)] if args.old else []):
            def command(count, out, old=old):
                options = ["train", "classifier", "--data", folders[count], "--out", out, "--preset", "small", "--backbone", "small_cnn",
                           "--image-size", str(args.size), "--channels", "1", "--epochs", "1", "--batch-size", "256", "--validation-split", "0.9", "--no-export", "--quiet"]
                return ([os.path.join(os.path.dirname(sys.executable), "tfxai")] if old is None else [sys.executable, "-c", old]) + options

            count_table(label, args.counts, root, label.split()[0], command)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
