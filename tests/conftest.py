"""Shared fixtures: the real embedding model (loaded once) and services on fresh stores."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from retrieval.build import build_service
from retrieval.config import Settings
from retrieval.index.embeddings import SentenceEmbeddings
from retrieval.ingest.articles import article_from_dict
from retrieval.service import NewsService
from retrieval.types import Article

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
SEED_JSON = ROOT / "retrieval" / "demo" / "seed_article.json"


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's .env or store, or sends anything anywhere."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NEWSBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ANONYMIZED_TELEMETRY", "False")


@pytest.fixture(scope="session")
def embeddings() -> SentenceEmbeddings:
    model = SentenceEmbeddings()
    model.encode(["warm up"])
    return model


@pytest.fixture
def make_service(
    embeddings: SentenceEmbeddings, tmp_path: Path
) -> Iterator[Callable[..., NewsService]]:
    """Services on stores under tmp_path, sharing the loaded model; closed at the end."""
    built: list[NewsService] = []

    def make(name: str = "store", **settings: object) -> NewsService:
        config = Settings(data_dir=tmp_path / name, **settings)  # type: ignore[arg-type]
        service = build_service(config, embeddings=embeddings)
        built.append(service)
        return service

    yield make
    for service in built:
        service.close()


@pytest.fixture(scope="session")
def seed_article() -> Article:
    return article_from_dict(json.loads(SEED_JSON.read_text("utf-8")))


@pytest.fixture
def service(make_service: Callable[..., NewsService]) -> NewsService:
    return make_service()


@pytest.fixture
def seeded(service: NewsService, seed_article: Article) -> NewsService:
    service.add(seed_article)
    return service
