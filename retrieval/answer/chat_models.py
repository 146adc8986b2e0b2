"""Chat-model backends (Ollama, OpenAI-compatible servers) and a reply with a hard deadline.

LangChain's clients are imported only when a backend is configured: they cost seconds to
import and most installs never use them.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from retrieval.errors import BackendError, ModelConfigError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage

    from retrieval.config import Settings

__all__ = [
    "BackendError",
    "ModelConfigError",
    "ModelSpec",
    "build_chat_model",
    "parse_llm_setting",
    "stream_reply",
]

_EXTRA_HINT = "pip install 'newsbot[llm]'"


@dataclass(frozen=True)
class ModelSpec:
    provider: str  # "ollama" or "openai"
    model: str

    @property
    def name(self) -> str:
        return f"{self.provider}:{self.model}"


def parse_llm_setting(value: str) -> ModelSpec | None:
    """None for 'extractive'; otherwise the provider and model of 'ollama:M' / 'openai:M'."""
    value = value.strip()
    if value == "extractive":
        return None
    provider, _, model = value.partition(":")
    if provider not in ("ollama", "openai") or not model.strip():
        raise ModelConfigError(
            f"NEWSBOT_LLM must be 'extractive', 'ollama:MODEL' or 'openai:MODEL' (got {value!r})"
        )
    return ModelSpec(provider, model.strip())


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


def stream_reply(
    model: BaseChatModel,
    messages: list[BaseMessage],
    *,
    timeout_s: float,
    on_token: Callable[[str], None] | None = None,
) -> str:
    """The model's reply, streamed to `on_token` as it comes, within `timeout_s` overall.

    The model runs in a daemon thread: a server that accepts the connection and then stalls
    cannot hold the caller past the deadline (the thread ends with the client's own timeout).
    """
    chunks: queue.Queue[tuple[str, Any]] = queue.Queue()
    stop = threading.Event()

    def produce() -> None:
        try:
            for chunk in model.stream(messages):
                if stop.is_set():
                    return
                if chunk.text:
                    chunks.put(("token", chunk.text))
            chunks.put(("done", None))
        except Exception as exc:
            chunks.put(("error", exc))

    threading.Thread(target=produce, name="newsbot-model", daemon=True).start()
    deadline = time.monotonic() + timeout_s
    parts: list[str] = []
    try:
        while True:
            try:
                kind, value = chunks.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise BackendError(f"timed out after {timeout_s:g} s") from None
            if kind == "done":
                return "".join(parts)
            if kind == "error":
                raise BackendError(_describe(value)) from value
            parts.append(value)
            if on_token is not None:
                on_token(value)
    finally:
        stop.set()


def _describe(exc: BaseException) -> str:
    """A short reason without the exception's text, which may echo request details."""
    name = type(exc).__name__
    if "Timeout" in name:
        return "timed out"
    if "Connect" in name or isinstance(exc, ConnectionError):
        return "could not connect"
    status = getattr(exc, "status_code", None)
    return f"{name} (status {status})" if status else name
