"""Peak memory of ``tfxai train mixed`` on 2,000 vs 20,000 images of class folders (issue 27: ratio goal <= 1.2).

Usage::

    nice -n 10 python -P benchmarks/synthesis_memory.py [--counts 2000 20000] [--size 20] [--old REV] [--keep DIR]

The digit tiles of :mod:`explain_memory` (``--size`` px, grey) are written once
into ten class folders and shuffled, so every count (:func:`explain_memory.subset`,
hard links) holds all ten classes; the teacher is :func:`explain_memory.save_model`'s
tiny CNN. Each count runs ``tfxai train mixed`` (the default 30 % generated, 2
generation steps, 1 epoch, batch 64, 10 % held out, no export) in a subprocess whose
peak RSS :func:`explain_memory.measure` takes and :func:`explain_memory.count_table` prints.

``--old REV`` also runs the app as it was at git revision ``REV`` (e.g. ``main``
before the streaming merge): ``tfxai/`` and ``apps/`` of that revision are
extracted (``git archive``) into the work folder and imported first.
"""

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the other benchmarks, with -P
from explain_memory import count_table, save_model, subset, write_images  # noqa: E402

OLD_APP = "import sys; sys.path.insert(0, sys.argv.pop(1)); from tfxai.apps.cli import main; main()"


def old_tree(root, revision):
    """``tfxai/`` (with ``apps/`` as ``tfxai/apps``) of git ``revision``, extracted under ``root``; returns the folder to import from."""
    repository = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    folder = os.path.join(root, "old_code")
    os.makedirs(folder)
    archive = subprocess.run(["git", "-C", repository, "archive", revision, "tfxai", "apps"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
    os.rename(os.path.join(folder, "apps"), os.path.join(folder, "tfxai", "apps"))
    return folder


def train_options(data, teacher, out):
    return ["train", "mixed", "--data", data, "--teacher", teacher, "--out", out, "--epochs", "1", "--batch-size", "64",
            "--generation-steps", "2", "--validation-split", "0.1", "--no-export", "--quiet"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--size", type=int, default=20, help="Tile (and teacher input) size: the 20-px digits resized (default 20).")
    parser.add_argument("--old", default=None, metavar="REV", help="Also measure the app at this git revision (e.g. main).")
    parser.add_argument("--keep", default=None, help="Work in this folder and keep it (default: a temporary folder).")
    args = parser.parse_args()
    root = args.keep or tempfile.mkdtemp(prefix="synthesis_memory.")
    os.makedirs(root, exist_ok=True)
    try:
        paths, source = write_images(os.path.join(root, "all"), max(args.counts), args.size)
        random.Random(0).shuffle(paths)  # every count holds all ten classes
        teacher = save_model(root, args.size)
        folders = {count: subset(root, paths, count) for count in args.counts}
        print(f"{source} at {args.size}x{args.size} in class folders, tiny CNN teacher, tfxai train mixed --fraction 0.3 "
              f"--generation-steps 2 --epochs 1 --batch-size 64 --validation-split 0.1 --no-export; python {sys.version.split()[0]}")
        runs = {"streamed": [os.path.join(os.path.dirname(sys.executable), "tfxai")]}
        if args.old:
            runs[f"old ({args.old}, all in memory)"] = [sys.executable, "-P", "-c", OLD_APP, old_tree(root, args.old)]
        for label, program in runs.items():
            count_table(label, args.counts, root, label.split()[0],
                        lambda count, out, program=program: program + train_options(folders[count], teacher, out))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
