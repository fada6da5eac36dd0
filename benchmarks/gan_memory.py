"""Peak memory of ``tfxai train stargan`` and ``tfxai train collab-gan`` on 2,000 vs 20,000 images of the same kind (issue 27: ratio goal <= 1.2).

Usage::

    nice -n 10 python -P benchmarks/gan_memory.py [--counts 2000 20000] [--command stargan collaborative] [--old] [--keep DIR]

The digit tiles of :mod:`explain_memory` (opencv-doc's ``digits.png``,
resized to ``--size``, 32 px by default) are written once into ten class
folders; each count takes a random subset of them (every class alike). Each
run is the app in a subprocess whose peak RSS is measured by
:func:`explain_memory.measure`:

- ``stargan``: ``tfxai train stargan --preset small --iterations 2`` (no
  export) with the N images as the (labelled) source domain and another N as
  the target domain, so 2 x N files are read;
- ``collaborative``: ``tfxai train collab-gan --preset small --max-images 0
  --epochs 1 --batch-size 256`` (every image read once, then IS/FID of the
  preset's 500 images with the demo scorer and the collapse measure).

``--old`` also runs the path before issue 27 in the same installation: the
app with the images read into one array, as before (StarGAN v2:
:func:`tfxai.data.load_images` in :class:`~tfxai.data.image_folder.ImageFiles`'
place, so ``two_domain_dataset`` slices the uint8 arrays; collaborative GAN:
``load_gan_images`` giving the float32 array in [-1, 1] it gave).
"""

import argparse
import os
import random
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the other benchmarks, with -P
from explain_memory import count_table, subset, write_images  # noqa: E402

OLD_PATHS = {
    "stargan": """
import sys
import tfxai
import tfxai.data.image_folder as image_folder
import tfxai.gan.stargan.data as stargan_data
class Loaded:  # in ImageFiles' place: load_domain gets the array load_images reads, two_domain_dataset slices it
    def __new__(cls, paths, size, channels):
        return image_folder.load_images(list(paths), size, channels)
stargan_data.ImageFiles = Loaded
stargan_data.check_images = lambda paths, channels: None
from tfxai.apps.cli import main
main(sys.argv[1:])
""",
    "collaborative": """
import sys
import numpy as np
import tfxai
import tfxai.gan.collaborative.training as training
streamed = training.load_gan_images
training.load_gan_images = lambda config: np.asarray(streamed(config))  # the float32 array in [-1, 1] it returned
from tfxai.apps.cli import main
main(sys.argv[1:])
""",
}


def app_options(command, folders, count, out, size):
    """The ``tfxai`` arguments of one run of ``command`` on ``count`` images."""
    if command == "stargan":
        source, target = folders[count]
        return ["train", "stargan", "--source", source, "--target", target, "--out", out, "--preset", "small", "--image-size", str(size),
                "--iterations", "2", "--epoch-iterations", "2", "--no-export", "--quiet"]
    return ["train", "collab-gan", "--data", folders[count][0], "--out", out, "--preset", "small", "--image-size", str(size),
            "--channels", "1", "--max-images", "0", "--epochs", "1", "--batch-size", "256", "--quiet"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--command", nargs="+", choices=["stargan", "collaborative"], default=["stargan", "collaborative"])
    parser.add_argument("--size", type=int, default=32, help="Image side: the 20-px digits resized (default 32, a power of two).")
    parser.add_argument("--old", action="store_true", help="Also measure the in-memory path of before issue 27.")
    parser.add_argument("--keep", default=None, help="Work in this folder and keep it (default: a temporary folder).")
    args = parser.parse_args()
    root = args.keep or tempfile.mkdtemp(prefix="gan_memory.")
    os.makedirs(root, exist_ok=True)
    try:
        paths, source = write_images(os.path.join(root, "all"), max(args.counts), args.size)
        random.Random(0).shuffle(paths)  # every count holds all ten classes
        folders = {count: (subset(root, paths, count), subset(os.path.join(root, "target"), paths[::-1], count)) for count in args.counts}
        print(f"{source} at {args.size}x{args.size}; python {sys.version.split()[0]}")
        tfxai = os.path.join(os.path.dirname(sys.executable), "tfxai")
        for command in args.command:
            print(f"\n`tfxai {' '.join(app_options(command, {c: ('SOURCE', 'TARGET') for c in args.counts}, args.counts[0], 'OUT', args.size))}`")
            for label, old in [("streamed", None)] + ([("old (all in memory)", OLD_PATHS[command])] if args.old else []):
                def command_for(count, out, old=old, command=command):
                    options = app_options(command, folders, count, out, args.size)
                    return ([tfxai] if old is None else [sys.executable, "-c", old]) + options

                count_table(f"{command}: {label}", args.counts, root, f"{command}_{label.split()[0]}", command_for)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
