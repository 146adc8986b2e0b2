"""The one object every front end uses: ask, add, list, remove — built once from settings."""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retrieval.answer.condense import condense_question
from retrieval.answer.extractive import ExtractiveAnswerer
from retrieval.errors import ArticleError, QuestionError
from retrieval.index.retriever import HybridRetriever
from retrieval.index.store import ArticleStore, body_key
from retrieval.index.vector_cache import VectorCache
from retrieval.ingest.articles import load_path
from retrieval.ingest.chunking import embedding_text, split_article
from retrieval.news.step import NewsAnswering, annotate
from retrieval.pipeline import build_answer_chain
from retrieval.types import AddResult, Answer, Article, Chunk, Passage, StoredArticle, Turn

if TYPE_CHECKING:
    from retrieval.answer.generative import GenerativeAnswerer
    from retrieval.config import Settings
    from retrieval.index.embeddings import SentenceEmbeddings

__all__ = [
    "AddResult",
    "NewsService",
    "QuestionError",
    "build_service",
    "is_url",
    "release_freed_memory",
]

DEFAULT_KB = "default"


def is_url(source: str) -> bool:
    return source.lower().startswith(("http://", "https://"))


class NewsService:
    def __init__(
        self,
        *,
        store: ArticleStore,
        embeddings: SentenceEmbeddings,
        answerer: ExtractiveAnswerer | GenerativeAnswerer,
        condense: Callable[[str, Sequence[Turn]], str] = condense_question,
        chunk_size: int = 600,
        chunk_overlap: int = 120,
        top_k: int = 4,
        max_question_chars: int = 1000,
        max_article_chars: int = 500_000,
        fetch: Callable[[str], Article] | None = None,
        ingest_group: int = 256,
        clock: Callable[[], date | None] = date.today,
        vectors: VectorCache | None = None,
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
        self.ingest_group = ingest_group
        # "today" for the question's time words; a clock returning None means the day of
        # asking is unknown (an eval set without dates), and time words then filter nothing.
        self.clock = clock
        # question and sentence vectors, shared by the retriever and the extractive answerer
        if vectors is None:  # an extractive answerer made by the caller has its own
            vectors = getattr(answerer, "vectors", None)
        self.vectors = VectorCache(embeddings) if vectors is None else vectors
        self.retriever = HybridRetriever(store, embeddings, vectors=self.vectors)
        self.news = NewsAnswering(
            retrieve=self.retrieve,
            compose=answerer.answer,
            extractive=_extractive_of(answerer, embeddings, self.vectors),
            encode=self.vectors.encode,
        )
        self._chain = build_answer_chain(
            retrieve=self.news.retrieve,
            compose=self.news.compose,
            answerer_name=answerer.name,
            condense_with=condense,
            finish=annotate,
        )

    @property
    def streams(self) -> bool:
        """Whether answers arrive token by token (`ask(on_token=...)`) before being checked."""
        return bool(getattr(self.answerer, "streams", False))

    # -- asking ------------------------------------------------------------------------
    def retrieve(self, question: str, kb: str = DEFAULT_KB, k: int | None = None) -> list[Passage]:
        """The k best passages (hybrid: dense and BM25, fused), without repeats."""
        return self.retriever.retrieve(question, kb, k or self.top_k)

    def ask(
        self,
        question: str,
        *,
        kb: str = DEFAULT_KB,
        k: int | None = None,
        history: Sequence[Turn] = (),
        on_token: Callable[[str], None] | None = None,
        today: date | None = None,
    ) -> Answer:
        """Answer a question from the articles of `kb`. Time words ("latest", "last week")
        are resolved against `today`, else the service's clock."""
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
        state = {
            "question": question,
            "history": list(history),
            "kb": kb,
            "k": k or self.top_k,
            "today": today or self.clock(),
        }
        if on_token is not None and self.streams:
            state["on_token"] = on_token
        answer = self._chain.invoke(state)
        # An article removed while this answer was composed from its passages: answer again,
        # so no citation ever names an article that is gone (retrieval no longer finds it).
        for _ in range(3):
            cited = {c.article_id for c in answer.citations}
            if all(self.store.has_article(kb, article_id) for article_id in cited):
                break
            answer = self._chain.invoke({**state, "on_token": None})  # tokens already streamed
        else:
            raise RuntimeError("the articles kept changing while the question was answered")
        return answer

    # -- adding ------------------------------------------------------------------------
    def load(self, source: str) -> Iterator[Article]:
        """Articles from a path (file or folder) or an http(s) URL."""
        if is_url(source):
            if self._fetch is None:
                raise ArticleError(f"{source}: fetching URLs is not enabled")
            yield self._fetch(source)
        else:
            yield from load_path(Path(source).expanduser())

    def fetch(self, url: str) -> Article:
        """The article at an http(s) URL, and never a local file: for sources from strangers."""
        if not is_url(url):
            raise ArticleError(f"{url[:200]}: only http:// and https:// web addresses")
        if self._fetch is None:
            raise ArticleError(f"{url}: fetching URLs is not enabled")
        return self._fetch(url)

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
        """Store articles not yet known, embedding and writing their chunks in groups of
        about `ingest_group` chunks. A second thread embeds each group while this one writes
        the group before it, so the store's time overlaps the model's; an article is
        reported once its group is stored."""
        results: list[AddResult] = []
        pending: list[tuple[Article, list[Chunk]]] = []
        # Articles queued, embedded or stored by this call: known before the store shows them.
        seen_ids: set[str] = set()
        seen_bodies: dict[str, str] = {}
        embedding: list[tuple[Future[Any], list[tuple[Article, list[Chunk]]]]] = []

        def report(result: AddResult) -> None:
            results.append(result)
            if on_result is not None:
                on_result(result)

        def write_embedded() -> None:
            while embedding:
                vectors_ready, group = embedding.pop()
                vectors = vectors_ready.result()
                items, offset = [], 0
                for article, chunks in group:
                    items.append((article, chunks, vectors[offset : offset + len(chunks)]))
                    offset += len(chunks)
                self.store.add_articles(kb, items)
                for article, chunks in group:
                    report(AddResult(article.id, article.title, len(chunks), "added"))
                release_freed_memory()

        def flush(embedder: ThreadPoolExecutor) -> None:
            group = list(pending)
            pending.clear()
            texts = [embedding_text(a, c) for a, chunks in group for c in chunks]
            started = embedder.submit(self.embeddings.encode, texts)
            write_embedded()  # the group before this one, while this one is embedded
            embedding.append((started, group))

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsbot-embed") as embedder:
            for article in articles:
                if article.id in seen_ids or self.store.has_article(kb, article.id):
                    report(AddResult(article.id, article.title, 0, "unchanged"))
                    continue
                key = body_key(article.text)
                same = seen_bodies.get(key) or self.store.find_same_body(kb, article.text)
                if same is not None:
                    report(AddResult(article.id, article.title, 0, "unchanged", duplicate_of=same))
                    continue
                pending.append((article, self.chunk(article)))
                seen_ids.add(article.id)
                seen_bodies[key] = article.id
                if sum(len(chunks) for _, chunks in pending) >= self.ingest_group:
                    flush(embedder)
            if pending:
                flush(embedder)
            write_embedded()
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


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(None).malloc_trim  # the C library the interpreter runs on
    except (OSError, AttributeError, TypeError):  # not glibc (macOS, musl): nothing to do
        return None


def release_freed_memory() -> None:
    """Give the memory freed since the last call back to the system. glibc keeps what torch
    frees between batches of different shapes, so without this an ingest's resident memory
    rose with the corpus: 964 → 1,138 MB over 800 BBC articles, against 639 → 654 MB with a
    trim after each group (`python benchmarks/ingest_store_memory.py` has the store side)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _extractive_of(
    answerer: object, embeddings: SentenceEmbeddings, vectors: VectorCache
) -> ExtractiveAnswerer:
    """The extractive answerer whose sentence scores timelines and disagreement use: the
    answerer itself, a generative answerer's fallback, or a new one."""
    if isinstance(answerer, ExtractiveAnswerer):
        return answerer
    fallback = getattr(answerer, "fallback", None)
    if isinstance(fallback, ExtractiveAnswerer):
        return fallback
    return ExtractiveAnswerer(embeddings, vectors=vectors)


def build_service(
    settings: Settings,
    *,
    embeddings: SentenceEmbeddings | None = None,
    clock: Callable[[], date | None] | None = None,
) -> NewsService:
    """The composition root: everything is built here, once, from settings (a loaded
    embedding model may be passed in to share it). "Today" is `clock`, else the `today`
    setting, else the calendar."""
    from retrieval.answer.chat_models import build_chat_model, parse_llm_setting
    from retrieval.answer.extractive import ExtractiveAnswerer
    from retrieval.index.embeddings import load_embeddings
    from retrieval.index.store import open_store
    from retrieval.ingest.fetch import fetch_article

    # a bad NEWSBOT_LLM fails before the store is opened (and locked)
    model_spec = parse_llm_setting(settings.llm)
    chat_model = build_chat_model(model_spec, settings) if model_spec else None
    if embeddings is None:
        embeddings = load_embeddings(settings)
    store = open_store(chroma_path=settings.chroma_path, chroma_url=settings.chroma_url)

    def fetch(url: str) -> Article:
        return fetch_article(
            url, timeout_s=settings.fetch_timeout_s, allow_private=settings.allow_private_urls
        )

    vectors = VectorCache(embeddings)
    extractive = ExtractiveAnswerer(embeddings, vectors=vectors)
    answerer: ExtractiveAnswerer | GenerativeAnswerer = extractive
    condense = condense_question
    if model_spec is not None and chat_model is not None:
        from retrieval.answer.citation_check import CitationChecker
        from retrieval.answer.generative import GenerativeAnswerer

        answerer = GenerativeAnswerer(
            model=chat_model,
            name=model_spec.name,
            checker=CitationChecker(
                embeddings,
                min_similarity=settings.citation_min_similarity,
                mode=settings.citation_check,
            ),
            fallback=extractive,
            timeout_s=settings.llm_timeout_s,
            condense_with_model=settings.llm_condense,
        )
        condense = answerer.condense
    return NewsService(
        store=store,
        embeddings=embeddings,
        answerer=answerer,
        condense=condense,
        chunk_size=settings.chunk_size,
        chunk_overlap=settings.chunk_overlap,
        top_k=settings.top_k,
        max_question_chars=settings.max_question_chars,
        max_article_chars=settings.max_article_chars,
        fetch=fetch,
        ingest_group=settings.ingest_group_chunks,
        clock=clock or (lambda: settings.today or date.today()),
        vectors=vectors,
    )
