"""Fixtures shared by the app tests."""

import cv2
import numpy as np
import pytest

TINY_STARGAN_PRESET = {"image_size": 16, "width": "tiny", "batch_size": 4, "iterations": 2}  # stands in for "small"


def _write_images(folder, count, seed, bright):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        cv2.imwrite(str(folder / f"{i}.png"), rng.integers(128 if bright else 0, 256 if bright else 128, (16, 16, 3)).astype("uint8"))


def _write_stargan_folders(root):
    """``source/{dark,light}`` (4 images each), ``labelled_target/{dark,light}`` (3 each), ``target/`` (4 bright images)."""
    for label, bright in (("dark", False), ("light", True)):
        _write_images(root / "source" / label, 4, 0 + bright, bright)
        _write_images(root / "labelled_target" / label, 3, 2 + bright, bright)
    _write_images(root / "target", 4, 5, True)
    return root


@pytest.fixture
def stargan_folders(tmp_path, monkeypatch):
    """The StarGAN folders in ``tmp_path``, with the "small" preset made tiny for this test."""
    from tfxai.gan.stargan import training as stargan_runs

    monkeypatch.setitem(stargan_runs.STARGAN_PRESETS, "small", TINY_STARGAN_PRESET)
    return _write_stargan_folders(tmp_path)


@pytest.fixture(scope="session")
def trained_stargan(tmp_path_factory):
    """A tiny class-aware translator trained once by ``tfxai train stargan`` (16 px, 2 iterations; ~40 s, mostly tracing).

    Returns the workspace: the folders of :func:`_write_stargan_folders` and the run folder ``run/``.
    """
    from click.testing import CliRunner

    from tfxai.apps.cli import main
    from tfxai.gan.stargan import training as stargan_runs

    root = _write_stargan_folders(tmp_path_factory.mktemp("stargan"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(stargan_runs.STARGAN_PRESETS, "small", TINY_STARGAN_PRESET)
        result = CliRunner().invoke(main, ["train", "stargan", "--source", str(root / "source"), "--target", str(root / "target"),
                                           "--out", str(root / "run"), "--class-aware", "--quiet"])
    assert result.exit_code == 0, result.output
    return root
