"""Training one knowledge-transfer graph: config with presets, data, fit, scores and the run folder.

A run folder holds ``generator_<i>.keras`` (one per generator, plain Keras
models z -> image in [-1, 1]), ``model.keras`` (the whole CollaborativeGAN),
``graph.json``, ``history.csv``, ``metrics.json`` (options, final losses, the collapse
measure per generator (:mod:`tfxai.gan.collaborative.collapse`) and, with a scorer,
IS/FID per generator and the name of the scoring network) and ``samples/generator_<i>.png``
(a grid of every generator's images for the same z).

The default scorer is the demo scorer shipped with tfxai (``demo_scorer.keras`` beside this
module, built by scripts/train_demo_scorer.py from the bundled demo data): a 28k-parameter CNN
whose IS and FID compare runs with each other, never with papers' InceptionV3 numbers.

The training images are read as a stream (:class:`GanImages`): an image folder
keeps only its paths and ``tf.data`` decodes and scales them in parallel, batch
by batch; the scores read only the real images they compare with.
"""

import dataclasses
import os
from typing import ClassVar

import keras
import numpy as np

from tfxai.training.determinism import seed_everything
from tfxai.errors import TfxaiError
from tfxai.gan.collaborative.presets import COLLAB_GAN_PRESETS
from tfxai.training.config import RunOptions, option, renamed_fields
from tfxai.training.result import RunResult, run_result

#: The shipped demo scorer (scripts/train_demo_scorer.py): 32x32 grey images in [-1, 1] -> 10 Fashion-MNIST classes.
DEMO_SCORER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "demo_scorer.keras")
#: How runs scored with it are labelled (output and metrics.json).
DEMO_SCORER_NAME = "demo scorer, not comparable with papers"

__all__ = ["DEMO_SCORER", "DEMO_SCORER_NAME", "CollabGANConfig", "GanImages", "gan_dataset", "load_gan_images", "load_graph", "load_scorer", "score_generators", "train_collab_gan", "train_graph"]


#: What the presets are (``--preset``'s help).
COLLABGAN_PRESET_HELP = (
    "thesis: Tsukahara 2021 (64 px RGB, batch 256, latent 100, 200 epochs); "
    "small: 32 px grey, 5 epochs, for CPUs."
)


@renamed_fields(classifier="scorer")
@dataclasses.dataclass
class CollabGANConfig(RunOptions, presets=COLLAB_GAN_PRESETS, paper_preset="thesis", preset_help=COLLABGAN_PRESET_HELP):
    """Options of one collaborative-GAN run (presets: :mod:`tfxai.gan.collaborative.presets`).

    ``graph`` is ``all-through``, ``mad-gan`` or the path of a graph JSON
    (written by ``tfxai search gates``); ``generators`` = 1 is DCGAN.
    ``scorer`` scores the generators: ``demo`` (the shipped demo scorer, the default), ``none``, ``inceptionv3`` (ImageNet
    weights, network needed once), a local InceptionV3 weights file (.h5) or
    a Keras classifier (.keras) that takes images in [-1, 1] (``classifier``
    is its deprecated name).
    """

    data: str = option("", "Folder with sub-folders of images (labels unused), or 'demo'.", required=True)
    out: str = option("saved_models/collab_gan", "Output run folder.")
    generators: int = option(3, "Number of generators k (1 = DCGAN).", minimum=1, maximum=16)
    graph: str = option("all-through", "all-through | mad-gan | PATH to a graph JSON (from 'tfxai search gates').")
    spectral_norm: bool = option(True, "Spectral normalisation in the discriminator.", flag="--spectral-norm/--no-spectral-norm")
    image_size: int = option(64, "Side of the images in pixels, a power of two.", minimum=8, maximum=1024)
    channels: int = option(3, "Grey (1) or RGB (3) images.", choices=(1, 3))
    latent_dim: int = option(100, "Size of the latent code.", minimum=1, maximum=4096)
    filters: int = option(64, "Filters of the widest-resolution layer.", minimum=1, maximum=1024)
    transfer_weight: float = option(1000.0, "Weight of attention transfer (the thesis's alpha).", minimum=0.0)
    epochs: int = 200
    batch_size: int = 256
    learning_rate: float = 2e-4
    max_images: int = option(0, "Use at most this many images (0: all).", minimum=0)
    scorer: str = option("demo", "Scores IS/FID with: demo (shipped scorer trained on the demo data; not comparable with papers) | none | inceptionv3 (ImageNet weights) | PATH to local InceptionV3 .h5 "
                         "weights | PATH to a .keras classifier taking images in [-1, 1] (scores then not comparable with papers').")
    score_images: int = option(50000, "Generated images per generator for IS/FID (the common protocol: 50,000).", minimum=2)
    score_splits: int = option(10, "Splits of the Inception Score (the common protocol: 10).", minimum=1)
    search_trials: int = option(1500, "Gate-search trial budget, completed trials included (thesis: 1,500).", minimum=1, flag="--trials")
    search_epochs: int = option(50, "Epochs each gate-search trial trains (thesis: 50).", minimum=1, flag="--trial-epochs")

    @property
    def classifier(self):
        """Deprecated name of :attr:`scorer`."""
        return self.scorer

    def validate(self):
        from tfxai.gan.collaborative.dcgan import upsampling_steps

        super().validate()
        upsampling_steps(self.image_size)
        load_graph(self.graph, self.generators)
        return self


