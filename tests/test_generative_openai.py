"""NEWSBOT_LLM=openai:MODEL against a real OpenAI-compatible server: llama.cpp's, serving
SmolLM2-135M-Instruct on loopback. The model answers badly — the point is that the checker
removes what its passages do not support, and never lets a citation stand for a sentence its
passage does not support. Also: a server that stalls, and one that is not there."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from fake_model_servers import run_llama_server, serve_stalling, smollm2_gguf
from loopback_http import closed_port
from test_cli import assert_ask_json_contract

from bot.cli import Context, main
from retrieval.answer.citation_check import missing_facts, split_claims
from retrieval.build import build_service
from retrieval.config import Settings
from retrieval.service import NewsService
from retrieval.types import Answer, Article, Turn

SEED_QUESTIONS = [
    "Why did China refuse the meeting?",
    "Who is Li Shangfu?",
    "When were the sanctions on Li imposed?",
    "Which weapons did China buy from Russia?",
]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    gguf = smollm2_gguf()
    try:
        import llama_cpp.server  # noqa: F401
    except ImportError:
        gguf = None
    if gguf is None:
        message = "llama-cpp-python[server] or SmolLM2 not installed (`make test` installs them)"
        if os.environ.get("REQUIRE_LLAMA_SERVER"):
            pytest.fail(message)
        pytest.skip(message)
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with run_llama_server(gguf, log) as url:
        yield url


def openai_service(
    make_service: Callable[..., NewsService], seed_article: Article, url: str, **settings: object
) -> NewsService:
    options: dict[str, object] = {
        "llm": "openai:smollm2",
        "openai_base_url": url,
        "llm_temperature": 0.0,  # greedy: the same answer on every run
        "llm_max_tokens": 120,
        "llm_timeout_s": 120.0,
    }
    service = make_service(**(options | settings))
    service.add(seed_article)
    return service


NONE_SUPPORTED = (
    "None of the model's sentences is supported by the passage it cites; "
    "this is the extractive answer."
)


def unmarked(sentence: str) -> str:
    """A sentence as the checker compares it: without its [n] markers."""
    return next((c.text for c in split_claims(sentence)), "")


@pytest.mark.server
def test_smollm2_answers_are_checked_sentence_by_sentence(
    llama_server: str, make_service: Callable[..., NewsService], seed_article: Article
) -> None:
    service = openai_service(make_service, seed_article, llama_server)
    # the same store answered without the model: what a fallback must give
    extractive = build_service(
        Settings(llm="extractive"), embeddings=service.embeddings, store=service.store
    )
    dropped = kept = 0
    for question in SEED_QUESTIONS:
        *streamed, answer = service.stream(question)
        assert isinstance(answer, Answer)
        assert streamed, "the server streamed no tokens"
        data = answer.to_json()
        assert_ask_json_contract(data, {seed_article.id: seed_article.text})
        written = [c.text for c in split_claims("".join(str(t) for t in streamed))]
        removed = [unmarked(sentence) for sentence in answer.dropped]
        assert set(removed) <= set(written)  # what was removed is what the model wrote
        dropped += len(answer.dropped)
        if answer.answerer == "extractive":
            # nothing the model wrote stood: the answer is the extractive one, and says so
            assert answer.notice == NONE_SUPPORTED
            assert removed == written
            assert answer.answer == extractive.ask(question).answer
            continue
        assert answer.answerer == "openai:smollm2" and answer.notice is None
        claims = split_claims(answer.answer)
        assert claims, "the model's answer kept no sentence but was not replaced"
        # every sentence the model wrote is either kept or listed as dropped, never both
        assert sorted([c.text for c in claims] + removed) == sorted(written)
        # every sentence kept cites a passage holding its numbers, dates and names
        for claim in claims:
            kept += 1
            assert claim.markers, claim
            for n in claim.markers:
                citation = answer.citations[n - 1]
                assert citation.verified
                passage = next(p for p in answer.passages if p.chunk_id == citation.chunk_id)
                assert citation.quote in passage.text
                assert missing_facts(claim.text, f"{passage.title} {passage.text}") == []
    assert dropped >= 1, "SmolLM2-135M wrote nothing the checker had to remove"
    print(f"\nSmolLM2 over the seed questions: kept {kept}, dropped {dropped} sentences")


@pytest.mark.server
def test_ask_json_through_the_cli_with_the_real_server(
    llama_server: str, make_service: Callable[..., NewsService], seed_article: Article
) -> None:
    service = openai_service(make_service, seed_article, llama_server)
    result = CliRunner().invoke(
        main, ["ask", SEED_QUESTIONS[3], "--json"], obj=Context(_service=service)
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert_ask_json_contract(data, {seed_article.id: seed_article.text})
    assert all(c["verified"] for c in data["citations"])


@pytest.mark.server
def test_a_stalled_server_gives_the_extractive_answer_within_the_timeout(
    make_service: Callable[..., NewsService], seed_article: Article
) -> None:
    with serve_stalling() as url:
        service = openai_service(make_service, seed_article, f"{url}/v1", llm_timeout_s=1.5)
        started = time.perf_counter()
        answer = service.ask("Why did China refuse the meeting?")
        waited = time.perf_counter() - started
    assert 1.5 <= waited < 1.5 + 5.0  # the deadline, plus retrieval and the extractive answer
    assert answer.answerer == "extractive" and "citing US restrictions" in answer.answer
    assert answer.notice is not None and answer.notice.startswith(
        "The language model did not answer (timed out"
    )


@pytest.mark.server
def test_a_follow_up_to_a_stalled_server_waits_out_one_timeout_not_two(
    make_service: Callable[..., NewsService], seed_article: Article
) -> None:
    history = [Turn("Who is Li Shangfu?", "China's defence minister. [1]")]
    with serve_stalling() as url:
        service = openai_service(make_service, seed_article, f"{url}/v1", llm_timeout_s=1.5)
        started = time.perf_counter()
        answer = service.ask("and why did he refuse?", history=history)  # rewrite, then answer
        waited = time.perf_counter() - started
    assert 1.5 <= waited < 1.5 + 5.0
    assert answer.answerer == "extractive" and answer.notice is not None


def test_a_server_that_is_not_there_gives_the_extractive_answer_at_once(
    make_service: Callable[..., NewsService], seed_article: Article, tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    service = openai_service(make_service, seed_article, url, llm_timeout_s=10.0)
    started = time.perf_counter()
    result = CliRunner().invoke(
        main, ["ask", "Why did China refuse the meeting?"], obj=Context(_service=service)
    )
    assert time.perf_counter() - started < 10.0
    assert result.exit_code == 0, result.output
    assert result.output.startswith(
        "(The language model did not answer (could not connect); this is the extractive answer.)"
    )
