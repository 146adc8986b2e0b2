"""A LangChain fake chat model that answers from its prompt, and helpers to read the prompt.

`PromptedFakeChatModel` is LangChain's `GenericFakeChatModel` (streaming included) with the
reply computed from the last message, so a test can script "cite the passage that says X"
without knowing the retrieval order; every prompt it receives is recorded.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field

_PASSAGE = re.compile(r'<passage n="(\d+)"[^>]*>\n(.*?)\n</passage>', re.S)


class PromptedFakeChatModel(GenericFakeChatModel):
    reply: Callable[[str], str]
    messages: Iterator[AIMessage | str] = Field(default_factory=lambda: iter(()))
    prompts: list[list[BaseMessage]] = Field(default_factory=list)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.prompts.append(list(messages))
        text = self.reply(str(messages[-1].content))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])


def passages_in(prompt: str) -> dict[int, str]:
    """Passage number → text, as the model was shown them."""
    return {int(n): text for n, text in _PASSAGE.findall(prompt)}


def number_of(prompt: str, phrase: str) -> int:
    """The number of the passage that contains `phrase`."""
    return next(n for n, text in passages_in(prompt).items() if phrase in text)
