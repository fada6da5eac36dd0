"""The GANs resume from their per-epoch backup exactly and repeat bit for bit with the same seed."""

import json
from pathlib import Path

import numpy as np
import pytest

from tfxai.gan.collaborative.training import CollabGANConfig, train_graph
from tfxai.gan.collaborative.graph import KnowledgeTransferGraph
from tfxai.gan.stargan.data import Domain
from tfxai.gan.stargan.training import TrainStarGANConfig, trained_iterations, train_translator
from tfxai.testing import Interrupted, InterruptAt
from tfxai.training.resume import backup_folder

EPOCHS, STOP_AFTER = 3, 1
STARGAN_ITERATIONS = 5  # epochs of 2 iterations: 2 + 2 + 1


def config(out, seed=3):
    return CollabGANConfig(out=str(out), generators=2, image_size=8, channels=1, latent_dim=4, filters=4, transfer_weight=10.0,
                           epochs=EPOCHS, batch_size=4, seed=seed)


def images():
    return np.random.default_rng(0).uniform(-1, 1, (12, 8, 8, 1)).astype("float32")


def train_collaborative(out, seed=3, callbacks=(), backup=True):
    cfg = config(out, seed)
    model, history = train_graph(cfg, KnowledgeTransferGraph(cfg.generators), images(), callbacks=callbacks,
                                 backup=backup_folder(out) if backup else None)
    return model.get_weights(), history.history, int(model.g_optimizer.iterations)


def train_stargan(out, seed=3, callbacks=(), backup=True):
    """The tiny class-aware StarGAN v2: 5 iterations in epochs of 2 (the last one partial), batch 4 (2 + 2) of 16 px images."""
    rng = np.random.default_rng(0)
    source = Domain(rng.integers(0, 256, (10, 16, 16, 3), dtype=np.uint8), np.arange(10, dtype=np.int32) % 3, ["a", "b", "c"])
    target = Domain(rng.integers(0, 256, (10, 16, 16, 3), dtype=np.uint8), np.full(10, -1, np.int32))
    cfg = TrainStarGANConfig(source="source", target="target", out=str(out), class_aware=True, image_size=16, batch_size=4,
                             iterations=STARGAN_ITERATIONS, epoch_iterations=2, width="tiny", seed=seed)
    model, history = train_translator(cfg, source, target, verbose=0, callbacks=callbacks, backup=backup_folder(out) if backup else None,
                                      log=lambda message: None)
    return model.get_weights(), history.history, trained_iterations(model)


@pytest.fixture(scope="module", params=[train_collaborative, train_stargan], ids=["collaborative_gan", "stargan_v2"])
def runs(request, tmp_path_factory):
    root = tmp_path_factory.mktemp("gan_resume")
    train = request.param
    whole = train(root / "whole", backup=False)
    with pytest.raises(Interrupted):
        train(root / "resumed", callbacks=[InterruptAt(STOP_AFTER)])
    backed_up = json.loads((Path(backup_folder(root / "resumed")) / "state.json").read_text())["epoch"]
    resumed = train(root / "resumed")
    return request.param, whole, backed_up, resumed


def test_crashed_and_rerun_fit_ends_bit_for_bit_as_the_uninterrupted_one(runs):
    """Also the same-seed repeat in one process: the crashed run (a second model in this process) must have
    repeated the uninterrupted run's first epoch bit for bit for the rerun, which starts from its backup, to end equal."""
    _, (whole, whole_logs, _), backed_up, (resumed, resumed_logs, _) = runs
    assert backed_up == STOP_AFTER  # the rerun started from the backup of epoch STOP_AFTER, not afresh
    assert all(np.array_equal(a, b) for a, b in zip(whole, resumed))
    assert resumed_logs == whole_logs


def test_the_runs_train_exactly_their_steps_with_and_without_a_resume(runs):
    """StarGAN v2's 5 iterations in epochs of 2 are 5, not 4 (``5 // 2 * 2``); the collaborative GAN's 3 epochs of 3 batches are 9."""
    train, (_, whole_logs, whole_steps), _, (_, _, resumed_steps) = runs
    expected = STARGAN_ITERATIONS if train is train_stargan else EPOCHS * (len(images()) // 4)
    assert whole_steps == resumed_steps == expected
    assert len(next(iter(whole_logs.values()))) == EPOCHS


def test_the_seed_matters(tmp_path):
    """The bit-equality above is not a model that ignores its seed: another --seed trains other weights."""
    three, _, _ = train_collaborative(tmp_path / "three", seed=3, backup=False)
    four, _, _ = train_collaborative(tmp_path / "four", seed=4, backup=False)
    assert not all(np.array_equal(a, b) for a, b in zip(three, four))
