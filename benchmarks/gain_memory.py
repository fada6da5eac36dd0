"""Peak memory of ``tfxai train gain --masks --epochs 1`` on 2,000 vs 20,000 images with masks (issue 27: ratio goal <= 1.2).

Usage::

    nice -n 10 python -P benchmarks/gain_memory.py [--counts 2000 20000] [--size 64] [--batch-size 64] [--old] [--keep DIR]

The digit tiles of :mod:`explain_memory` (resized to ``--size``) are written
once into ten class folders, each with a mask of the same name in a mask tree
laid out like them (the tile thresholded at 128: white = digit); each count is
a random subset of both (hard links, :func:`explain_memory.subset`). Each count
trains GAIN_ext (``--preset small``, ``small_cnn``, grayscale, batch 64, 90%
held out for validation so the run is short while every image is still read,
no export; a batch of 64 so that both counts train on full batches
and the activations are the same) in a subprocess whose peak RSS is measured by
:func:`explain_memory.measure` and printed by :func:`explain_memory.count_table`.

``--old`` also runs the path before the masks were streamed, in the same
installation: the app with :func:`tfxai.attention.gain_training.mask_files`
returning the array :func:`~tfxai.attention.gain_training.load_mask_folder`
reads (every mask in one (N, H, W) float32 array, which ``make_dataset``
slices and copies). The images stream in both (:class:`~tfxai.data.image_folder.ImageFiles`).
"""

import argparse
import os
import random
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the other benchmarks, with -P
from explain_memory import count_table, subset, write_images  # noqa: E402

OLD_PATH = """
import sys
import numpy as np
import tfxai
import tfxai.attention.gain_training as gain_training
streamed = gain_training.mask_files
def in_memory(masks, sources, size):  # the masks as load_mask_folder reads them: one float32 array
    maps, has_map = streamed(masks, sources, size)
    return np.asarray(maps), has_map
gain_training.mask_files = in_memory
from tfxai.apps.cli import main
main(sys.argv[1:])
"""


def write_masks(paths, root):
    """A mask beside each tile, in ``root`` laid out like the tiles' folder (white where the digit is); returns their paths."""
    import cv2

    masks = []
    for path in paths:
        target = os.path.join(root, os.path.basename(os.path.dirname(path)), os.path.basename(path))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        cv2.imwrite(target, (cv2.imread(path, cv2.IMREAD_GRAYSCALE) >= 128).astype("uint8") * 255)
        masks.append(target)
    return masks


def train_options(data, masks, out, args):
    """``tfxai``'s arguments: GAIN_ext on ``data`` with ``masks``, one epoch, 90% held out, no export."""
    return ["train", "gain", "--data", data, "--masks", masks, "--out", out, "--preset", "small", "--backbone", "small_cnn",
            "--image-size", str(args.size), "--channels", "1", "--epochs", "1", "--batch-size", str(args.batch_size),
            "--validation-split", "0.9", "--no-export", "--quiet"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--size", type=int, default=64, help="Image and mask side: the 20-px digits resized (default 64).")
    parser.add_argument("--batch-size", type=int, default=64, help="Training batch (default 64: full batches at both counts).")
    parser.add_argument("--old", action="store_true", help="Also measure the in-memory masks of before.")
    parser.add_argument("--keep", default=None, help="Work in this folder and keep it (default: a temporary folder).")
    args = parser.parse_args()
    root = args.keep or tempfile.mkdtemp(prefix="gain_memory.")
    os.makedirs(root, exist_ok=True)
    try:
        paths, source = write_images(os.path.join(root, "all"), max(args.counts), args.size)
        masks = write_masks(paths, os.path.join(root, "all_masks"))
        order = list(range(len(paths)))
        random.Random(0).shuffle(order)  # every count holds all ten classes
        paths, masks = [paths[i] for i in order], [masks[i] for i in order]
        folders = {count: (subset(root, paths, count), subset(os.path.join(root, "masks"), masks, count)) for count in args.counts}
        print(f"{source} at {args.size}x{args.size} with a mask each, tfxai train gain --preset small --backbone small_cnn "
              f"--channels 1 --epochs 1 --batch-size {args.batch_size} --validation-split 0.9; python {sys.version.split()[0]}")
        runs = {"streamed": [os.path.join(os.path.dirname(sys.executable), "tfxai")]}
        if args.old:
            runs["old (masks in memory)"] = [sys.executable, "-c", OLD_PATH]
        for label, program in runs.items():
            count_table(label, args.counts, root, label.split()[0],
                        lambda count, out, program=program: program + train_options(*folders[count], out, args))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
