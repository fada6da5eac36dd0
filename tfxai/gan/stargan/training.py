""#: What the presets are (``--preset``'s help).
TRAINSTARGAN_PRESET_HELP = "small: 1/8 width, 1000 iterations (2 CPU cores); thesis: official width and 100k iterations."


"What the apps ``tfxai train stargan`` and ``tfxai tta`` run: configs and their training / evaluation."""

import dataclasses
from typing import Optional
import os

import numpy as np

from tfxai.training.determinism import seed_everything
from tfxai.errors import TfxaiError
from tfxai.gan.stargan.presets import STARGAN_PRESETS
from tfxai.training.config import ConfigError, RunOptions, TaskOptions, option
from tfxai.io import load_model, staged_directory, write_json, write_text
from tfxai.training.result import RunResult, run_result

__all__ = ["STARGAN_PRESETS", "TTAConfig", "TrainStarGANConfig", "load_translator", "run_train_stargan", "run_tta", "trained_iterations",
           "train_translator"]

@dataclasses.dataclass
class TrainStarGANConfig(RunOptions, presets=STARGAN_PRESETS, paper_preset="thesis", preset_help=TRAINSTARGAN_PRESET_HELP):
    """Options of ``tfxai train stargan``; defaults: the ``thesis`` preset (:mod:`tfxai.gan.stargan.presets`).

    The run's length is ``iterations`` (2 D + 2 G updates each), backed up
    every ``epoch_iterations``: ``epochs`` and ``learning_rate`` of the run
    options are unused (the model keeps StarGAN v2's own optimizer settings).
    """

    source: str = option("", "Source-domain folder (one sub-folder per class; required for --class-aware).", required=True)
    target: str = option("", "Target-domain folder (class sub-folders or images; labels are not used).", required=True)
    out: str = option("saved_models/stargan", "Output folder (written only when training finishes).")
    class_aware: bool = option(False, "Add the class classifier on the generator encoder (L_task, L_sem; Imaeda).")
    image_size: int = option(32, "Side of the images in pixels, a power of two.", minimum=16, maximum=1024)
    batch_size: int = option(8, "Images per batch, even: half source, half target.", minimum=2)
    iterations: int = option(100000, "Training iterations (2 D + 2 G updates each).", minimum=1)
    epochs: int = option(1, hidden=True)  # unused: the run is counted in iterations
    learning_rate: float = option(1e-4, hidden=True)  # unused: StarGAN v2's own optimizer settings
    export: bool = option(True, "Do not write the translator SavedModel.", flag="--no-export")
    width: str = "official"  # network width ("official", "small"; "tiny" for tests)
    epoch_iterations: int = option(100, "Iterations per epoch: the training state is backed up into <out>.backup after each.", minimum=1)

    def validate(self):
        super().validate()
        if self.batch_size % 2:
            raise ConfigError("batch_size", f"batch_size must be even (half source, half target), got {self.batch_size}")
        return self


#: What a NaN error advises (the app has no --learning-rate: StarGAN v2 keeps the official rates).
ADVICE = "check the images for bad values, or try another --seed or a larger --batch-size"


def build_stargan(config, num_classes):
    from tfxai.gan.stargan.model import StarGANv2

    model = StarGANv2(config.image_size, 2, class_aware=config.class_aware, num_classes=num_classes if config.class_aware else None,
                      preset=config.width, diversity_iterations=config.iterations, seed=config.seed)
    model.compile()
    return model


