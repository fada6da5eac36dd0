"""Shared pieces of the apps: error reporting, Ctrl-C, ``--quiet`` and small option types."""

import contextlib
import functools
import json
import logging
import os
import shutil
import signal
import sys
import warnings

import click

from tfxai.errors import TfxaiError, raised_inside


def reports_errors(function):
    """Turn :class:`TfxaiError` (and missing files) into ``error: ...`` on stderr and exit status 2."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except TfxaiError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(2)
        except FileNotFoundError as error:
            click.echo(f"error: file not found: {error.filename or error}: check the path", err=True)
            sys.exit(2)
        except Exception as error:  # a TfxaiError raised inside a tf.data map arrives wrapped in TensorFlow's error
            inner = raised_inside(error)
            if inner is None:
                raise
            click.echo(f"error: {inner}", err=True)
            sys.exit(2)

    return wrapper


QUIET_HELP = "Print only the final line and errors (default: every progress line)."


def echo(message):
    """Print a progress line to stderr (stdout stays clean for results); under ``--quiet`` only the last one, at the end.

    A line held by :func:`first_line` is printed before the first progress line (never before an error alone).
    """
    context = click.get_current_context(silent=True)
    first = context.meta.pop("tfxai.first_line", None) if context is not None else None
    if first is not None:  # the run's first line (the preset it uses), held back until the run makes progress
        echo(first)
    if context is not None and context.meta.get("tfxai.quiet"):
        context.meta["tfxai.last_line"] = message
        return
    click.echo(message, err=True)


def first_line(message):
    """Hold ``message`` back as the run's first line: :func:`echo` prints it before the first progress line, so an
    input error still ends in one line."""
    context = click.get_current_context(silent=True)
    if context is None:
        click.echo(message, err=True)
    else:
        context.meta["tfxai.first_line"] = message


@contextlib.contextmanager
def final_line_only(quiet):
    """While active with ``quiet``, :func:`echo` holds lines back; the last one is printed on success (the one progress display of ``--quiet``).

    Keras' own progress bars (``predict`` inside tf-keras-vis' Score-CAM,
    ``fit`` with verbose > 0) and Python warnings are silenced meanwhile too:
    ``--quiet`` prints the final line and errors, nothing else.
    """
    context = click.get_current_context()
    context.meta["tfxai.quiet"] = bool(quiet)
    context.meta.pop("tfxai.last_line", None)
    try:
        with _keras_progress_off(quiet), _python_logs_off(quiet), warnings.catch_warnings():
            if quiet:
                warnings.simplefilter("ignore")
            yield
    finally:
        context.meta["tfxai.quiet"] = False
    last = context.meta.pop("tfxai.last_line", None)
    if quiet and last is not None:
        click.echo(last, err=True)


#: Seconds a bar with ``delay=None`` waits before it appears (runs shorter than that print none).
SHORT_RUN_SECONDS = 2.0


def progress_bar(total, initial=0, desc=None, unit="image", minimum=0, delay=0.0):
    """A tqdm bar on stderr (rate and time left), or None under ``--quiet`` or when at most ``minimum`` items are left to do.

    ``delay``: seconds before the bar appears (None: :data:`SHORT_RUN_SECONDS`).
    """
    from tqdm import tqdm

    context = click.get_current_context(silent=True)
    if (context is not None and context.meta.get("tfxai.quiet")) or total - initial <= minimum:
        return None
    return tqdm(total=total, initial=initial, unit=unit, desc=desc, file=sys.stderr, dynamic_ncols=True, leave=False,
                delay=SHORT_RUN_SECONDS if delay is None else delay)


def progress_callback(desc, unit="image"):
    """A ``progress(done, total)`` callback (the library's generation loops call it) drawing a :func:`progress_bar`.

    The bar is made at the first call (when the total is known) and closed when ``done`` reaches it; none under ``--quiet``.
    """
    bars = []

    def progress(done, total):
        if not bars:
            bars.append(progress_bar(total, desc=desc, unit=unit))
        bar = bars[0]
        if bar is not None and not bar.disable:
            bar.update(done - bar.n)
            if done >= total:
                bar.close()

    return progress


@contextlib.contextmanager
def _python_logs_off(quiet, loggers=("tensorflow", "absl", "keras")):
    """TensorFlow's and Keras' Python log warnings (tf.function retracing notes, ...) hidden while active with ``quiet``."""
    saved = {name: logging.getLogger(name).level for name in loggers} if quiet else {}
    for name in saved:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


@contextlib.contextmanager
def _keras_progress_off(quiet):
    """Keras' interactive logging (its progress bars on stdout) off while active with ``quiet``; restored afterwards."""
    if not quiet:
        yield
        return
    import keras

    was_on = keras.config.is_interactive_logging_enabled()
    keras.config.disable_interactive_logging()
    try:
        yield
    finally:
        if was_on:
            keras.config.enable_interactive_logging()


# === Ctrl-C ===

INTERRUPTED = 130  # the shell's exit status of a process ended by SIGINT
_SIGINTS_RECEIVED = []  # appended to by :func:`ctrl_c_ends_the_process`'s handler


def interrupt_received():
    """True once Ctrl-C reached this process (under :func:`ctrl_c_ends_the_process`).

    A ``KeyboardInterrupt`` raised inside a C extension's callback can surface as
    another exception (CPython's ``SystemError: ... bad argument to internal
    function``, a TensorFlow error); the ``tfxai`` group asks this before calling
    such an error a failure, so an interrupted run still ends as interrupted (130).
    """
    return bool(_SIGINTS_RECEIVED)


def record_output(folder, keeps=None, trains=False):
    """Remember the running app's output ``folder`` (and how it looks now) for :func:`interrupt_message`.

    ``keeps`` names what an interrupted run of this app leaves in ``folder``
    (for apps that save as they go, e.g. "the frames tracked so far"); None:
    the app writes ``folder`` only when it finishes (:func:`tfxai.io.staged_directory`).
    ``trains``: the app backs its training up every epoch (``<folder>.backup``).
    """
    context = click.get_current_context()
    context.meta["tfxai.out"] = None if folder is None else os.fspath(folder)
    context.meta["tfxai.out_before"] = _signature(folder)
    context.meta["tfxai.keeps"] = keeps
    context.meta["tfxai.trains"] = trains


def _signature(folder):
    try:
        status = os.stat(folder)
    except (OSError, TypeError):
        return None
    return status.st_ino, status.st_mtime_ns


def _backup_folder(out):
    """``(backup folder, state file name)`` of a training run writing ``out`` (:mod:`tfxai.training.resume`)."""
    from tfxai.training.resume import STATE_FILE, backup_folder  # loaded with the training app: no TensorFlow start on the way out

    return backup_folder(out), STATE_FILE


def interrupt_message(meta):
    """The one line an interrupted app prints: what was written, what is kept and how to resume (``meta``: the click context's)."""
    if "tfxai.out" not in meta:  # before the app's options were taken (TensorFlow starting): it has not begun
        return "interrupted while starting: nothing was written"
    out = meta["tfxai.out"]
    if out is None:
        return "interrupted: nothing was written"
    if meta.get("tfxai.keeps"):
        return f"interrupted: {meta['tfxai.keeps']} are kept in {out} (run the same command to continue)"
    if _signature(out) != meta.get("tfxai.out_before"):  # interrupted after the finished folder was moved into place
        return f"interrupted: {out} was already written and is complete"
    if not meta.get("tfxai.trains"):
        return f"interrupted: nothing was written to {out}"
    backup = _backup_folder(out)
    if not os.path.isdir(backup[0]):
        return f"interrupted: nothing was written to {out}; no epoch had finished, so no training state was kept"
    try:
        with open(os.path.join(*backup), encoding="utf-8") as handle:
            epoch = int(json.load(handle)["epoch"])
    except (OSError, ValueError, KeyError, TypeError):  # stopped while backing up the first epoch: nothing usable
        shutil.rmtree(backup[0], ignore_errors=True)
        return f"interrupted: nothing was written to {out}; no epoch had finished, so no training state was kept"
    return (f"interrupted: nothing was written to {out}; the training state after epoch {epoch} is kept in {backup[0]} "
            "(run the same command to resume from there, or delete that folder to start afresh)")


def end_process(message=None, status=INTERRUPTED):
    """Print ``message`` (if any) on stderr, flush, and end the process at once with ``status``.

    ``os._exit`` skips the interpreter's shutdown: TensorFlow's C++ threads
    (tf.data prefetch, the inter-op pool) may still be running after an
    interrupted ``fit``, and tearing the interpreter and TensorFlow's static
    objects down under them can corrupt the heap ("free(): invalid next size",
    SIGABRT).
    """
    if message is not None:
        with contextlib.suppress(Exception):
            click.echo(message, err=True)
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(status)


@contextlib.contextmanager
def ctrl_c_ends_the_process():
    """Ctrl-C handling of the ``tfxai`` process.

    The first Ctrl-C raises ``KeyboardInterrupt``: the app unwinds (its
    ``finally`` blocks remove staging folders), the ``tfxai`` group prints
    :func:`interrupt_message` and exits with 130, which ends the process here
    through :func:`end_process`. A second Ctrl-C during the unwinding ends it
    at once. SIGINT is left alone when it is not Python's default handler
    (ignored in a background job, or the caller's own).
    """
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    interrupted = _SIGINTS_RECEIVED
    interrupted.clear()

    def on_interrupt(signum, frame):
        interrupted.append(signum)
        signal.signal(signal.SIGINT, again)
        raise KeyboardInterrupt

    def again(signum, frame):
        context = click.get_current_context(silent=True)
        end_process("\n" + interrupt_message(context.meta if context is not None else {}))

    signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield
    except SystemExit as done:
        if interrupted and done.code == INTERRUPTED:
            end_process()
        raise
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


class _EchoHandler(logging.Handler):
    """Print the library's one-line notes (``tfxai`` logger, INFO and up) on stderr, like the apps' own progress lines."""

    def emit(self, record):
        echo(record.getMessage())


def show_library_notes():
    """Route the ``tfxai`` logger (e.g. :func:`tfxai.data.to_model_channels`' channel note) to stderr, once."""
    logger = logging.getLogger("tfxai")
    if not any(isinstance(handler, _EchoHandler) for handler in logger.handlers):
        logger.addHandler(_EchoHandler())
    logger.setLevel(logging.INFO)
    logger.propagate = False


def early_stopping_option(function):
    """``--early-stopping PATIENCE``: stop when validation accuracy has not improved for PATIENCE epochs, keep the best weights."""
    return click.option(
        "--early-stopping", type=click.IntRange(0, 100000), default=None, metavar="PATIENCE",
        help="Stop when validation accuracy has not improved for PATIENCE epochs and restore the best epoch's weights (0: off).",
    )(function)


def augment_option(default, default_help):
    """``--augment none|shift|flip|flip+shift``: the random changes training images get, one vocabulary for every training app.

    ``default`` is the click default (None: the preset's), ``default_help``
    says what it is in ``--help``. The choices are :data:`tfxai.training.augmentation.AUGMENTATIONS`.
    """
    from tfxai.training.augmentation import AUGMENTATIONS

    return click.option(
        "--augment", type=click.Choice(AUGMENTATIONS), default=default,
        help="Random changes of training images (and their maps): none, shift (shifts and crops), flip (left-right mirror) "
        f"or flip+shift. Default: {default_help}. Never flips by default: a mirrored digit or letter can be another class; "
        "choose flip only for classes that survive a mirror. metrics.json records the choice.",
    )


def _as_int(context, parameter, value):
    return None if value is None else int(value)


def unsafe_deserialization_option(function):
    """``--unsafe-deserialization``: load models holding Python code (``Lambda`` layers) during this command; off: such
    files are refused (safe mode). Keras' setting is restored when the command returns (:func:`tfxai.io.unsafe_deserialization`)."""

    @click.option(
        "--unsafe-deserialization", is_flag=True,
        help="Load model files holding Python code (Lambda layers), which runs on loading: only for files you trust "
        "(default: refused, Keras safe mode).",
    )
    @functools.wraps(function)
    def wrapper(*args, unsafe_deserialization, **kwargs):
        from tfxai.io import unsafe_deserialization as allowed

        with allowed(unsafe_deserialization):
            return function(*args, **kwargs)

    return wrapper


def quiet_option(function):
    """``--quiet``: only the final line (and errors); otherwise one progress line per epoch."""
    return click.option("--quiet", is_flag=True, help="Print only the final line and errors (default: one line per epoch).")(function)


def progress_settings(quiet):
    """``(keras_verbose, log)`` of an app: one line per epoch (Keras' verbose=2) and echo, or nothing."""
    return (0, lambda message: None) if quiet else (2, echo)


def run_training_app(config, train, quiet=False):
    """Run ``train(config)`` (a built config, :func:`tfxai.apps.options.config_options`) and print the final accuracy."""
    verbose, log = progress_settings(quiet)
    result = train(config, verbose=verbose, log=log)
    from tfxai.training import kept_epoch

    class_names, history = result.class_names, result.history
    epochs_run = len(history["loss"])
    kept = kept_epoch(history, config)
    accuracy = history.get("val_accuracy", history.get("accuracy"))[kept]
    stopped = f"early stopping after {epochs_run} epochs, " if epochs_run < config.epochs else ""
    if config.early_stopping:
        echo(f"done: {len(class_names)} classes, accuracy {accuracy:.3f} ({stopped}weights of epoch {kept + 1} kept); wrote {config.out}")
    else:
        echo(f"done: {len(class_names)} classes, final accuracy {accuracy:.3f}; wrote {config.out}")
    return result


STRATEGY_HELP = ("default: one device; mirrored: all local GPUs/CPU devices; multiworker: several machines, "
                 "each running the same command with TF_CONFIG naming the cluster and its task (README: 'Training on several machines').")
OUTPUT_OPTIONS = ("out", "output")


def strategy_option(function):
    """``--strategy default|mirrored|multiworker``: run the app (model building, compiling, fit) inside ``strategy.scope()``.

    Goes between the click options and :func:`reports_errors`. With several
    workers only the chief writes the run folder (``--out``/``--output``);
    the others write to a temporary folder.
    """

    @click.option("--strategy", type=click.Choice(["default", "mirrored", "multiworker"]), default="default",
                  show_default=True, help=STRATEGY_HELP)
    @functools.wraps(function)
    @reports_errors
    def wrapper(*args, strategy, **kwargs):
        from tfxai.training.distribute import make_strategy, worker_directory

        chosen = make_strategy(strategy)
        for name in OUTPUT_OPTIONS:
            if kwargs.get(name) is not None:
                kwargs[name] = worker_directory(kwargs[name], chosen)
        if kwargs.get("config") is not None:  # built by tfxai.apps.options.config_options
            kwargs["config"].out = worker_directory(kwargs["config"].out, chosen)
        with chosen.scope():
            return function(*args, **kwargs)

    return wrapper


MIXED_PRECISION_HELP = (
    "Compute in 16-bit floats, keep weights, heads and losses in float32: bfloat16 (mixed_bfloat16), float16 "
    "(mixed_float16 with loss scaling; GPUs), auto (float16 with a GPU, else bfloat16) or off. On this project's CPUs "
    "without oneDNN 16-bit training is several times slower than off (README: 'Mixed precision'). metrics.json records the policy."
)


def mixed_precision_option(function):
    """``--mixed-precision off|auto|bfloat16|float16``: run the app under that Keras dtype policy (:func:`tfxai.training.precision.mixed_precision`).

    The policy is set before anything is built and the previous one restored
    when the app returns. Goes between the click options and :func:`reports_errors`.
    """

    @click.option("--mixed-precision", type=click.Choice(["off", "auto", "bfloat16", "float16"]), default="off",
                  show_default=True, help=MIXED_PRECISION_HELP)
    @functools.wraps(function)
    @reports_errors
    def wrapper(*args, mixed_precision, **kwargs):
        from tfxai.training.precision import mixed_precision as policy

        with policy(mixed_precision):
            return function(*args, **kwargs)

    return wrapper


