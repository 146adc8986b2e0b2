"""Settings, read once by the composition root (never at import time)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


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
        "unset means the embedded store in data_dir.",
    )
    embedding_model: str = Field(
        default="all-MiniLM-L6-v2",
        description="Sentence-transformers model: a local path or name; the default is the "
        "packaged offline all-MiniLM-L6-v2.",
    )
    embedding_batch_size: int = Field(default=64, ge=1, description="Chunks embedded per batch.")
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
    allow_private_urls: bool = Field(
        default=False,
        description="Allow fetching URLs on loopback/private addresses (tests only).",
    )
    fetch_timeout_s: float = Field(default=15.0, gt=0, description="HTTP fetch timeout.")
    discord_token: SecretStr | None = Field(
        default=None,
        validation_alias="DISCORD_TOKEN",
        description="The Discord bot token (DISCORD_TOKEN).",
    )

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"
