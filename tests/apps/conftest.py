"""Fixtures shared by the app tests."""

import cv2
import numpy as np
import pytest


@pytest.fixture(scope="session")
def trained_stargan(tmp_path_factory):
    """A tiny class-aware translator trained once by ``tfxai train stargan`` (16 px, 2 iterations; ~40 s, mostly tracing).

    Returns the workspace: ``source/{dark,light}`` (4 images each), ``labelled_target/{dark,light}`` (3 each),
    ``target/`` (4 bright images) and the run folder ``run/``.
    """
    from click.testing import CliRunner

    from tfxai.apps.cli import main
    from tfxai.gan import stargan_runs

    root = tmp_path_factory.mktemp("stargan")
    rng = np.random.default_rng(0)
    for folder, count in (("source", 4), ("labelled_target", 3)):
        for label, low in (("dark", 0), ("light", 128)):
            (root / folder / label).mkdir(parents=True)
            for i in range(count):
                cv2.imwrite(str(root / folder / label / f"{i}.png"), rng.integers(low, low + 128, (16, 16, 3)).astype("uint8"))
    (root / "target").mkdir()
    for i in range(4):
        cv2.imwrite(str(root / "target" / f"{i}.png"), rng.integers(128, 256, (16, 16, 3)).astype("uint8"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(stargan_runs.STARGAN_PRESETS, "small", {"image_size": 16, "width": "tiny", "batch_size": 4, "iterations": 2})
        result = CliRunner().invoke(main, ["train", "stargan", "--source", str(root / "source"), "--target", str(root / "target"),
                                           "--out", str(root / "run"), "--class-aware", "--quiet"])
    assert result.exit_code == 0, result.output
    return root
