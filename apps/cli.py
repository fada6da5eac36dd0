"""The ``tfxai`` console command.

Sub-commands are imported only when they run, so ``tfxai --help`` is fast and
one broken app cannot break the others. To add an app, write a module with a
click command named ``command`` and add one line to the table below.
"""

import functools
import importlib
import importlib.util
import io
import re

import click

from tfxai import _runtime
from tfxai.errors import raised_inside
from tfxai.apps.common import INTERRUPTED, QUIET_HELP, ctrl_c_ends_the_process, final_line_only, interrupt_message, interrupt_received, record_output

# (group path, command name) -> "module:attribute"
COMMANDS = {
    ("train", "classifier"): "tfxai.apps.train_classifier:command",
    ("train", "abn"): "tfxai.apps.train_abn:command",
    ("train", "gain"): "tfxai.apps.train_gain:command",
    ("train", "signal"): "tfxai.apps.train_signal:command",
    ("train", "mixed"): "tfxai.apps.train_mixed:command",
    ("train", "collab-gan"): "tfxai.apps.collab_gan:train_command",
    ("search", "gates"): "tfxai.apps.collab_gan:search_command",
    ("train", "video"): "tfxai.apps.train_video:command",
    ("train", "stargan"): "tfxai.apps.train_stargan:command",
    ("tta",): "tfxai.apps.tta:command",
    ("explain",): "tfxai.apps.explain:command",
    ("explain", "video"): "tfxai.apps.explain_video:command",
    ("export",): "tfxai.apps.export:command",
    ("demo",): "tfxai.apps.demo:command",
    ("generate",): "tfxai.apps.generate:command",
    ("evaluate", "attention"): "tfxai.apps.evaluate_attention:command",
    ("attention", "export-maps"): "tfxai.apps.attention_maps:export_command",
    ("attention", "edit"): "tfxai.apps.attention_maps:edit_command",
    ("annotate", "label"): "tfxai.apps.annotate:label_command",
    ("annotate", "pretrain"): "tfxai.apps.annotate:pretrain_command",
    ("annotate", "track"): "tfxai.apps.annotate:track_command",
    ("annotate", "review"): "tfxai.apps.annotate:review_command",
    ("annotate", "export"): "tfxai.apps.annotate:export_command",
    ("annotate", "train"): "tfxai.apps.annotate:train_command",
    ("studio",): "tfxai.apps.studio:command",
}

# Apps that save as they go: what an interrupted run leaves in its output folder (the others write it only when they finish).
KEEPS_PROGRESS = {
    ("search", "gates"): "the finished trials",
    ("annotate", "track"): "the frames tracked so far",
    ("annotate", "label"): "the labels saved so far",
    ("annotate", "review"): "the changes saved so far",
}
OUTPUT_PARAMETERS = ("out", "output", "folder")

GROUP_HELP = {
    "train": "Train a model (classifier, ABN, GAIN, signal, mixed, video, StarGAN v2, collab-gan).",
    "evaluate": "Evaluate explanations (insertion/deletion).",
    "attention": "Export, edit and import attention maps for human-in-the-loop fine-tuning.",
    "search": "Search the gates of a collaborative GAN's knowledge-transfer graph.",
    "annotate": "Auto-annotate videos: label a few frames, pre-train, track, review, export, train.",
}


def _available(target):
    module_name = target.split(":", 1)[0]
    return importlib.util.find_spec(module_name) is not None


