"""Settings, read once by the composition root (never at import time). A default measured
for a component lives beside the component and is named here, so it is written once."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from retrieval.answer.citation_check import DEFAULT_MIN_SIMILARITY
from retrieval.index.embeddings import DEFAULT_BATCH_SIZE, DEFAULT_MODEL


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "newsbot"


class Settings(BaseSettings):
    """Everything newsbot can be configured with; `NEWSBOT_` environment variables or `.env`."""

    model_config = SettingsConfigDict(
        env_prefix="NEWSBOT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Where the embedded Chroma store and caches live.",
    )
    chroma_url: str | None = Field(
        default=None,
        description="URL of a Chroma server (e.g. http://127.0.0.1:8000); "
        "unset means the embedded store in data_dir, shared with the other newsbot commands "
        "through a local Chroma server while a long-running one (discord, chat, watch, ingest) "
        "runs.",
    )
    store_wait_s: float = Field(
        default=300.0,
        ge=0,
        description="How long a command waits for another one that has the embedded store "
        "open (ask, articles, remove: they do not serve it) before giving up.",
    )
    embedding_model: str = Field(
        default=DEFAULT_MODEL,
        description="Sentence-transformers model: a local path or name; the default is the "
        "packaged offline all-MiniLM-L6-v2.",
    )
    embedding_batch_size: int = Field(
        default=DEFAULT_BATCH_SIZE,
        ge=1,
        description="Texts embedded per model call; with onnx-int8 and this unset, 16 "
        "(fastest when measured on 2 CPU cores: small batches stay in cache).",
    )
    llm: str = Field(
        default="extractive",
        description="Answerer: 'extractive' (no language model), 'ollama:MODEL' or 'openai:MODEL'.",
    )
    openai_base_url: str | None = Field(
        default=None, description="Base URL of an OpenAI-compatible server."
    )
    openai_api_key: SecretStr | None = Field(default=None, description="API key, if needed.")
    ollama_url: str = Field(default="http://127.0.0.1:11434", description="Ollama server URL.")
    chunk_size: int = Field(default=600, ge=100, description="Target chunk length in characters.")
    chunk_overlap: int = Field(
        default=120, ge=0, description="Characters of context repeated between chunks."
    )
    top_k: int = Field(default=4, ge=1, le=50, description="Passages retrieved per question.")
    max_question_chars: int = Field(default=1000, ge=1, description="Longest question accepted.")
    max_article_chars: int = Field(
        default=500_000, ge=1, description="Longest article text accepted."
    )
    today: date | None = Field(
        default=None,
        description="The date questions are asked on (ISO), for 'latest', 'this week' and "
        "'in May'; unset = the calendar's today. For reproducible runs and tests.",
    )
    allow_private_urls: bool = Field(
        default=False,
        description="Allow fetching URLs on loopback/private addresses (tests only).",
    )
    fetch_timeout_s: float = Field(default=15.0, gt=0, description="HTTP fetch timeout.")

    # -- Feeds --
    feed_interval_s: int = Field(
        default=900,
        ge=1,
        description="Seconds between two polls of a feed followed from now on (each poll "
        "is moved by up to 10% either way, so feeds do not all poll at once).",
    )
    feed_max_entries: int = Field(
        default=100,
        ge=1,
        description="Entries one poll reads from a feed, the newest; a longer feed is noted "
        "in `newsbot feeds list`.",
    )
    feed_pause_after: int = Field(
        default=8,
        ge=1,
        description="Failed polls in a row after which a feed is paused (each failure "
        "doubles the wait before the next poll, up to a day); following it again resumes it.",
    )
    feed_workers: int = Field(
        default=4,
        ge=1,
        le=32,
        description="Feeds polled at once, and pages fetched at once per feed.",
    )

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    # -- Language models --
    llm_timeout_s: float = Field(
        default=60.0,
        gt=0,
        description="Seconds a language model may take for a whole answer (connecting, "
        "thinking and streaming); past it the extractive answer is given, with a notice.",
    )
    llm_max_tokens: int = Field(
        default=400, ge=16, le=32_768, description="Most tokens a language model may generate."
    )
    llm_temperature: float = Field(
        default=0.1, ge=0.0, le=2.0, description="Sampling temperature of the language model."
    )
    llm_condense: bool = Field(
        default=True,
        description="Let the language model rewrite follow-up questions to stand alone "
        "(otherwise, and when it fails, the previous question is appended).",
    )
    citation_check: Literal["remove", "mark"] = Field(
        default="remove",
        description="What happens to a generated sentence its cited passage does not support: "
        "'remove' it, or 'mark' it (unverified) and keep it.",
    )
    citation_min_similarity: float = Field(
        default=DEFAULT_MIN_SIMILARITY,
        ge=0.0,
        le=1.0,
        description="How close in meaning (cosine, embedding model) a generated sentence must "
        "be to a sentence of its cited passage; chosen on data, see retrieval/answer/citation_check.py.",
    )

    # -- Performance --
    embedding_backend: Literal["torch", "onnx", "onnx-int8"] = Field(
        default="onnx",
        description="How the embedding model runs: 'torch' (sentence-transformers); 'onnx' "
        "(exported once to ONNX and cached, see model_cache_dir: torch's vectors, without "
        "loading torch for a question); or 'onnx-int8' (the same with int8 weights: about 2x "
        "faster on a CPU, vectors within 0.99 cosine of torch's). A store built with one can "
        "be queried with another.",
    )
    model_cache_dir: Path | None = Field(
        default=None,
        description="Where exported ONNX models are cached; unset = data_dir/models.",
    )
    store_sentence_vectors: bool = Field(
        default=True,
        description="Embed each chunk's sentences at ingest and keep their vectors, so a "
        "question makes one model call (its answer step ~20x faster) at the cost of slower "
        "ingest (0.7x in one measured run); off, sentences are embedded when a question "
        "needs them.",
    )
    ingest_group_chunks: int = Field(
        default=256,
        ge=1,
        description="Chunks embedded, then stored, together while ingesting: each group is "
        "committed at once (larger groups write faster, smaller ones show progress sooner).",
    )
    ingest_batch_articles: int = Field(
        default=1000,
        ge=1,
        description="Articles `newsbot ingest` reads, embeds and stores at a time; memory "
        "stays flat whatever the corpus size.",
    )
