"""The composition root: settings are read once by the caller, and everything newsbot runs
on is built here from them, once, and handed to what uses it. Nothing else reads settings.

    settings → embeddings, store → retriever, answerer, news step → answer pipeline
             → ingester → NewsService
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

from retrieval.errors import ModelConfigError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from retrieval.answer.chat_models import ModelSpec
    from retrieval.config import Settings
    from retrieval.index.embeddings import SentenceEmbeddings
    from retrieval.index.store import ArticleStore
    from retrieval.service import NewsService
    from retrieval.types import Article

__all__ = ["build_chat_model", "build_service", "is_feed_type", "load_embeddings"]

_EXTRA_HINT = "pip install 'newsbot[llm]'"


def load_embeddings(settings: Settings) -> SentenceEmbeddings:
    """The embedding model the settings name, on the backend they name (loaded on first use)."""
    from retrieval.index.embeddings import ONNX_BATCH_SIZE, SentenceEmbeddings

    if settings.embedding_backend in ("onnx", "onnx-int8"):
        from retrieval.index.onnx_embeddings import OnnxEmbeddings

        explicit = "embedding_batch_size" in settings.model_fields_set
        return OnnxEmbeddings(
            settings.embedding_model,
            settings.embedding_batch_size if explicit else ONNX_BATCH_SIZE,
            cache_dir=settings.model_cache_dir or settings.data_dir / "models",
            int8=settings.embedding_backend == "onnx-int8",
        )
    return SentenceEmbeddings(settings.embedding_model, settings.embedding_batch_size)


def build_chat_model(spec: ModelSpec, settings: Settings) -> BaseChatModel:
    """The LangChain chat model for `spec`, with the configured timeout and token limit.
    Retries are off: a failed call falls back to the extractive answer at once."""
    if spec.provider == "ollama":
        try:
            from langchain_ollama import ChatOllama
        except ImportError as exc:
            raise ModelConfigError(
                f"NEWSBOT_LLM={spec.name} needs langchain-ollama: {_EXTRA_HINT}"
            ) from exc
        return ChatOllama(
            model=spec.model,
            base_url=settings.ollama_url,
            temperature=settings.llm_temperature,
            num_predict=settings.llm_max_tokens,
            client_kwargs={"timeout": settings.llm_timeout_s},
        )
    try:
        from langchain_openai import ChatOpenAI
    except ImportError as exc:
        raise ModelConfigError(
            f"NEWSBOT_LLM={spec.name} needs langchain-openai: {_EXTRA_HINT}"
        ) from exc
    options: dict[str, Any] = {}
    if settings.openai_api_key is not None:
        options["api_key"] = settings.openai_api_key
    elif settings.openai_base_url:
        options["api_key"] = "not-needed"  # local servers take any key; the client wants one
    try:
        return ChatOpenAI(
            model=spec.model,
            base_url=settings.openai_base_url,
            temperature=settings.llm_temperature,
            max_completion_tokens=settings.llm_max_tokens,
            # langchain-openai sends max_completion_tokens; llama.cpp and older servers read
            # only max_tokens
            extra_body={"max_tokens": settings.llm_max_tokens},
            timeout=settings.llm_timeout_s,
            max_retries=0,
            **options,
        )
    except Exception as exc:  # e.g. no key for api.openai.com: say which setting, not the value
        raise ModelConfigError(
            f"NEWSBOT_LLM={spec.name}: set NEWSBOT_OPENAI_API_KEY, or NEWSBOT_OPENAI_BASE_URL "
            f"for a local server ({type(exc).__name__})"
        ) from None


def is_feed_type(content_type: str) -> bool:
    """Content types feeds are served as: any XML (application/rss+xml, text/xml, ...), any
    text (servers label feeds loosely), JSON Feed, or none at all."""
    kind = content_type.lower()
    return (
        not kind
        or kind.startswith("text/")
        or kind.endswith("xml")
        or kind
        in (
            "application/json",
            "application/feed+json",
        )
    )


def build_service(
    settings: Settings,
    *,
    embeddings: SentenceEmbeddings | None = None,
    store: ArticleStore | None = None,
    chat_model: BaseChatModel | None = None,
    clock: Callable[[], date | None] | None = None,
    serve: bool = False,
) -> NewsService:
    """The service, built from settings. Parts may be handed in instead: a loaded embedding
    model or an open store to share, a chat model in place of the one `settings.llm` names
    (which must still name one: it is the answers' `answerer`). "Today" is `clock`, else the
    `today` setting, else the calendar. `serve`: a long-running command (discord, chat,
    watch, ingest) that serves its embedded store to the other newsbot commands on this machine."""
    from retrieval.answer.chat_models import parse_llm_setting
    from retrieval.answer.condense import condense_question
    from retrieval.answer.extractive import ExtractiveAnswerer
    from retrieval.feeds.poller import FeedPoller
    from retrieval.feeds.records import FeedRecords
    from retrieval.index.retriever import HybridRetriever
    from retrieval.index.store import open_store
    from retrieval.index.vector_cache import VectorCache
    from retrieval.ingest.fetch import Download, download, fetch_article
    from retrieval.ingest.ingester import Ingester
    from retrieval.ingest.sources import load_source
    from retrieval.news.step import Answerer, NewsStep
    from retrieval.pipeline import AnswerPipeline, Condense
    from retrieval.service import NewsService

    # a bad NEWSBOT_LLM fails before the store is opened (and locked)
    model_spec = parse_llm_setting(settings.llm)
    if model_spec is not None and chat_model is None:
        chat_model = build_chat_model(model_spec, settings)
    if embeddings is None:
        embeddings = load_embeddings(settings)
    if store is None:
        store = open_store(
            chroma_path=settings.chroma_path,
            chroma_url=settings.chroma_url,
            serve=serve,
            wait_s=settings.store_wait_s,
        )

    def fetch(url: str) -> Article:
        return fetch_article(
            url, timeout_s=settings.fetch_timeout_s, allow_private=settings.allow_private_urls
        )

    def fetch_feed(url: str, headers: dict[str, str]) -> Download:
        return download(
            url,
            headers=headers,
            timeout_s=settings.fetch_timeout_s,
            allow_private=settings.allow_private_urls,
            content_types=is_feed_type,
            what="an RSS or Atom feed",
        )

    # question and sentence vectors, shared by the retriever and the extractive answerer;
    # the sentences' read from the store (embedded at ingest), the question's embedded
    vectors = VectorCache(embeddings, stored=store.sentences)
    retriever = HybridRetriever(store=store, vectors=vectors, k=settings.top_k)
    extractive = ExtractiveAnswerer(embeddings, vectors=vectors)
    answerer: Answerer = extractive
    condense: Condense = condense_question
    if model_spec is not None and chat_model is not None:
        from retrieval.answer.citation_check import CitationChecker
        from retrieval.answer.generative import GenerativeAnswerer

        generative = GenerativeAnswerer(
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
        answerer, condense = generative, generative.condense
    pipeline = AnswerPipeline(
        condense=condense,
        news=NewsStep(retriever=retriever, extractive=extractive, encode=vectors.encode),
        answerer=answerer,
    )
    ingester = Ingester(
        store=store,
        embeddings=embeddings,
        chunk_size=settings.chunk_size,
        chunk_overlap=settings.chunk_overlap,
        max_article_chars=settings.max_article_chars,
        group_chunks=settings.ingest_group_chunks,
        store_sentences=settings.store_sentence_vectors,
    )
    from retrieval.index.server_records import ServerRecords

    # the feeds' tables live in the store's SQLite file, beside the servers' records
    feeds = FeedPoller(
        records=FeedRecords(store.lexical.path),
        ingester=ingester,
        fetch_feed=fetch_feed,
        fetch_page=fetch,
        max_entries=settings.feed_max_entries,
        pause_after=settings.feed_pause_after,
        workers=settings.feed_workers,
        page_workers=settings.feed_workers,
    )
    return NewsService(
        records=ServerRecords(store.lexical.path),
        feeds=feeds,
        feed_interval_s=settings.feed_interval_s,
        pipeline=pipeline,
        retriever=retriever,
        ingester=ingester,
        load=lambda source: load_source(source, fetch),
        fetch=fetch,
        top_k=settings.top_k,
        max_question_chars=settings.max_question_chars,
        clock=clock or (lambda: settings.today or date.today()),
    )
