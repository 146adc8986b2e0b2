"""The answer chain as a LangChain runnable: condense → time frame → retrieve → answer → cite."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.runnables import Runnable, RunnableLambda

from retrieval.answer.condense import condense_question
from retrieval.news.timeframe import TimeFrame, read_question
from retrieval.types import Answer, Draft, Passage, Turn

__all__ = ["build_answer_chain"]

# retrieve(question, kb, k, frame) -> the passages, and the frame as retrieval settled it
Retrieve = Callable[[str, str, int, TimeFrame], tuple[list[Passage], TimeFrame]]
# compose(question, passages, frame=frame) -> Draft; streaming also takes on_token=callback
Compose = Callable[..., Draft]
Condense = Callable[[str, Sequence[Turn]], str]


def build_answer_chain(
    *,
    retrieve: Retrieve,
    compose: Compose,
    answerer_name: str,
    condense_with: Condense = condense_question,
    finish: Callable[[Answer, TimeFrame], Answer] | None = None,
) -> Runnable:
    """A runnable taking {question, history, kb, k[, today, on_token]} and returning an
    `Answer`; `today` (a date, or None when the day of asking is unknown) resolves the
    question's time words, and `finish` dates the answer (see news.py)."""

    def condense(state: dict[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        standalone = condense_with(state["question"], state.get("history") or ())
        frame = read_question(standalone, state.get("today"))
        return {**state, "standalone": standalone, "frame": frame, "started": started}

    def fetch(state: dict[str, Any]) -> dict[str, Any]:
        passages, frame = retrieve(state["standalone"], state["kb"], state["k"], state["frame"])
        return {**state, "passages": passages, "frame": frame, "retrieved": time.perf_counter()}

    def compose_answer(state: dict[str, Any]) -> dict[str, Any]:
        streaming = {"on_token": state["on_token"]} if state.get("on_token") else {}
        draft = compose(state["standalone"], state["passages"], frame=state["frame"], **streaming)
        return {**state, "draft": draft, "answered": time.perf_counter()}

    def cite(state: dict[str, Any]) -> Answer:
        draft: Draft = state["draft"]
        started, retrieved, answered = state["started"], state["retrieved"], state["answered"]
        answer = Answer(
            question=state["question"],
            answer=draft.text,
            abstained=draft.abstained,
            citations=draft.citations,
            passages=state["passages"],
            answerer=draft.answerer or answerer_name,
            timings_ms={
                "retrieve": (retrieved - started) * 1000,
                "answer": (answered - retrieved) * 1000,
                "total": (time.perf_counter() - started) * 1000,
            },
            standalone_question=state["standalone"],
            notice=draft.notice,
            dropped=list(draft.dropped),
            timeline=list(draft.timeline),
            disagreement=draft.disagreement,
        )
        return finish(answer, state["frame"]) if finish else answer

    return (
        RunnableLambda(condense)
        | RunnableLambda(fetch)
        | RunnableLambda(compose_answer)
        | RunnableLambda(cite)
    ).with_config(run_name="newsbot_answer")