def load_graph(graph, num_generators):
    """A :class:`KnowledgeTransferGraph` from ``all-through``, ``mad-gan`` or a JSON file."""
    from tfxai.gan.collaborative.graph import KnowledgeTransferGraph

    if graph == "all-through":
        return KnowledgeTransferGraph(num_generators)
    if graph == "mad-gan":
        return KnowledgeTransferGraph.mad_gan(num_generators)
    if not os.path.isfile(graph):
        raise TfxaiError(f"graph {graph!r} is neither 'all-through', 'mad-gan' nor a JSON file: check --graph")
    with open(graph, encoding="utf-8") as handle:
        loaded = KnowledgeTransferGraph.from_json(handle.read())
    if loaded.num_generators != num_generators:
        raise TfxaiError(f"graph {graph} has {loaded.num_generators} generators, not {num_generators}: set --generators {loaded.num_generators}")
    return loaded


def to_unit_range(images):
    """uint8 pixels (an array or a tensor) as float32 in [-1, 1]: ``x / 127.5 - 1``."""
    if isinstance(images, np.ndarray):
        return images.astype(np.float32) / np.float32(127.5) - np.float32(1.0)
    import tensorflow as tf

    return tf.cast(images, tf.float32) / 127.5 - 1.0


@dataclasses.dataclass(frozen=True, eq=False)
class GanImages:
    """Training images in [-1, 1] read on demand: a stand-in for the float32 array (N, H, W, C) they were.

    ``source`` holds the uint8 pixels: an array (the demo data) or an
    :class:`~tfxai.data.image_folder.ImageFiles` (a folder: only paths).
    ``np.asarray`` reads them all as float32 in [-1, 1]; indexing with an int,
    a slice or an index array reads only those images; :func:`gan_dataset`
    streams them through ``tf.data`` (uint8 decoded, scaled in the map).
    """

    source: object
    dtype: ClassVar = np.dtype(np.float32)
    ndim: ClassVar = 4

    @property
    def shape(self):
        return tuple(self.source.shape)

    def __len__(self):
        return len(self.source)

    def __getitem__(self, index):
        return to_unit_range(np.asarray(self.source[index]))

    def __array__(self, dtype=None, copy=None):
        images = to_unit_range(np.asarray(self.source))
        return images if dtype is None else images.astype(dtype)


def load_gan_images(config):
    """The training images (labels are not used), at most ``max_images`` of them, as :class:`GanImages` (float32 in [-1, 1] on demand).

    ``max_images`` keeps a random subset (``default_rng(seed).permutation``);
    a folder's files are checked once here (an unreadable file is a one-line
    :class:`TfxaiError`) and read again only when used.
    """
    from tfxai.data import load_labelled_images

    images = load_labelled_images(config.data, config.image_size, config.channels).images
    if config.max_images and len(images) > config.max_images:
        images = images[np.random.default_rng(config.seed).permutation(len(images))[: config.max_images]]
    if len(images) < config.batch_size:
        raise TfxaiError(f"{len(images)} images is less than one batch of {config.batch_size}: lower --batch-size or add images")
    return GanImages(images)


