"""The one object every front end uses: ask, add, list, remove — built once from settings."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from retrieval.answers import Answer
from retrieval.articles import Article, ArticleError, load_path
from retrieval.chain import build_answer_chain
from retrieval.chunking import Chunk, embedding_text, split_article
from retrieval.condense import Turn
from retrieval.store import ArticleStore, Passage, StoredArticle

if TYPE_CHECKING:
    from retrieval.config import Settings
    from retrieval.embeddings import SentenceEmbeddings
    from retrieval.extractive import ExtractiveAnswerer

__all__ = ["AddResult", "NewsService", "QuestionError", "build_service", "is_url"]

DEFAULT_KB = "default"
_EMBED_GROUP = 256  # chunks embedded per model call during ingest


class QuestionError(ValueError):
    """A question that cannot be asked (empty, too long); shown to the user as is."""


@dataclass(frozen=True)
class AddResult:
    article_id: str
    title: str
    chunks: int
    status: Literal["added", "unchanged"]


def is_url(source: str) -> bool:
    return source.lower().startswith(("http://", "https://"))


class NewsService:
    def __init__(
        self,
        *,
        store: ArticleStore,
        embeddings: SentenceEmbeddings,
        answerer: ExtractiveAnswerer,
        chunk_size: int = 600,
        chunk_overlap: int = 120,
        top_k: int = 4,
        max_question_chars: int = 1000,
        max_article_chars: int = 500_000,
        fetch: Callable[[str], Article] | None = None,
    ) -> None:
        self.store = store
        self.embeddings = embeddings
        self.answerer = answerer
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self.top_k = top_k
        self.max_question_chars = max_question_chars
        self.max_article_chars = max_article_chars
        self._fetch = fetch
        self._chain = build_answer_chain(
            retrieve=self.retrieve, compose=answerer.answer, answerer_name=answerer.name
        )

    # -- asking ------------------------------------------------------------------------
    def retrieve(self, question: str, kb: str = DEFAULT_KB, k: int | None = None) -> list[Passage]:
        """The k best passages, without repeats: the same story stored twice (another
        headline, another id) must not fill the top k."""
        k = k or self.top_k
        vector = self.embeddings.embed_query(question)
        unique: dict[str, Passage] = {}
        for passage in self.store.search(kb, vector, 3 * k):
            unique.setdefault(" ".join(passage.text.lower().split()), passage)
        return list(unique.values())[:k]

    def ask(
        self,
        question: str,
        *,
        kb: str = DEFAULT_KB,
        k: int | None = None,
        history: Sequence[Turn] = (),
    ) -> Answer:
        question = question.strip()
        if not question:
            raise QuestionError("the question is empty")
        if len(question) > self.max_question_chars:
            raise QuestionError(
                f"the question is too long ({len(question)} characters; "
                f"the limit is {self.max_question_chars})"
            )
        if k is not None and not 1 <= k <= 50:
            raise QuestionError("k must be between 1 and 50")
        state = {"question": question, "history": list(history), "kb": kb, "k": k or self.top_k}
        return self._chain.invoke(state)

    # -- adding ------------------------------------------------------------------------
    def load(self, source: str) -> Iterator[Article]:
        """Articles from a path (file or folder) or an http(s) URL."""
        if is_url(source):
            if self._fetch is None:
                raise ArticleError(f"{source}: fetching URLs is not enabled")
            yield self._fetch(source)
        else:
            yield from load_path(Path(source).expanduser())

    def chunk(self, article: Article) -> list[Chunk]:
        if len(article.text) > self.max_article_chars:
            raise ArticleError(
                f"{article.title!r}: the article is too long ({len(article.text)} characters; "
                f"the limit is {self.max_article_chars})"
            )
        return split_article(article, self.chunk_size, self.chunk_overlap)

    def add(self, article: Article, *, kb: str = DEFAULT_KB) -> AddResult:
        return self.add_many([article], kb=kb)[0]

    def add_many(
        self,
        articles: Iterable[Article],
        *,
        kb: str = DEFAULT_KB,
        on_result: Callable[[AddResult], None] | None = None,
    ) -> list[AddResult]:
        """Store articles not yet known, embedding their chunks in large batches."""
        results: list[AddResult] = []
        pending: list[tuple[Article, list[Chunk]]] = []
        pending_ids: set[str] = set()

        def report(result: AddResult) -> None:
            results.append(result)
            if on_result is not None:
                on_result(result)

        def flush() -> None:
            texts = [embedding_text(a, c) for a, chunks in pending for c in chunks]
            vectors = self.embeddings.encode(texts)
            offset = 0
            for article, chunks in pending:
                self.store.add_article(kb, article, chunks, vectors[offset : offset + len(chunks)])
                offset += len(chunks)
                report(AddResult(article.id, article.title, len(chunks), "added"))
            pending.clear()
            pending_ids.clear()

        for article in articles:
            if article.id in pending_ids or self.store.has_article(kb, article.id):
                report(AddResult(article.id, article.title, 0, "unchanged"))
                continue
            pending.append((article, self.chunk(article)))
            pending_ids.add(article.id)
            if sum(len(chunks) for _, chunks in pending) >= _EMBED_GROUP:
                flush()
        if pending:
            flush()
        return results

    # -- the rest ----------------------------------------------------------------------
    def list(self, *, kb: str = DEFAULT_KB) -> list[StoredArticle]:
        return self.store.list_articles(kb)

    def get(self, article_id: str, *, kb: str = DEFAULT_KB) -> Article | None:
        return self.store.get_article(kb, article_id)

    def remove(self, article_id: str, *, kb: str = DEFAULT_KB) -> bool:
        return self.store.remove_article(kb, article_id)

    def close(self) -> None:
        self.store.close()


def build_service(
    settings: Settings, *, embeddings: SentenceEmbeddings | None = None
) -> NewsService:
    """The composition root: everything is built here, once, from settings (a loaded
    embedding model may be passed in to share it)."""
    from retrieval.embeddings import SentenceEmbeddings
    from retrieval.extractive import ExtractiveAnswerer
    from retrieval.fetch import fetch_article
    from retrieval.store import open_store

    if settings.llm != "extractive":
        from retrieval.store import StoreError

        raise StoreError(
            f"NEWSBOT_LLM={settings.llm!r} is not supported yet; use 'extractive' (the default)"
        )
    if embeddings is None:
        embeddings = SentenceEmbeddings(settings.embedding_model, settings.embedding_batch_size)
    store = open_store(chroma_path=settings.chroma_path, chroma_url=settings.chroma_url)

    def fetch(url: str) -> Article:
        return fetch_article(
            url, timeout_s=settings.fetch_timeout_s, allow_private=settings.allow_private_urls
        )

    return NewsService(
        store=store,
        embeddings=embeddings,
        answerer=ExtractiveAnswerer(embeddings),
        chunk_size=settings.chunk_size,
        chunk_overlap=settings.chunk_overlap,
        top_k=settings.top_k,
        max_question_chars=settings.max_question_chars,
        max_article_chars=settings.max_article_chars,
        fetch=fetch,
    )
