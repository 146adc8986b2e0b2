"""What a member's message asks: the question with Discord's markup taken out, whether chat is
a question at all, and a thread's name for it. Pure functions."""

from __future__ import annotations

import re

__all__ = ["QUESTION_CHARS", "clean_question", "is_question", "thread_name"]

# The longest question /ask takes; Discord's client enforces it (the option's max_length), and
# it is the service's default limit (NEWSBOT_MAX_QUESTION_CHARS).
QUESTION_CHARS = 1000

# <@id> and <@!id> (members), <@&id> (roles), <#id> (channels), </name:id> (slash commands),
# @everyone and @here: markup, not words of the question ("who is <@123>?" is about nobody).
_MARKUP = re.compile(r"<@[!&]?\d+>|<#\d+>|</[\w -]+:\d+>|@(?:everyone|here)\b")

_ASKING_WORDS = frozenset(
    "who whom whose what which when where why how is are was were do does did can could will "
    "would should shall has have had may might must and but so tell explain describe list show "
    "give summarise summarize compare define name any anything more".split()
)


def clean_question(text: str) -> str:
    """The question as the member meant it: mentions of anyone, roles, channels and
    @everyone/@here removed, spaces tidied."""
    return " ".join(_MARKUP.sub(" ", text).split())


def is_question(text: str) -> bool:
    """Whether chat asks something: it has a question mark, or opens with a question word or
    a request ("tell me", "explain"). "thanks!", "lol that's wrong", "ok" are not questions."""
    text = clean_question(text)
    if "?" in text:
        return True
    first = re.match(r"[A-Za-z']+", text)
    return first is not None and first.group(0).lower() in _ASKING_WORDS


def thread_name(question: str, limit: int = 100) -> str:
    """A thread named after the question (Discord allows 1-100 characters)."""
    name = clean_question(question) or "Question"
    return name if len(name) <= limit else name[: limit - 1].rstrip() + "…"
