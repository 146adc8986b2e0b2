"""docs/configuration.md, written from the settings classes themselves, so the table of
settings cannot fall behind the code: `python -m retrieval.settings_doc > docs/configuration.md`.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import AliasChoices, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

__all__ = ["documented_settings", "env_name", "settings_table"]

REGENERATE = "python -m retrieval.settings_doc > docs/configuration.md"

_TYPE_NAMES: dict[Any, str] = {
    str: "text",
    int: "integer",
    float: "number",
    bool: "`true` or `false`",
    Path: "path",
    date: "date (YYYY-MM-DD)",
    SecretStr: "secret",
}


def documented_settings() -> list[type[BaseSettings]]:
    """Every settings class newsbot reads: the core one, and the Discord bot's own once it has
    one (`bot.discord_bot.settings.DiscordSettings`). Imported by name, because retrieval/
    never depends on the front ends; a Discord module that exists but fails to import is an
    error, not a reason to leave its settings out."""
    from retrieval.config import Settings

    classes: list[type[BaseSettings]] = [Settings]
    try:
        discord_settings = importlib.import_module("bot.discord_bot.settings")
    except ModuleNotFoundError as exc:
        if exc.name != "bot.discord_bot.settings":
            raise
    else:
        discord_class = getattr(discord_settings, "DiscordSettings", None)
        if discord_class is not None:
            classes.append(discord_class)
    return classes


def env_name(cls: type[BaseSettings], name: str, field: FieldInfo) -> str:
    """The environment variable a field is read from: its alias, else prefix + NAME."""
    alias = field.validation_alias
    if isinstance(alias, str):
        return alias
    if isinstance(alias, AliasChoices):
        return " or ".join(str(choice) for choice in alias.choices if isinstance(choice, str))
    return f"{cls.model_config.get('env_prefix', '')}{name}".upper()


def _is_secret(annotation: Any) -> bool:
    if annotation is SecretStr:
        return True
    return any(_is_secret(arg) for arg in get_args(annotation))


def _bounds(metadata: Sequence[Any]) -> str:
    """Constraints as a reader writes them: "1–50", "≥ 0", "> 0"."""
    low = high = ""
    for item in metadata:
        if isinstance(item, annotated_types.Ge):
            low = f"{item.ge}"
        elif isinstance(item, annotated_types.Gt):
            low = f"> {item.gt}"
        elif isinstance(item, annotated_types.Le):
            high = f"{item.le}"
        elif isinstance(item, annotated_types.Lt):
            high = f"< {item.lt}"
    if low and high and not low.startswith(">") and not high.startswith("<"):
        return f"{low}–{high}"
    parts = [
        low if low.startswith(">") else f"≥ {low}" if low else "",
        high if high.startswith("<") else f"≤ {high}" if high else "",
    ]
    return ", ".join(part for part in parts if part)


def _pattern(metadata: Sequence[Any]) -> str:
    for item in metadata:
        pattern = getattr(item, "pattern", None)
        if isinstance(pattern, str):
            return pattern
    return ""


def _type_name(annotation: Any, metadata: Sequence[Any] = ()) -> str:
    origin = get_origin(annotation)
    if origin is Annotated:
        inner, *extra = get_args(annotation)
        return _type_name(inner, [*metadata, *extra])
    if origin in (Union, types.UnionType):
        kinds = [_type_name(arg) for arg in get_args(annotation) if arg is not type(None)]
        name = " or ".join(kinds)
    elif origin is Literal:
        values = [f"`{value}`" for value in get_args(annotation)]
        name = values[0] if len(values) == 1 else "one of " + ", ".join(values)
    else:
        name = _TYPE_NAMES.get(annotation, getattr(annotation, "__name__", str(annotation)))
    bounds = _bounds(metadata)
    pattern = _pattern(metadata)
    if bounds:
        name = f"{name} {bounds}" if bounds[0] in "<>≤≥" else f"{name}, {bounds}"
    if pattern:
        name = f"{name} matching `{pattern}`"
    return name


def _default(field: FieldInfo) -> str:
    if _is_secret(field.annotation):
        return "—"  # a secret's default is nobody's business, even when it is "unset"
    value = field.get_default(call_default_factory=True, validated_data={})
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, Path):
        home = str(Path.home())
        shown = str(value)
        if shown == home or shown.startswith(home + "/"):
            shown = "~" + shown[len(home) :]  # the same page whoever generates it
        return f"`{shown}`"
    return f"`{value}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _section(cls: type[BaseSettings]) -> list[str]:
    config = cls.model_config
    prefix = config.get("env_prefix", "")
    doc = " ".join((cls.__doc__ or "").split())
    where = f"Environment variables `{prefix}*`" if prefix else "Environment variables"
    if config.get("env_file"):
        where += f", or lines of `{config['env_file']}` in the working directory"
    lines = [f"## `{cls.__module__}.{cls.__qualname__}`", ""]
    if doc:
        lines += [doc, ""]
    lines += [
        f"{where}.",
        "",
        "| variable | type | default | description |",
        "|---|---|---|---|",
    ]
    for name, field in cls.model_fields.items():
        row = [
            f"`{env_name(cls, name, field)}`",
            _cell(_type_name(field.annotation, field.metadata)),
            _cell(_default(field)),
            _cell(field.description or ""),
        ]
        lines.append("| " + " | ".join(row) + " |")
    return [*lines, ""]


def settings_table(classes: Sequence[type[BaseSettings]] | None = None) -> str:
    """docs/configuration.md: one table per settings class (default: `documented_settings()`),
    a row per field: its environment variable, type, default and description."""
    lines = [
        "# Configuration",
        "",
        f"<!-- Generated from the settings classes by `{REGENERATE}`; do not edit. -->",
        "",
        "newsbot reads its settings once, when a command first needs them, from environment",
        "variables and a `.env` file in the working directory (the environment wins). A value",
        "it cannot use stops the command with one line naming the setting, `error: invalid",
        "setting top_k: ...`, and exit status 1. Secrets are never printed: not here, not in",
        "logs or errors.",
        "",
    ]
    for cls in documented_settings() if classes is None else classes:
        lines += _section(cls)
    return "\n".join(lines).rstrip("\n") + "\n"


if __name__ == "__main__":
    sys.stdout.write(settings_table())