def train_translator(config, source, target, verbose=2, callbacks=(), backup=None, log=print):
    """A :class:`StarGANv2` trained on two :class:`Domain` s for exactly ``config.iterations``; returns ``(model, history)``.

    Fits through :func:`tfxai.training.fit.fit`: epochs of ``config.epoch_iterations``
    iterations, the last one partial when ``iterations`` is not a multiple (so
    ``iterations=150`` trains 150: :func:`trained_iterations`), and a NaN or
    infinite loss term (``d_real``, ``g_cycle``, ...) stops training with a
    :class:`TfxaiError` naming it. With ``backup`` (a folder) the training state
    is backed up after every epoch and a rerun after an interruption resumes from
    it: the endless batch stream is advanced by the iterations already run and
    the latent codes are keyed by the iteration, so the resumed run ends with the
    uninterrupted run's weights.
    """
    from tfxai.gan.stargan.data import two_domain_dataset
    from tfxai.training.fit import fit

    seed_everything(config.seed)  # the same weights bit for bit for the same --seed
    data = two_domain_dataset(source, target, config.batch_size, config.seed)
    num_classes = len(source.class_names) if source.class_names else None
    model = build_stargan(config, num_classes)
    steps = min(config.iterations, config.epoch_iterations)
    log(f"training StarGAN v2 ({'class-aware, ' if config.class_aware else ''}{config.width} width, {model.count_params():,} parameters) "
        f"on {len(source.images)} source and {len(target.images)} target images for {config.iterations} iterations")
    history = fit(model, lambda done: data.skip(done * steps), None, callbacks=callbacks, verbose=verbose, backup=backup,
                  options=dataclasses.asdict(config), steps_per_epoch=steps, iterations=config.iterations,
                  loss_terms=[name for name in model.trackers if name != "diversity_weight"], advice=ADVICE)
    return model, history


def trained_iterations(model):
    """The iterations ``model`` (a :class:`StarGANv2`) has trained: its mapping network's optimizer steps (one per iteration)."""
    return int(model.optimizers["mapping"].iterations.numpy())


def run_train_stargan(config, verbose=2, log=print) -> RunResult:
    """Train a (class-aware) StarGAN v2 from two domain folders and write the run folder.

    ``config.json`` holds the options and ``iterations_run`` / ``epochs_run``, what was trained.
    A NaN or infinite loss is a :class:`TfxaiError` and writes nothing.
    """
    import keras

    from tfxai.training.fit import history_csv
    from tfxai.training.distribute import current_strategy
    from tfxai.gan.stargan.data import load_domain
    from tfxai.gan.stargan.export import export_translator
    from tfxai.gan.stargan.figures import write_translation_grid
    from tfxai.io import check_output_folder
    from tfxai.training.resume import backup_folder, remove_backup

    check_output_folder(config.out, config.overwrite)
    source = load_domain(config.source, config.image_size, require_labels=config.class_aware)
    target = load_domain(config.target, config.image_size)
    model, history = train_translator(config, source, target, verbose, backup=backup_folder(config.out), log=log)
    with staged_directory(config.out, config.overwrite) as folder:
        model.save(os.path.join(folder, "stargan.keras"))
        if config.export:
            export_translator(model, os.path.join(folder, "translator"))
        write_translation_grid(os.path.join(folder, "grid_target_to_source.png"), model, target.images[:6], 0)
        write_translation_grid(os.path.join(folder, "grid_source_to_target.png"), model, source.images[:6], 1)
        write_text(os.path.join(folder, "history.csv"), history_csv(history.history))
        write_json(os.path.join(folder, "config.json"), {**dataclasses.asdict(config), "iterations_run": trained_iterations(model),
                                                             "epochs_run": len(history.epoch),
                                                             "dtype_policy": keras.config.dtype_policy().name, **current_strategy()})
        if source.class_names:
            write_json(os.path.join(folder, "class_names.json"), source.class_names)
    remove_backup(config.out)
    return run_result(model, history, config, config.out, class_names=source.class_names or (), legacy=(model, history))


def load_translator(path):
    """A trained :class:`StarGANv2`: a ``.keras`` file or a folder with ``stargan.keras``."""
    from tfxai.gan.stargan.model import StarGANv2

    file = os.path.join(path, "stargan.keras") if os.path.isdir(path) else path
    if not os.path.isfile(file):
        raise TfxaiError(f"no StarGAN v2 model at {path}: pass a .keras file or a folder written by 'tfxai train stargan'")
    model, _ = load_model(file)  # safe mode: a Lambda layer is refused naming --unsafe-deserialization
    if not isinstance(model, StarGANv2):
        raise TfxaiError(f"{file} holds a {type(model).__name__}, not a StarGAN v2 translator: pass the model 'tfxai train stargan' wrote")
    return model


@dataclasses.dataclass(kw_only=True)
class TTAConfig(TaskOptions):
    """Options of ``tfxai tta`` (``out`` None: report the accuracies, write nothing)."""

    classifier: str
    translator: str
    data: str
    n: int = 10
    out: Optional[str] = None
    batch_size: int = 64


