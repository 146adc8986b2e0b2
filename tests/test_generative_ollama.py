"""NEWSBOT_LLM=ollama:MODEL over real HTTP, against a fake Ollama on loopback."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from click.testing import CliRunner
from fake_chat import number_of
from fake_model_servers import serve_ollama
from loopback_http import closed_port

from bot.chat import CHECKED_HEADER
from bot.cli import Context, main
from retrieval.service import NewsService
from retrieval.types import Answer, Article

MODEL = "llama3.2:1b"


def reply(prompt: str) -> str:
    if prompt.startswith("Rewrite the last question"):
        return "Why did China refuse to meet Lloyd Austin?"
    n = number_of(prompt, "citing US restrictions")
    return (
        f"China cited US restrictions imposed on Chinese officials, institutions and businesses [{n}]. "
        f"The talks will resume in 2031 [{n}]."
    )


def ollama_service(
    make_service: Callable[..., NewsService], seed_article: Article, url: str, **settings: object
) -> NewsService:
    service = make_service(
        llm=f"ollama:{MODEL}", ollama_url=url, llm_max_tokens=200, llm_temperature=0.0, **settings
    )
    service.add(seed_article)
    return service


@pytest.mark.server
def test_ollama_answers_are_streamed_checked_and_cited(
    make_service: Callable[..., NewsService], seed_article: Article
) -> None:
    with serve_ollama(reply, models=(MODEL,)) as ollama:
        service = ollama_service(make_service, seed_article, ollama.url)
        *tokens, answer = service.stream("Why did China refuse the meeting?")
    assert isinstance(answer, Answer) and all(isinstance(t, str) for t in tokens)
    assert answer.answerer == f"ollama:{MODEL}" and answer.notice is None
    assert answer.answer == (
        "China cited US restrictions imposed on Chinese officials, institutions and businesses. [1]"
    )
    assert len(answer.dropped) == 1 and answer.dropped[0].startswith(
        "The talks will resume in 2031"
    )
    assert [c.verified for c in answer.citations] == [True]
    assert answer.citations[0].quote.startswith("In response, citing US restrictions")
    assert "".join(tokens).endswith(answer.dropped[0])  # streamed as written, checked after
    request = ollama.requests[0]
    assert request["model"] == MODEL and request["stream"] is True
    assert request["options"] == {"num_predict": 200, "temperature": 0.0}
    roles = [m["role"] for m in request["messages"]]
    assert roles == ["system", "user", "assistant", "user"]
    assert '<passage n="1" title="China declines US request' in request["messages"][-1]["content"]


@pytest.mark.server
def test_the_chat_streams_the_draft_then_prints_the_checked_answer(
    make_service: Callable[..., NewsService], seed_article: Article
) -> None:
    with serve_ollama(reply) as ollama:
        service = ollama_service(make_service, seed_article, ollama.url)
        script = "Why did China refuse the meeting?\nand why was that?\n/quit\n"
        result = CliRunner().invoke(main, ["chat"], obj=Context(_service=service), input=script)
    assert result.exit_code == 0, result.output
    out = result.output
    draft = out.index("The talks will resume in 2031")
    checked = out.index(CHECKED_HEADER)
    assert draft < checked
    assert "Removed 1 sentence the cited passages do not support" in out[checked:]
    assert "Sources:\n[1] China declines US request" in out[checked:]
    # the follow-up was rewritten by the model (the condense prompt), then answered
    assert ollama.requests[1]["messages"][-1]["content"].startswith("Rewrite the last question")
    assert (
        "Question: Why did China refuse to meet Lloyd Austin?"
        in ollama.requests[2]["messages"][-1]["content"]
    )


@pytest.mark.server
def test_a_model_ollama_does_not_have_gives_the_extractive_answer(
    make_service: Callable[..., NewsService], seed_article: Article
) -> None:
    with serve_ollama(reply, models=("other",)) as ollama:
        service = ollama_service(make_service, seed_article, ollama.url)
        answer = service.ask("Why did China refuse the meeting?")
    assert answer.answerer == "extractive" and "citing US restrictions" in answer.answer
    assert answer.notice == (
        "The language model did not answer (ResponseError (status 404)); "
        "this is the extractive answer."
    )


def test_ollama_down_gives_the_extractive_answer_at_once(
    make_service: Callable[..., NewsService], seed_article: Article
) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    service = ollama_service(make_service, seed_article, url, llm_timeout_s=5.0)
    started = time.perf_counter()
    answer = service.ask("Why did China refuse the meeting?")
    assert time.perf_counter() - started < 5.0
    assert answer.answerer == "extractive" and answer.citations
    assert answer.notice == (
        "The language model did not answer (could not connect); this is the extractive answer."
    )
