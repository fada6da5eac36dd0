"""The one options builder: click options generated from a config's fields, the config built from them.

Every training app decorates its command with :func:`config_options`: each
:func:`tfxai.training.config.option` field of the config becomes a flag
(``batch_size`` -> ``--batch-size``) with the field's help, choices and
defaults (shown per preset), plus ``--preset``. Only the flags the user gave
override the preset; the config's ``validate()`` checks them and its errors
name the flag. The command receives the built ``config``.
"""

import dataclasses
import functools
import re
import typing

import click
from click.core import ParameterSource

from tfxai.apps.common import echo, first_line, reports_errors
from tfxai.errors import TfxaiError
from tfxai.training.config import ConfigError, field_metadata

__all__ = ["build_config", "config_options", "flag_of", "option_fields"]


class IntegerList(click.ParamType):
    """``'512,256'`` -> ``(512, 256)``."""

    name = "INTEGERS"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        try:
            return tuple(int(part) for part in str(value).replace(",", " ").split())
        except ValueError:
            self.fail(f"needs integers like '512,256', got {value!r}", param, ctx)


def option_fields(config_class, exclude=()):
    """``[(field, metadata)]`` of the fields offered as options (an :func:`~tfxai.training.config.option` not hidden)."""
    chosen = []
    for field in dataclasses.fields(config_class):
        meta = field_metadata(config_class, field.name)
        if meta and not meta.get("hidden") and field.name not in exclude:
            chosen.append((field, meta))
    return chosen


def flag_of(config_class, name):
    """The flag of field ``name``: ``--batch-size`` for ``batch_size`` (or the field's own ``flag``)."""
    flag = field_metadata(config_class, name).get("flag")
    return flag.split("/")[0] if flag else "--" + name.replace("_", "-")


def _base_type(field):
    kind = field.type
    if typing.get_origin(kind) is typing.Union:
        kind = next(arg for arg in typing.get_args(kind) if arg is not type(None))
    return kind if isinstance(kind, type) else {"int": int, "float": float, "bool": bool, "tuple": tuple}.get(str(kind), str)


def _preset_values(config_class, field):
    """``{preset: value}`` of ``field`` in every preset (its default where a preset does not set it)."""
    default = config_class.__dataclass_fields__[field.name].default
    if not config_class.presets:  # a config without presets: its own default
        return {"default": default}
    return {name: values.get(field.name, default) for name, values in config_class.presets.items()}


def _shown(value):
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


def _click_option(config_class, field, meta):
    kind, flag = _base_type(field), meta.get("flag")
    text = meta.get("help", "")
    values = _preset_values(config_class, field)
    distinct = {repr(value) for value in values.values()}
    default = None
    if kind is not bool and values and next(iter(values.values())) not in (None, ""):
        if len(distinct) > 1:  # the preset decides: show each preset's value
            text += " [" + "; ".join(f"{name}: {_shown(value)}" for name, value in values.items()) + "]"
        else:  # one default (the builder still passes only the flags given)
            default = _shown(next(iter(values.values())))
    common = {"help": text, "default": default, "show_default": default is not None, "required": bool(meta.get("required"))}
    if kind is bool:
        if flag and "/" in flag:
            return click.option(flag, field.name, **common)
        return click.option(flag or "--" + field.name.replace("_", "-"), field.name, is_flag=True, flag_value=not (flag or "").startswith("--no-"), **common)
    if meta.get("choices"):  # checked by the config's validate(), so the error is the app's one line naming the flag
        choices = meta["choices"]
        return click.option(flag or "--" + field.name.replace("_", "-"), field.name, metavar="[" + "|".join(map(str, choices)) + "]",
                            callback=functools.partial(_as_choice_type, type(choices[0])), **common)
    click_type = {int: int, float: float, tuple: IntegerList()}.get(kind, str)
    return click.option(flag or "--" + field.name.replace("_", "-"), field.name, type=click_type, metavar=meta.get("metavar"), **common)


def _as_choice_type(kind, context, parameter, value):
    if value is None or kind is str:
        return value
    try:
        return kind(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a {kind.__name__}") from None


def _preset_option(config_class):
    names = list(config_class.presets)
    paper = config_class.paper_preset
    return click.option("--preset", type=click.Choice(names), default=None,
                        help=f"{config_class.preset_help or ' or '.join(names)} [default: small without a GPU, {paper} with one].")


def config_options(config_class, exclude=(), aliases=None):
    """Decorate a click command with ``config_class``'s options and ``--preset``; the command gets ``config=`` (built, validated).

    ``exclude`` names fields the command sets itself (they stay out of the options);
    ``aliases`` maps deprecated flags to fields (``{"--classifier": "scorer"}``): hidden options that warn.
    """
    fields = option_fields(config_class, exclude)
    aliases = dict(aliases or {})

    def decorate(function):
        @functools.wraps(function)
        @reports_errors
        def wrapper(**kwargs):
            context = click.get_current_context()
            given = {}
            for field, _ in fields:
                value = kwargs.pop(field.name)
                if context.get_parameter_source(field.name) is not ParameterSource.DEFAULT and value is not None:
                    given[field.name] = value
            for alias, name in aliases.items():
                value = kwargs.pop(_alias_parameter(alias))
                if value is not None:
                    echo(f"warning: {alias} is deprecated: use {flag_of(config_class, name)}")
                    given.setdefault(name, value)
            preset = kwargs.pop("preset", None) if config_class.presets else None
            config = build_config(config_class, preset, given)
            return function(config=config, **kwargs)

        for alias in aliases:
            wrapper = click.option(alias, _alias_parameter(alias), default=None, hidden=True)(wrapper)
        if config_class.presets:
            wrapper = _preset_option(config_class)(wrapper)
        for field, meta in reversed(fields):
            wrapper = _click_option(config_class, field, meta)(wrapper)
        return wrapper

    return decorate


def _alias_parameter(alias):
    return "deprecated_" + alias.lstrip("-").replace("-", "_")


def build_config(config_class, preset, given, log=first_line):
    """``config_class`` from ``preset`` (None: the machine's default, said in the run's first line) and the ``given`` field values.

    A :class:`~tfxai.training.config.ConfigError` comes back as a
    :class:`TfxaiError` naming the flags instead of the fields.
    """
    if config_class.presets:
        if preset is None:
            preset = config_class.default_preset()
            paper = config_class.paper_preset
            why = "without a GPU" if preset == "small" else "with a GPU"
            other = f"--preset {paper} for the {paper}'s values" if preset == "small" else "--preset small for a quick run"
            log(f"preset: {preset} (default {why}; {other})")
        else:
            log(f"preset: {preset}")
    try:
        return config_class.from_preset(preset, **given) if config_class.presets else config_class(**given).validate()
    except ConfigError as error:
        raise TfxaiError(flag_message(config_class, error)) from error


def flag_message(config_class, error):
    """The message of a :class:`~tfxai.training.config.ConfigError` with each field it names written as its flag."""
    message = str(error)
    for name in error.fields:
        if name in config_class.__dataclass_fields__:
            message = re.sub(rf"(?<![\w-]){re.escape(name)}\b", flag_of(config_class, name), message)
    return message
