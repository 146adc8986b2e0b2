"""LangChain's own standard test suites (package `langchain-tests`), so the hybrid retriever and
each embedding backend can be dropped into any LangChain app: `RetrieversIntegrationTests` for
`HybridRetriever` (number of results: `k`), `EmbeddingsIntegrationTests` for the torch and the
onnx-int8 backends, and for the fake embedder the unit tests plug in in their place.

The suites build their subject from a class and parameters. The embedding suites get the run's
one loaded model instead (their `model` fixture is overridden; no standard test is), so the
model is not loaded once per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeEmbeddings
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from langchain_tests.integration_tests import EmbeddingsIntegrationTests, RetrieversIntegrationTests

from retrieval.build import build_service
from retrieval.config import Settings
from retrieval.index.embeddings import SentenceEmbeddings
from retrieval.index.onnx_embeddings import OnnxEmbeddings
from retrieval.index.retriever import HybridRetriever
from retrieval.ingest.articles import make_article
from retrieval.service import NewsService

ARTICLES = [
    make_article(
        title="Port strike ends",
        text="Dock workers at the port of Rotterdam voted on Saturday to end a nine-day strike. "
        "The operator agreed to a 6% pay rise over two years.",
        source="Harbour Times",
        published_at="2024-03-02",
    ),
    make_article(
        title="Council elected in Port Ellery",
        text="Voters in Port Ellery elected a new council on Sunday. Turnout was 61 percent. "
        "The new council leader is Tomas Reyes, a former teacher.",
        published_at="2024-05-01",
    ),
    make_article(
        title="Bridge reopens",
        text="The Harlow bridge reopened on Monday after six months of repairs. "
        "Traffic through the town centre fell by a third while it was shut.",
    ),
    make_article(
        title="Orchard harvest",
        text="Apple growers in Kent expect a record harvest after a warm spring. "
        "Pickers will be paid more this year, the growers' association said.",
    ),
]


@pytest.fixture(scope="module")
def news_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NewsService]:
    """A store of four short articles (six passages), embedded by the fake."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path_factory.mktemp("standard"),
        chunk_size=120,
        chunk_overlap=0,
    )
    service = build_service(settings, embeddings=FakeEmbeddings())
    service.add_many(ARTICLES)
    yield service
    service.close()


class TestHybridRetrieverStandard(RetrieversIntegrationTests):
    @pytest.fixture(autouse=True)
    def _over(self, news_store: NewsService) -> None:
        self.service = news_store

    @property
    def retriever_constructor(self) -> type[BaseRetriever]:
        return HybridRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {
            "store": self.service.store,
            "vectors": self.service.retriever.vectors,
            "kb": "default",
        }

    @property
    def retriever_query_example(self) -> str:
        return "What pay rise did the dock workers get?"


def test_the_store_holds_more_passages_than_the_suite_asks_for(news_store: NewsService) -> None:
    # the suite's k=3 must not be met only because the store has three passages in all
    assert news_store.store.count_chunks("default") > 3


class TestSentenceEmbeddingsStandard(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[Embeddings]:
        return SentenceEmbeddings

    @pytest.fixture
    def model(self, embeddings: SentenceEmbeddings) -> Embeddings:
        return embeddings  # the run's one loaded model, built as embeddings_class() is


class TestOnnxEmbeddingsStandard(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[Embeddings]:
        return OnnxEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"cache_dir": Path("models")}

    @pytest.fixture
    def model(self, onnx_int8: OnnxEmbeddings) -> Embeddings:
        return onnx_int8  # exported once per run, as embeddings_class(cache_dir=...) is


class TestFakeEmbeddingsStandard(EmbeddingsIntegrationTests):
    """The fake passes the same suite as the backends it stands in for."""

    @property
    def embeddings_class(self) -> type[Embeddings]:
        return FakeEmbeddings


def test_the_shared_models_are_what_the_suites_would_build(
    embeddings: SentenceEmbeddings, onnx_int8: OnnxEmbeddings
) -> None:
    """What the overridden `model` fixtures hand over is an instance of `embeddings_class`
    with its default parameters: the suites test what they would have built."""
    built = SentenceEmbeddings()
    assert (type(embeddings), embeddings.model_name, embeddings.batch_size) == (
        type(built),
        built.model_name,
        built.batch_size,
    )
    onnx = OnnxEmbeddings(cache_dir=Path("models"))
    assert (type(onnx_int8), onnx_int8.model_name, onnx_int8.batch_size) == (
        type(onnx),
        onnx.model_name,
        onnx.batch_size,
    )