def run_tta(config, log=print, progress=None):
    """Accuracy of the classifier on the labelled target folder with N = 0, 1 and ``config.n`` styles.

    The images are read a batch at a time (decoded ahead in threads) and only
    the correct predictions are counted, so memory does not grow with the
    folder. N = 0 and 1 share a pass; N > 1 makes a second pass, so the random
    styles are drawn in the same order (and give the same accuracies) as when
    every image was held in memory. ``progress(total, initial)``: a tqdm-like bar, or None.
    """
    import tensorflow as tf

    from tfxai.classify.classifier import load_classifier
    from tfxai.explain.streaming import chunks_ahead, note_conversions
    from tfxai.gan.stargan.data import scan_domain
    from tfxai.gan.stargan.export import export_tta
    from tfxai.gan.stargan.tta import StyleTTA

    if config.n < 1:
        raise TfxaiError(f"--n must be >= 1 (got {config.n}): N = 0 (no translation) is always reported")
    if config.out:
        from tfxai.io import check_output_folder

        check_output_folder(config.out, config.overwrite)
    classifier, class_names = load_classifier(config.classifier)
    translator = load_translator(config.translator)
    paths, labels, data_class_names = scan_domain(config.data)
    if data_class_names is None:
        raise TfxaiError(f"{config.data} has no class sub-folders: accuracy needs labelled images (one sub-folder per class)")
    if len(data_class_names) != len(class_names):
        raise TfxaiError(f"{config.data} has {len(data_class_names)} classes but the classifier has {len(class_names)}: use the classifier's classes")
    size = tuple(classifier.inputs[0].shape[1:3])
    channels = int(classifier.inputs[0].shape[-1])
    adapted = _input_adapter(classifier, size, channels)
    seed_everything(config.seed)  # the same translations for the same --seed
    ns = sorted({0, 1, config.n})
    passes = [ns[:2]] + ([ns[2:]] if len(ns) > 2 else [])
    # the batches of np.array_split(images, max(count // batch_size, 1)): each batch draws its styles in this order
    spans = [(int(part[0]), int(part[-1]) + 1) for part in np.array_split(np.arange(len(paths)), max(len(paths) // config.batch_size, 1))]
    correct, converted = dict.fromkeys(ns, 0), {}
    bar = progress(len(paths) * len(passes), 0) if progress is not None else None
    try:
        for index, group in enumerate(passes):
            models = {n: StyleTTA(adapted, translator.generator_ema, translator.mapping_ema, n=n) for n in group}
            image_size = (translator.image_size, translator.image_size)
            for first, images, changed in chunks_ahead(paths, 0, image_size, 3, None, spans=spans):
                batch = tf.constant(images, tf.float32)
                for n, tta in models.items():
                    correct[n] += int(np.sum(np.argmax(tta(batch), -1) == labels[first:first + len(images)]))
                if index == 0:
                    for channel_count, count in changed.items():
                        converted[channel_count] = converted.get(channel_count, 0) + count
                if bar is not None:
                    bar.update(len(images))
    finally:
        if bar is not None:
            bar.close()
    note_conversions(converted, 3)
    results = {}
    for n in ns:
        results[f"accuracy_n{n}"] = correct[n] / len(paths)
        log(f"N = {n:>3}: accuracy {results[f'accuracy_n{n}']:.4f} on {len(paths)} images")
    if config.out:
        with staged_directory(config.out, config.overwrite) as folder:
            write_json(os.path.join(folder, "results.json"), results)
            export_tta(StyleTTA(adapted, translator.generator_ema, translator.mapping_ema, n=config.n),
                       os.path.join(folder, "tta_classifier"), (translator.image_size, translator.image_size, 3))
    return results


def _input_adapter(classifier, size, channels):
    """The classifier behind a resize / grey conversion from the translator's RGB images."""
    import keras

    inputs = keras.Input((None, None, 3))
    x = keras.layers.Resizing(*size)(inputs)
    if channels == 1:
        x = keras.layers.Lambda(lambda t: keras.ops.mean(t, axis=-1, keepdims=True))(x)
    return keras.Model(inputs, classifier(x))
