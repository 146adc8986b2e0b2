"""Prompt templates kept as text files, so they can be read and changed without the code,
and the LangChain `ChatPromptTemplate`s built from them."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from langchain_core.prompts import ChatPromptTemplate

__all__ = ["answer_prompt", "condense_prompt", "load_prompt", "prompt_names"]


def prompt_names() -> list[str]:
    return sorted(
        entry.name.removesuffix(".txt")
        for entry in resources.files(__name__).iterdir()
        if entry.name.endswith(".txt")
    )


@cache
def load_prompt(name: str) -> str:
    """The text of prompt `name` (e.g. "answer"); templates have `{placeholders}`."""
    if name not in prompt_names():
        raise KeyError(f"no prompt named {name!r} (have: {', '.join(prompt_names())})")
    return resources.files(__name__).joinpath(f"{name}.txt").read_text("utf-8")


@cache
def answer_prompt() -> ChatPromptTemplate:
    """The rules, one worked example (small models copy its [n] markers far more readily
    than they follow a rule), then the passages and the question: `{passages}`, `{question}`.
    The rules and the example are messages, not templates, so their text is never parsed."""
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
    from langchain_core.prompts import ChatPromptTemplate

    example_question, _, example_answer = load_prompt("answer_example").partition("\n---\n")
    return ChatPromptTemplate.from_messages(
        [
            SystemMessage(load_prompt("answer_system").strip()),
            HumanMessage(example_question.strip()),
            AIMessage(example_answer.strip()),
            ("human", load_prompt("answer").strip()),
        ]
    )


@cache
def condense_prompt() -> ChatPromptTemplate:
    """A follow-up rewritten to stand alone: `{history}`, `{question}`."""
    from langchain_core.prompts import ChatPromptTemplate

    return ChatPromptTemplate.from_messages([("human", load_prompt("condense"))])