def gan_dataset(images, batch_size, seed):
    """Batches of ``images`` (float32 in [-1, 1], or :class:`GanImages`) in an order per epoch (the same after a resume).

    :class:`GanImages` are streamed: only their paths (or uint8 pixels) are
    shuffled, then decoded and scaled in parallel in order, so the batches
    equal those of the float32 array ``np.asarray(images)``.
    """
    import tensorflow as tf

    from tfxai.data.image_folder import ImageFiles
    from tfxai.training.resume import epoch_shuffle

    source = images.source if isinstance(images, GanImages) else None
    files = source if isinstance(source, ImageFiles) else None
    elements = images if source is None else source if files is None else files.encoded_paths()
    data = epoch_shuffle(tf.data.Dataset.from_tensor_slices(elements), len(images), seed)
    if source is not None:
        read = tf.identity if files is None else files.decode
        data = data.map(lambda element: to_unit_range(read(element)), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return data.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def collapse_sample(real, count, seed=0, max_images=256):
    """The real images :func:`~tfxai.gan.collaborative.collapse.collapse_report` compares ``count`` generated ones with, read alone.

    :func:`~tfxai.gan.collaborative.collapse.mean_pairwise_distance` draws
    ``min(count, len(real), max_images)`` of them with ``default_rng(seed).permutation``;
    the same draw here gives the same report while only those images are read.
    """
    count = min(int(count), len(real), int(max_images))
    if len(real) <= count:
        return np.asarray(real)
    return real[np.random.default_rng(seed).permutation(len(real))[:count]]


def load_scorer(classifier):
    """``(classifier, name)`` for IS/FID, or ``(None, "none")``; a missing or unreadable scorer is a one-line :class:`TfxaiError`."""
    from tfxai.metrics.generative import inception_v3

    if classifier == "none":
        return None, "none"
    if classifier == "demo":
        if not os.path.isfile(DEMO_SCORER):
            raise TfxaiError(f"the demo scorer {DEMO_SCORER} is missing from this installation: reinstall tfxai or pass --scorer none")
        return keras.saving.load_model(DEMO_SCORER, compile=False), DEMO_SCORER_NAME
    if classifier == "inceptionv3":
        return inception_v3("imagenet"), "InceptionV3 (ImageNet)"
    if classifier.lower().endswith((".h5", ".hdf5")) and "inception" in os.path.basename(classifier).lower():
        return inception_v3(classifier), f"InceptionV3 ({os.path.basename(classifier)})"
    from tfxai.io import load_model

    model, _ = load_model(classifier)
    return model, f"own classifier {os.path.basename(os.path.normpath(classifier))} (not comparable with InceptionV3 scores)"


def score_generators(model, classifier, real, count, seed=0, splits=10):
    """``{"is": [...], "is_std": [...], "fid": [...]}`` per generator, ``count`` images each, under ``classifier``.

    The Inception Score is averaged over ``splits`` parts of the images (one part when there are
    fewer than five images per part); FID compares with up to ``count`` real images.
    """
    from tfxai.metrics.generative import frechet_distance, inception_score, penultimate_features

    fakes = model.sample(count, seed=seed)
    features = penultimate_features(classifier)
    reference = real[np.random.default_rng(seed).permutation(len(real))[:count]]
    scores = {"is": [], "is_std": [], "fid": []}
    for images in fakes:
        mean, std = inception_score(images, classifier, splits=splits if count >= 5 * splits else 1)
        scores["is"].append(mean)
        scores["is_std"].append(std)
        scores["fid"].append(frechet_distance(reference, images, features))
    return scores


def train_graph(config, graph, images, verbose=0, callbacks=(), backup=None):
    """A :class:`CollaborativeGAN` with ``graph`` trained on ``images`` for ``config.epochs``; returns ``(model, history)``.

    ``images`` are float32 in [-1, 1] or :class:`GanImages` (streamed, :func:`gan_dataset`).

    Fits through :func:`tfxai.training.fit.fit`: a NaN or infinite ``d_loss`` or
    ``g_loss`` stops training with a :class:`TfxaiError` naming it. With ``backup``
    (a folder) the training state is backed up every epoch and a rerun after an
    interruption resumes from it.
    """
    from tfxai.gan.collaborative.model import CollaborativeGAN
    from tfxai.training.fit import fit

    seed_everything(config.seed)  # the same weights bit for bit for the same --seed
    steps = len(images) // config.batch_size
    model = CollaborativeGAN(config.generators, graph, config.latent_dim, config.image_size, config.channels, config.filters,
                             config.spectral_norm, config.transfer_weight, total_steps=steps * config.epochs, seed=config.seed)
    model.compile(keras.optimizers.Adam(config.learning_rate, beta_1=0.5), keras.optimizers.Adam(config.learning_rate, beta_1=0.5))
    data = gan_dataset(images, config.batch_size, config.seed)  # the same order after a resume
    history = fit(model, data, None, config.epochs, callbacks=callbacks, verbose=verbose, backup=backup, options=config.to_dict())
    return model, history


def sample_grid(images, columns=8):
    """Images in [-1, 1] (n, H, W, C) tiled into one uint8 grid (RGB or grey), rows filled left to right."""
    count, height, width, channels = images.shape
    rows = -(-count // columns)
    grid = np.zeros((rows * height, columns * width, channels), np.uint8)
    for i, image in enumerate(np.clip((images + 1.0) * 127.5, 0, 255).astype(np.uint8)):
        r, c = divmod(i, columns)
        grid[r * height:(r + 1) * height, c * width:(c + 1) * width] = image
    return grid if channels == 3 else grid[..., 0]


def train_collab_gan(config, verbose=2, log=print, warn=None) -> RunResult:
    """Train one graph (``config.graph``) and write the run folder at ``config.out``; returns a
    :class:`~tfxai.training.RunResult` (the IS/FID scores and the collapse measure in ``metrics``).

    ``warn`` (default ``log``) receives the one-line warning when a generator collapsed.
    """
    import cv2

    from tfxai.training.fit import history_csv
    from tfxai.training.distribute import current_strategy
    from tfxai.io import atomic_path, check_output_folder, staged_directory, write_image, write_json, write_text
    from tfxai.training.resume import backup_folder, remove_backup
    from tfxai.gan.collaborative.collapse import collapse_report, collapse_warning

    check_output_folder(config.out, config.overwrite)
    graph = load_graph(config.graph, config.generators)
    classifier, scorer = load_scorer(config.scorer)
    images = load_gan_images(config)
    log(f"training {config.generators} generator(s) on {len(images)} images of {config.image_size} px, graph {config.graph}")
    model, history = train_graph(config, graph, images, verbose=verbose, backup=backup_folder(config.out))
    scores = {}
    if classifier is not None:
        scores = {**score_generators(model, classifier, images, config.score_images, config.seed, config.score_splits), "scored_with": scorer}
    samples = model.sample(256, seed=config.seed)
    scores.update(collapse_report(samples, collapse_sample(images, samples.shape[1], config.seed), seed=config.seed))
    warning = collapse_warning(scores)
    if warning:
        (warn or log)(warning)
    with staged_directory(config.out, overwrite=config.overwrite) as staging:
        for i, generator in enumerate(model.generators):
            with atomic_path(os.path.join(staging, f"generator_{i + 1}.keras")) as tmp:
                generator.save(tmp)
        with atomic_path(os.path.join(staging, "model.keras")) as tmp:
            model.save(tmp)
        write_text(os.path.join(staging, "graph.json"), graph.to_json())
        write_text(os.path.join(staging, "history.csv"), history_csv(history.history))
        final = {key: float(values[-1]) for key, values in history.history.items()}
        write_json(os.path.join(staging, "metrics.json"), {"config": config.to_dict(), "final": final, "epochs_run": len(history.epoch),
                                                            "images": len(images),
                                                            "scored_with": scorer, "dtype_policy": keras.config.dtype_policy().name,
                                                            **current_strategy(), **scores})
        for i, generated in enumerate(samples[:, :64]):
            grid = sample_grid(generated)
            write_image(os.path.join(staging, "samples", f"generator_{i + 1}.png"), grid if grid.ndim == 2 else cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
    remove_backup(config.out)
    return run_result(model, history, config, config.out, metrics=scores, legacy=(model, history, scores))