class LazyGroup(click.Group):
    """A click group whose commands are imported on first use."""

    def __init__(self, *args, prefix=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.prefix = tuple(prefix)

    def _children(self):
        """``(commands, groups)``: name -> target of the commands one level down, and the names of the groups."""
        depth = len(self.prefix)
        commands, groups = {}, set()
        for path, target in COMMANDS.items():
            if path[:depth] != self.prefix or len(path) <= depth or not _available(target):
                continue
            if len(path) == depth + 1:
                commands[path[depth]] = target
            else:
                groups.add(path[depth])
        return commands, groups

    def list_commands(self, ctx):
        commands, groups = self._children()
        return sorted(set(super().list_commands(ctx)) | set(commands) | groups)

    def get_command(self, ctx, name):
        command = super().get_command(ctx, name)
        if command is not None:
            return command
        commands, groups = self._children()
        prefix = self.prefix + (name,)
        if name in groups and name in commands:
            return DefaultGroup(name=name, prefix=prefix, default_target=commands[name], help=GROUP_HELP.get(name, ""))
        if name in groups:
            return LazyGroup(name=name, prefix=prefix, help=GROUP_HELP.get(name, ""))
        if name in commands:
            return _load(commands[name])
        return None


class DefaultGroup(LazyGroup):
    """A command that also has sub-commands: ``tfxai explain ARGS`` runs the command itself (also reachable as
    ``tfxai explain images ARGS``), ``tfxai explain video ARGS`` its sub-command."""

    DEFAULT = "images"

    def __init__(self, *args, default_target, **kwargs):
        super().__init__(*args, **kwargs)
        self.default_target = default_target

    def default_command(self):
        """The command run when no sub-command is named."""
        return _load(self.default_target)

    def parse_args(self, ctx, args):
        if not args or args[0] not in self._children()[0] and args[0] not in self._children()[1]:
            args = [self.DEFAULT, *args]
        return super().parse_args(ctx, args)

    def get_command(self, ctx, name):
        return self.default_command() if name == self.DEFAULT else super().get_command(ctx, name)


def _load(target):
    module_name, attribute = target.split(":")
    context = click.get_current_context(silent=True)
    if context is None or not context.find_root().params.get("verbose"):
        _runtime.quiet_tensorflow_logs("3")  # TensorFlow's C++ error lines too: the apps report errors in their own line
        _runtime.import_tensorflow_silently()  # app modules import TensorFlow when they load: hide its start-up logs here
    return _quiet_tensorflow_first(getattr(importlib.import_module(module_name), attribute), _command_path(target))


def _command_path(target):
    return next(path for path, known in COMMANDS.items() if known == target)


def _quiet_tensorflow_first(command, path=()):
    """Make ``command`` import TensorFlow with its C++ start-up logs hidden (unless ``tfxai --verbose``), and take ``--quiet``.

    Every app takes ``--quiet``: its progress lines (:func:`tfxai.apps.common.echo`)
    are held back and only the last one is printed when the app finishes
    (errors are always printed). Apps with their own ``--quiet`` keep it.
    """
    callback = command.callback
    if callback is None or getattr(callback, "quiets_tensorflow", False):
        return command
    own_quiet = any(parameter.name == "quiet" for parameter in command.params)
    if not own_quiet:
        command.params.append(click.Option(["--quiet"], is_flag=True, help=QUIET_HELP))

    @functools.wraps(callback)
    def run(*args, **kwargs):
        if not click.get_current_context().find_root().params.get("verbose") and not getattr(callback, "without_tensorflow", False):
            _runtime.import_tensorflow_silently()  # the studio's commands serve files and start without TensorFlow
        quiet = kwargs.get("quiet") if own_quiet else kwargs.pop("quiet", False)
        record_output(next((kwargs[name] for name in OUTPUT_PARAMETERS if kwargs.get(name) is not None), None), KEEPS_PROGRESS.get(path),
                      trains=path[:1] == ("train",))
        with final_line_only(quiet):
            return callback(*args, **kwargs)

    run.quiets_tensorflow = True
    command.callback = run
    return command


class RootGroup(LazyGroup):
    """The ``tfxai`` group: every failure of an app ends in one line and a shell-conventional exit status.

    Errors read ``error: ...`` (click's usage errors too) with exit status 2;
    Ctrl-C ends with status 130 and a line saying what was written and what is
    kept (:func:`tfxai.apps.common.interrupt_message`).
    """

    def __call__(self, *args, **kwargs):
        """The process entry (the ``tfxai`` command; click's test runner calls :meth:`main` and skips this).

        An interrupted app ends the process with ``os._exit(130)`` once its
        message is printed (:func:`tfxai.apps.common.ctrl_c_ends_the_process`):
        no interpreter teardown while TensorFlow's threads still run.
        """
        with ctrl_c_ends_the_process():
            return super().__call__(*args, **kwargs)

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.exceptions.ClickException as error:
            raise _lowercase(error)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except click.exceptions.ClickException as error:
            raise _lowercase(error)
        except (click.exceptions.Exit, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("\n" + interrupt_message(ctx.meta), err=True)
            ctx.exit(INTERRUPTED)
        except Exception as error:  # an app's bug or a library's failure: one line, the traceback on request
            if interrupt_received():  # Ctrl-C surfaced through C code as another error: still an interruption
                click.echo("\n" + interrupt_message(ctx.meta), err=True)
                ctx.exit(INTERRUPTED)
            inner = raised_inside(error)  # a TfxaiError raised inside a tf.data map, wrapped by TensorFlow
            if inner is not None:
                click.echo(f"error: {inner}", err=True)
                ctx.exit(2)
            if ctx.params.get("verbose"):
                raise
            click.echo(f"error: {describe_unexpected(error)} (run 'tfxai --verbose ...' for the traceback)", err=True)
            ctx.exit(2)


def _lowercase(error):
    """``error`` (a click exception) shown as ``error: ...`` like every other error of the apps, not click's ``Error: ...``."""
    show = error.show

    def lowercase_show(file=None):
        text = io.StringIO()
        show(file=text)
        click.echo(re.sub(r"^Error: ", "error: ", text.getvalue(), flags=re.MULTILINE), file=file, err=file is None, nl=False)

    error.show = lowercase_show
    return error


def describe_unexpected(error, limit=300):
    """One line naming an unexpected exception: its type and the first line of its message."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    message = lines[0] if lines else "no message"
    if len(message) > limit:
        message = message[: limit - 3] + "..."
    return f"{type(error).__name__}: {message}"


@click.group(cls=RootGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--verbose", is_flag=True, help="Show TensorFlow's start-up logs and the traceback of unexpected errors.")
@click.version_option(package_name="tfxai")
def main(verbose):
    """tfxai: explain Keras image, video and signal models, and train them with their attention."""
    from tfxai.apps.common import show_library_notes

    _quiet_opencv()
    show_library_notes()


def _quiet_opencv():
    """The apps report unreadable images in one line of their own; OpenCV's decoder logs would add more."""
    try:
        import cv2

        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    except (ImportError, AttributeError):
        pass


if __name__ == "__main__":
    main()
