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
from typing import TYPE_CHECKING

from prompts import load_prompt
from retrieval.answer.chat_models import stream_reply
from retrieval.answer.condense import condense_question, is_follow_up
from retrieval.errors import BackendError
from retrieval.text.sentences import split_sentences
from retrieval.text.terms import content_terms
from retrieval.types import ABSTAIN_TEXT, Draft, Passage, Turn

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage

    from retrieval.answer.citation_check import CitationChecker
    from retrieval.answer.extractive import ExtractiveAnswerer

__all__ = ["GenerativeAnswerer", "answer_messages", "format_passages", "looks_like_abstention"]

log = logging.getLogger(__name__)

# "The articles I have don't answer that.", and the ways models put it in their own words.
_ABSTAINS = re.compile(
    r"\b(articles?|passages?|texts?|context|information)\b[^.]{0,60}\b(don'?t|do not|"
    r"doesn'?t|does not|can'?t|cannot|not)\b[^.]{0,30}\b(answer|say|mention|contain|provide|"
    r"include|specify)|\bno information\b|^\W*I (don'?t|do not) know\b",
    re.I,
)
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
    """The rules, one worked example (small models copy its [n] markers far more readily
    than they follow a rule), then the passages and the question."""
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    example_question, _, example_answer = load_prompt("answer_example").partition("\n---\n")
    question_turn = load_prompt("answer").format(
        passages=format_passages(passages), question=question
    )
    return [
        SystemMessage(load_prompt("answer_system").strip()),
        HumanMessage(example_question.strip()),
        AIMessage(example_answer.strip()),
        HumanMessage(question_turn.strip()),
    ]


def looks_like_abstention(reply: str) -> bool:
    """The model opened by saying the passages do not answer, and cited nothing."""
    first = split_sentences(reply.strip())[:1]
    opening = reply.strip()[first[0][0] : first[0][1]] if first else ""
    return not _MARKER.search(reply) and bool(_ABSTAINS.search(opening))


class GenerativeAnswerer:
    """Composes answers with a chat model; `name` is what answers report (e.g. 'ollama:x')."""

    streams = True

    def __init__(
        self,
        *,
        model: BaseChatModel,
        name: str,
        checker: CitationChecker,
        fallback: ExtractiveAnswerer,
        timeout_s: float = 60.0,
        condense_with_model: bool = True,
    ) -> None:
        self.model = model
        self.name = name
        self.checker = checker
        self.fallback = fallback
        self.timeout_s = timeout_s
        self.condense_with_model = condense_with_model
        self._failed: tuple[float, str] | None = None  # when the model last failed, and why

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
        self,
        question: str,
        passages: list[Passage],
        on_token: Callable[[str], None] | None = None,
    ) -> Draft:
        if not passages:
            return self._extractive(question, passages)
        if (reason := self._recent_failure()) is None:
            try:
                reply = self.generate(question, passages, on_token)
            except BackendError as exc:
                reason = self._failure(exc)
        if reason is not None:
            notice = f"The language model did not answer ({reason})"
            return self._extractive(question, passages, notice)
        if not reply.strip():
            return self._extractive(question, passages, "The language model gave an empty answer")
        if looks_like_abstention(reply):
            return Draft(ABSTAIN_TEXT, [], True, [])
        result = self.checker.check(reply, passages)
        if not result.kept:
            unsupported = [s.claim.raw for s in result.sentences]
            notice = "None of the model's sentences is supported by the passage it cites"
            return self._extractive(question, passages, notice, dropped=unsupported)
        return Draft(result.text, result.citations, False, [], dropped=result.dropped)

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

    def _extractive(
        self,
        question: str,
        passages: list[Passage],
        reason: str | None = None,
        dropped: list[str] | None = None,
    ) -> Draft:
        draft = self.fallback.answer(question, passages)
        notice = f"{reason}; this is the extractive answer." if reason else None
        return replace(draft, answerer=self.fallback.name, notice=notice, dropped=dropped or [])

    def condense(self, question: str, history: Sequence[Turn]) -> str:
        """A follow-up rewritten by the model to stand alone; the model's line is used only
        if it is one plausible question about the conversation, else the heuristic's."""
        heuristic = condense_question(question, history)
        if not self.condense_with_model or not history or not is_follow_up(question):
            return heuristic
        if self._recent_failure() is not None:
            return heuristic
        from langchain_core.messages import HumanMessage

        turns = "\n".join(
            f"User: {t.question}\nAssistant: {_MARKERS.sub('', t.answer)[:400]}"
            for t in history[-3:]
        )
        prompt = load_prompt("condense").format(history=turns, question=question)
        try:
            reply = stream_reply(
                self.model,
                [HumanMessage(prompt)],
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
