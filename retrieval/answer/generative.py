"""Answers written by a chat model, kept only where the passages they cite support them.

The model sees the retrieved passages, numbered and delimited, and writes an answer with [n]
markers; the citation checker then keeps the sentences their passage supports. When the model
is unreachable, errors, times out, or leaves nothing supported, the answer is the extractive
one, with a one-line notice saying why.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from prompts import answer_prompt, condense_prompt
from retrieval.answer.chat_models import stream_reply
from retrieval.answer.condense import condense_question, is_follow_up
from retrieval.errors import BackendError
from retrieval.text.sentences import split_sentences
from retrieval.text.terms import content_terms
from retrieval.types import ABSTAIN_TEXT, Draft, Passage, Turn

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage
    from langchain_core.runnables import RunnableConfig

    from retrieval.answer.citation_check import CitationChecker
    from retrieval.answer.extractive import ExtractiveAnswerer

__all__ = [
    "TOKEN_EVENT",
    "GenerativeAnswerer",
    "Unsupported",
    "answer_messages",
    "format_passages",
    "looks_like_abstention",
]

log = logging.getLogger(__name__)

# "The articles I have don't answer that.", and the ways models put it in their own words.
_ABSTAINS = re.compile(
    r"\b(articles?|passages?|texts?|context|information)\b[^.]{0,60}\b(don'?t|do not|"
    r"doesn'?t|does not|can'?t|cannot|not)\b[^.]{0,30}\b(answer|say|mention|contain|provide|"
    r"include|specify)|\bno information\b|^\W*I (don'?t|do not) know\b",
    re.I,
)
# The custom event each token of a streamed answer is sent as (see `retrieval.pipeline`).
TOKEN_EVENT = "newsbot_token"
_MARKER = re.compile(r"\[\s*\d+")
_MARKERS = re.compile(r"\s*\[\d+\]")
_CONDENSE_TIMEOUT_S = 20.0
_RETRY_AFTER_S = 10.0  # a rewrite is one short line; a slow one is not worth waiting for


def format_passages(passages: Sequence[Passage]) -> str:
    """Numbered, delimited passages; a passage cannot close its own delimiter early."""
    blocks = []
    for n, p in enumerate(passages, start=1):
        about = " ".join(
            f'{key}="{value}"'
            for key, value in (("title", p.title), ("date", p.published_at), ("source", p.source))
            if value
        ).replace("\n", " ")
        text = re.sub(r"</?\s*passage", "‹passage", p.text, flags=re.I)
        blocks.append(f'<passage n="{n}" {about}>\n{text}\n</passage>')
    return "\n\n".join(blocks)


def answer_messages(question: str, passages: Sequence[Passage]) -> list[BaseMessage]:
    """The messages the model is sent: see `prompts.answer_prompt`."""
    return answer_prompt().format_messages(passages=format_passages(passages), question=question)


def looks_like_abstention(reply: str) -> bool:
    """The model opened by saying the passages do not answer, and cited nothing."""
    first = split_sentences(reply.strip())[:1]
    opening = reply.strip()[first[0][0] : first[0][1]] if first else ""
    return not _MARKER.search(reply) and bool(_ABSTAINS.search(opening))


class Unsupported(BackendError):
    """The model answered, but not usably: `dropped` holds its sentences that failed the check."""

    def __init__(self, message: str, dropped: list[str] | None = None) -> None:
        super().__init__(message)
        self.dropped = dropped or []


class GenerativeAnswerer:
    """Composes answers with a chat model; `name` is what answers report (e.g. 'ollama:x').

    The model's draft and the extractive fallback are one LangChain runnable,
    `generate.with_fallbacks([extractive])`: any `BackendError` on the way — the model
    unreachable, failing, past its deadline, silent, or nothing it wrote supported — gives the
    extractive answer with a notice saying why. Tokens stream as `TOKEN_EVENT` custom events
    (the answer pipeline's `.stream()` yields them)."""

    streams = True

    def __init__(
        self,
        *,
        model: BaseChatModel,
        name: str,
        checker: CitationChecker,
        fallback: ExtractiveAnswerer,
        timeout_s: float,
        condense_with_model: bool,
    ) -> None:
        from langchain_core.runnables import RunnableLambda

        self.model = model
        self.name = name
        self.checker = checker
        self.fallback = fallback
        self.timeout_s = timeout_s
        self.condense_with_model = condense_with_model
        self._failed: tuple[float, str] | None = None  # when the model last failed, and why
        self._chain = RunnableLambda(self._generate, name=name).with_fallbacks(
            [RunnableLambda(self._fall_back, name=fallback.name)],
            exceptions_to_handle=(BackendError,),
            exception_key="error",
        )

    def generate(
        self,
        question: str,
        passages: Sequence[Passage],
        on_token: Callable[[str], None] | None = None,
    ) -> str:
        """The model's unchecked reply; `BackendError` when it does not give one in time."""
        return stream_reply(
            self.model,
            answer_messages(question, passages),
            timeout_s=self.timeout_s,
            on_token=on_token,
        )

    def answer(
        self, question: str, passages: list[Passage], config: RunnableConfig | None = None
    ) -> Draft:
        if not passages:
            return replace(self.fallback.answer(question, passages), answerer=self.fallback.name)
        return self._chain.invoke({"question": question, "passages": passages}, config)

    def _generate(self, inputs: dict[str, Any], config: RunnableConfig) -> Draft:
        """The checked draft of the model, or `BackendError` saying why there is none."""
        from langchain_core.callbacks import dispatch_custom_event

        question, passages = inputs["question"], inputs["passages"]
        if (reason := self._recent_failure()) is None:
            try:
                reply = self.generate(
                    question,
                    passages,
                    lambda token: dispatch_custom_event(TOKEN_EVENT, token, config=config),
                )
            except BackendError as exc:
                reason = self._failure(exc)
        if reason is not None:
            raise BackendError(f"The language model did not answer ({reason})")
        if not reply.strip():
            raise BackendError("The language model gave an empty answer")
        if looks_like_abstention(reply):
            return Draft(ABSTAIN_TEXT, [], True, [])
        result = self.checker.check(reply, passages)
        if not result.kept:
            raise Unsupported(
                "None of the model's sentences is supported by the passage it cites",
                [s.claim.raw for s in result.sentences],
            )
        return Draft(result.text, result.citations, False, [], dropped=result.dropped)

    def _fall_back(self, inputs: dict[str, Any]) -> Draft:
        """The extractive answer, with a notice of why the model's is not given."""
        error = inputs["error"]
        draft = self.fallback.answer(inputs["question"], inputs["passages"])
        return replace(
            draft,
            answerer=self.fallback.name,
            notice=f"{error}; this is the extractive answer.",
            dropped=getattr(error, "dropped", []),
        )

    def _failure(self, exc: BackendError) -> str:
        # the notice tells the user; the log is for whoever runs the bot
        log.info("%s did not answer: %s", self.name, exc)
        self._failed = (time.monotonic(), str(exc))
        return str(exc)

    def _recent_failure(self) -> str | None:
        """Why the model failed moments ago: a follow-up's rewrite and its answer, or several
        questions at once in Discord, should not each wait out a stalled server."""
        if self._failed and time.monotonic() - self._failed[0] < _RETRY_AFTER_S:
            return self._failed[1]
        return None

    def condense(self, question: str, history: Sequence[Turn]) -> str:
        """A follow-up rewritten by the model to stand alone; the model's line is used only
        if it is one plausible question about the conversation, else the heuristic's."""
        heuristic = condense_question(question, history)
        if not self.condense_with_model or not history or not is_follow_up(question):
            return heuristic
        if self._recent_failure() is not None:
            return heuristic
        turns = "\n".join(
            f"User: {t.question}\nAssistant: {_MARKERS.sub('', t.answer)[:400]}"
            for t in history[-3:]
        )
        try:
            reply = stream_reply(
                self.model,
                condense_prompt().format_messages(history=turns, question=question),
                timeout_s=min(self.timeout_s, _CONDENSE_TIMEOUT_S),
            )
        except BackendError as exc:
            self._failure(exc)
            return heuristic
        lines = [line.strip().strip('"') for line in reply.strip().splitlines() if line.strip()]
        rewritten = lines[0] if lines else ""
        context = set(content_terms(" ".join(t.question for t in history) + " " + question))
        if not 3 <= len(rewritten) <= 3 * len(heuristic) + 40 or not (
            set(content_terms(rewritten)) & context
        ):
            return heuristic
        return rewritten
