"""The answer pipeline: a question in, a cited answer out, in four steps read top to bottom.

    1. condense   a follow-up ("and why?") becomes a question that stands alone
    2. retrieve   the passages for it, within the time frame its words ask for ("last week");
                  with no time words, recent news first (news/step.py, `recent_first`)
    3. answer     the answerer drafts from them; a timeline for "how did X develop?", both
                  sides when the sources differ (news/step.py)
    4. annotate   dates beside quotes, a note on how current the answer is, timings

Each step is a small typed object handed in by the composition root (`retrieval.build`):
a condenser, a `NewsStep` around a `Retriever`, and an `Answerer`. The pipeline is a
LangChain `Runnable`: `.invoke(question)` gives the `Answer`; `.stream()` and `.astream()`
give the language model's tokens (`str`) as it writes, then the checked `Answer`.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.runnables import Runnable, RunnableConfig, ensure_config

from retrieval.answer.generative import TOKEN_EVENT
from retrieval.news.step import Answerer, NewsStep
from retrieval.news.timeframe import read_question
from retrieval.types import Answer, Question, Turn

__all__ = ["AnswerPipeline", "Condense"]

# condense(question, history) -> the question as it stands alone
Condense = Callable[[str, Sequence[Turn]], str]


class AnswerPipeline(Runnable[Question | str, Answer]):
    """condense → retrieve → answer → annotate; see the module's docstring."""

    name = "newsbot_answer"

    def __init__(self, *, condense: Condense, news: NewsStep, answerer: Answerer) -> None:
        self.condense = condense
        self.news = news
        self.answerer = answerer

    def _answer(self, question: Question, config: RunnableConfig) -> Answer:
        started = time.perf_counter()
        standalone = self.condense(question.text, question.history)  # 1
        frame = read_question(standalone, question.today)
        passages, frame = self.news.retrieve(standalone, question.kb, question.k, frame)  # 2
        retrieved = time.perf_counter()
        draft = self.news.compose(standalone, passages, frame, self.answerer, config)  # 3
        answered = time.perf_counter()
        answer = Answer(
            question=question.text,
            answer=draft.text,
            abstained=draft.abstained,
            citations=draft.citations,
            passages=passages,
            answerer=draft.answerer or self.answerer.name,
            timings_ms={
                "retrieve": (retrieved - started) * 1000,
                "answer": (answered - retrieved) * 1000,
                "total": (time.perf_counter() - started) * 1000,
            },
            standalone_question=standalone,
            notice=draft.notice,
            dropped=list(draft.dropped),
            timeline=list(draft.timeline),
            disagreement=draft.disagreement,
        )
        return self.news.annotate(answer, frame)  # 4

    # -- the Runnable interface ----------------------------------------------------------
    def invoke(
        self, input: Question | str, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Answer:
        question = input if isinstance(input, Question) else Question(str(input))
        # (LangChain hands `_answer` the config of a child run: callbacks and tracing see
        # the answerer's and the model's runs inside this one)
        return self._call_with_config(self._answer, question, config, run_type="chain")  # type: ignore[arg-type]

    def stream(  # type: ignore[override]
        self, input: Question | str, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[str | Answer]:
        """The model's tokens as they come, then the `Answer` (an extractive answerer
        streams no tokens: the `Answer` alone)."""
        if not getattr(self.answerer, "streams", False):
            yield self.invoke(input, config)
            return
        tokens: queue.SimpleQueue[str | _Done] = queue.SimpleQueue()
        done = _Done()

        def work() -> None:
            try:
                done.answer = self.invoke(input, _with_handler(config, _Tokens(tokens.put)))
            except BaseException as exc:
                done.error = exc
            finally:
                tokens.put(done)

        threading.Thread(target=work, name="newsbot-answer", daemon=True).start()
        while not isinstance(item := tokens.get(), _Done):
            yield item
        yield done.result()

    async def astream(  # type: ignore[override]
        self, input: Question | str, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[str | Answer]:
        """`stream` for asyncio: the answer is composed in a worker thread."""
        loop = asyncio.get_running_loop()
        tokens: asyncio.Queue[str] = asyncio.Queue()

        def put(token: str) -> None:
            loop.call_soon_threadsafe(tokens.put_nowait, token)

        answering = loop.run_in_executor(
            None, self.invoke, input, _with_handler(config, _Tokens(put))
        )
        while True:
            getting: asyncio.Future[str] = asyncio.ensure_future(tokens.get())
            waiting: set[asyncio.Future[Any]] = {getting, answering}
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if getting.done():
                yield getting.result()
                continue
            getting.cancel()
            # Tokens were handed to the loop before the answer was: all of them are queued.
            while not tokens.empty():
                yield tokens.get_nowait()
            yield await answering
            return


class _Done:
    """The end of a stream: the answer, or why there is none."""

    answer: Answer | None = None
    error: BaseException | None = None

    def result(self) -> Answer:
        if self.error is not None:
            raise self.error
        assert self.answer is not None
        return self.answer


class _Tokens(BaseCallbackHandler):
    """Hands each token the answerer streams (`TOKEN_EVENT`) to `put`."""

    def __init__(self, put: Callable[[str], None]) -> None:
        self._put = put

    def on_custom_event(
        self,
        name: str,
        data: Any,
        *,
        run_id: UUID,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if name == TOKEN_EVENT:
            self._put(str(data))


def _with_handler(config: RunnableConfig | None, handler: BaseCallbackHandler) -> RunnableConfig:
    """`config` with one more callback handler, whatever form its callbacks take."""
    config = ensure_config(config)
    callbacks = config.get("callbacks")
    if callbacks is None or isinstance(callbacks, list):
        return {**config, "callbacks": [*(callbacks or []), handler]}
    manager = callbacks.copy()
    manager.add_handler(handler, inherit=True)
    return {**config, "callbacks": manager}
