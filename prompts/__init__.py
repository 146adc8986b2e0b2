"""Prompt templates kept as text files, so they can be read and changed without the code."""

from __future__ import annotations

from functools import cache
from importlib import resources

__all__ = ["load_prompt", "prompt_names"]


def prompt_names() -> list[str]:
    return sorted(
        entry.name.removesuffix(".txt")
        for entry in resources.files(__name__).iterdir()
        if entry.name.endswith(".txt")
    )


@cache
def load_prompt(name: str) -> str:
    """The template `name` (e.g. "answer"), with `{placeholders}` for str.format."""
    if name not in prompt_names():
        raise KeyError(f"no prompt named {name!r} (have: {', '.join(prompt_names())})")
    return resources.files(__name__).joinpath(f"{name}.txt").read_text("utf-8")
