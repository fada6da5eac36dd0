"""The ``tfxai`` console command.

Sub-commands are imported only when they run, so ``tfxai --help`` is fast and
one broken app cannot break the others. To add an app, write a module with a
click command named ``command`` and add one line to the table below.
"""

import functools
import importlib
import importlib.util

import click

from tfxai import _runtime
from tfxai.apps.common import QUIET_HELP, final_line_only

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
    return _quiet_tensorflow_first(getattr(importlib.import_module(module_name), attribute))


def _quiet_tensorflow_first(command):
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
        if not click.get_current_context().find_root().params.get("verbose"):
            _runtime.import_tensorflow_silently()
        quiet = kwargs.get("quiet") if own_quiet else kwargs.pop("quiet", False)
        with final_line_only(quiet):
            return callback(*args, **kwargs)

    run.quiets_tensorflow = True
    command.callback = run
    return command


class RootGroup(LazyGroup):
    """The ``tfxai`` group: every failure of an app ends in one line and a shell-conventional exit status."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            # outputs are staged (tfxai.io.staged_directory): an interrupted app leaves nothing behind
            click.echo("\ninterrupted: nothing was written", err=True)
            ctx.exit(130)
        except Exception as error:  # an app's bug or a library's failure: one line, the traceback on request
            if ctx.params.get("verbose"):
                raise
            click.echo(f"error: {describe_unexpected(error)} (run 'tfxai --verbose ...' for the traceback)", err=True)
            ctx.exit(2)


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
