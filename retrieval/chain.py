"""The answer chain as a LangChain runnable: condense → retrieve → answer → cite."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.runnables import Runnable, RunnableLambda

from retrieval.answers import Answer, Draft
from retrieval.condense import Turn, condense_question
from retrieval.store import Passage

__all__ = ["build_answer_chain"]

Retrieve = Callable[[str, str, int], list[Passage]]
# compose(question, passages) -> Draft; a streaming answerer also takes on_token=callback
Compose = Callable[..., Draft]
Condense = Callable[[str, Sequence[Turn]], str]


def build_answer_chain(
    *,
    retrieve: Retrieve,
    compose: Compose,
    answerer_name: str,
    condense_with: Condense = condense_question,
) -> Runnable:
    """A runnable taking {question, history, kb, k[, on_token]} and returning an `Answer`."""

    def condense(state: dict[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        standalone = condense_with(state["question"], state.get("history") or ())
        return {**state, "standalone": standalone, "started": started}

    def fetch(state: dict[str, Any]) -> dict[str, Any]:
        passages = retrieve(state["standalone"], state["kb"], state["k"])
        return {**state, "passages": passages, "retrieved": time.perf_counter()}

    def compose_answer(state: dict[str, Any]) -> dict[str, Any]:
        streaming = {"on_token": state["on_token"]} if state.get("on_token") else {}
        draft = compose(state["standalone"], state["passages"], **streaming)
        return {**state, "draft": draft, "answered": time.perf_counter()}

    def cite(state: dict[str, Any]) -> Answer:
        draft: Draft = state["draft"]
        started, retrieved, answered = state["started"], state["retrieved"], state["answered"]
        return Answer(
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
        )

    return (
        RunnableLambda(condense)
        | RunnableLambda(fetch)
        | RunnableLambda(compose_answer)
        | RunnableLambda(cite)
    ).with_config(run_name="newsbot_answer")
