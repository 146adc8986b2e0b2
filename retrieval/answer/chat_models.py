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


__all__ = [
    "BackendError",
    "ModelConfigError",
    "ModelSpec",
    "parse_llm_setting",
    "stream_reply",
]


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
