"""Shared fixtures: the real embedding model (loaded once per run), a fake embedder, and
services on fresh stores.

Two markers split the suite (`make test-fast` runs `-m "not model and not server"`):

- `model`: the test loads the real embedding model (torch or ONNX), here or in a child
  process. Every test that requests the `embeddings` or `onnx_int8` fixture is marked so
  automatically.
- `server`: the test starts a server — anything listening on a socket (Chroma, llama.cpp,
  the fake Discord, the fake model servers, the loopback HTTP servers of the fetch tests).

The markers are kept honest: in a test without `model`, loading the real model fails; in a
test without `server`, listening on a socket fails. The real model is loaded at most once per
run; the summary says how often it was, and the run fails if more than once.
"""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeEmbeddings

from retrieval.build import build_service
from retrieval.config import Settings
from retrieval.index import onnx_embeddings
from retrieval.index.embeddings import SentenceEmbeddings
from retrieval.index.onnx_embeddings import OnnxEmbeddings
from retrieval.ingest.articles import article_from_dict
from retrieval.service import NewsService
from retrieval.types import Article

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
# The BBC set of the shared data, beside the project's folder in the team's workspace but not
# in every clone: the few tests that need its real articles say so and skip without it.
BBC_NEWS = SHARED_DATA / "bbc_news.jsonl"
needs_bbc = pytest.mark.skipif(
    not BBC_NEWS.exists(), reason=f"needs the shared BBC set at {BBC_NEWS}"
)
SEED_JSON = ROOT / "retrieval" / "demo" / "seed_article.json"


# -- markers, and how many times the real model was loaded ------------------------------------


class ModelLoads:
    """Counts, in this process, the sentence-transformers models loaded (by any
    `SentenceEmbeddings`) and the ONNX exports (each reads the torch weights to convert them)."""

    def __init__(self) -> None:
        self.torch = 0
        self.onnx_exports = 0
        self._model_property = SentenceEmbeddings.model
        self._export = onnx_embeddings._export

    def install(self) -> None:
        loads, model_property, export = self, self._model_property, self._export

        def model(self: SentenceEmbeddings) -> Any:
            loaded = model_property.fget(self)  # type: ignore[attr-defined]
            if type(loaded).__name__ == "SentenceTransformer" and not hasattr(
                loaded, "_newsbot_counted"
            ):
                loaded._newsbot_counted = True
                loads.torch += 1
            return loaded

        def counted_export(*args: Any, **kwargs: Any) -> Any:
            loads.onnx_exports += 1
            return export(*args, **kwargs)

        SentenceEmbeddings.model = property(model)  # type: ignore[method-assign,assignment]
        onnx_embeddings._export = counted_export

    def uninstall(self) -> None:
        SentenceEmbeddings.model = self._model_property  # type: ignore[method-assign]
        onnx_embeddings._export = self._export


_loads = ModelLoads()


def pytest_configure(config: pytest.Config) -> None:
    _loads.install()


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_SHARED_MODELS, ignore_errors=True)
    _loads.uninstall()


MODEL_FIXTURES = {"embeddings", "onnx_int8"}


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.model)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.write_line(
        f"real embedding model loaded {_loads.torch} time(s) in this process "
        f"(ONNX exports: {_loads.onnx_exports})"
    )
    if _loads.torch > 1:
        terminalreporter.write_line(
            "error: the real model must be loaded once per run: use the `embeddings` fixture",
            red=True,
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _loads.torch > 1 and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """A test not marked `model` cannot load the real model, one not marked `server` cannot
    listen on a socket — in its fixtures (of any scope) too: so `-m "not model and not
    server"` is what it says."""
    patch = pytest.MonkeyPatch()
    if item.get_closest_marker("model") is None:

        def refuse_model(self: Any) -> Any:
            raise AssertionError(
                "this test loads the real embedding model: use FakeEmbeddings (tests/fakes.py)"
                " or mark it @pytest.mark.model"
            )

        patch.setattr(SentenceEmbeddings, "model", property(refuse_model))
        patch.setattr(OnnxEmbeddings, "model", property(refuse_model))
    if item.get_closest_marker("server") is None:

        def refuse_listen(self: socket.socket, *args: Any) -> None:
            raise AssertionError("this test starts a server: mark it @pytest.mark.server")

        patch.setattr(socket.socket, "listen", refuse_listen)
    try:
        return (yield)
    finally:
        patch.undo()


# -- environment, models and services ----------------------------------------------------------


_SHARED_MODELS = Path(tempfile.mkdtemp(prefix="newsbot-test-models-"))


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's .env or store, or sends anything anywhere."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NEWSBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ANONYMIZED_TELEMETRY", "False")
    # the default backend's ONNX export, made once per run by the first process needing it
    monkeypatch.setenv("NEWSBOT_MODEL_CACHE_DIR", str(_SHARED_MODELS))


@pytest.fixture(scope="session")
def embeddings() -> SentenceEmbeddings:
    """The real model, the only one loaded in a run (tests using it are marked `model`)."""
    model = SentenceEmbeddings()
    model.encode(["warm up"])
    return model


@pytest.fixture(scope="session")
def onnx_model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def onnx_int8(onnx_model_cache: Path) -> OnnxEmbeddings:
    """The same model on the onnx-int8 backend, exported once per run (about 10-30 s)."""
    model = OnnxEmbeddings(cache_dir=onnx_model_cache)
    model.encode(["warm up"])
    return model


@pytest.fixture
def fake_embeddings() -> FakeEmbeddings:
    return FakeEmbeddings()


def _services(embedder: Any, tmp_path: Path) -> Iterator[Callable[..., NewsService]]:
    built: list[NewsService] = []

    def make(name: str = "store", **settings: object) -> NewsService:
        config = Settings(data_dir=tmp_path / name, **settings)  # type: ignore[arg-type]
        service = build_service(config, embeddings=embedder)
        built.append(service)
        return service

    yield make
    for service in built:
        service.close()


@pytest.fixture
def make_service(
    embeddings: SentenceEmbeddings, tmp_path: Path
) -> Iterator[Callable[..., NewsService]]:
    """Services on stores under tmp_path, sharing the loaded model; closed at the end."""
    yield from _services(embeddings, tmp_path)


@pytest.fixture
def make_fake_service(
    fake_embeddings: FakeEmbeddings, tmp_path: Path
) -> Iterator[Callable[..., NewsService]]:
    """As `make_service`, on the fake embedder: for what does not hang on the model's sense."""
    yield from _services(fake_embeddings, tmp_path)


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


@pytest.fixture
def fake_service(make_fake_service: Callable[..., NewsService]) -> NewsService:
    return make_fake_service()


@pytest.fixture
def fake_seeded(fake_service: NewsService, seed_article: Article) -> NewsService:
    fake_service.add(seed_article)
    return fake_service
