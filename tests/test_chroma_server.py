"""The service against a real Chroma server (`chroma run` on 127.0.0.1), as the bot and the CLI
use it together when NEWSBOT_CHROMA_URL is set."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from loopback_http import closed_port

from bot.cli import Context, main
from retrieval.errors import StoreError
from retrieval.index.store import open_store
from retrieval.service import NewsService
from retrieval.types import Article


def chroma_command() -> str:
    beside = Path(sys.executable).parent / "chroma"  # the venv's, installed with chromadb
    found = str(beside) if beside.exists() else shutil.which("chroma")
    assert found, "the `chroma` command (from chromadb) is not installed"
    return found


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Chroma server on a free loopback port, stopped at the end."""
    root = tmp_path_factory.mktemp("chroma-server")
    port = closed_port()
    log = (root / "server.log").open("wb")
    command = [chroma_command(), "run", "--path", str(root / "data")]
    server = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                log.flush()
                output = (root / "server.log").read_text("utf-8", "replace")[-2000:]
                pytest.fail(f"chroma run did not start:\n{output}")
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture
def remote(make_service: Callable[..., NewsService], chroma_url: str) -> NewsService:
    return make_service("remote", chroma_url=chroma_url)


@pytest.mark.server
def test_ingest_ask_remove_go_through_the_server(
    remote: NewsService, seed_article: Article, tmp_path: Path, chroma_url: str
) -> None:
    corpus = tmp_path / "seed.jsonl"
    record = {"id": seed_article.id, "title": seed_article.title, "text": seed_article.text}
    corpus.write_text(json.dumps(record) + "\n", "utf-8")
    runner = CliRunner()
    obj = Context(_service=remote)
    ingested = runner.invoke(main, ["ingest", str(corpus), "--kb", "server-test"], obj=obj)
    assert ingested.exit_code == 0, ingested.output
    assert "added 1" in ingested.output

    asked = runner.invoke(
        main, ["ask", "Why did China refuse the meeting?", "--kb", "server-test"], obj=obj
    )
    assert asked.exit_code == 0, asked.output
    assert "[1]" in asked.output and "Sources:" in asked.output

    again = runner.invoke(main, ["ingest", str(corpus), "--kb", "server-test"], obj=obj)
    assert "added 0, unchanged 1" in again.output

    removed = runner.invoke(main, ["remove", seed_article.id, "--kb", "server-test"], obj=obj)
    assert removed.exit_code == 0, removed.output
    assert remote.list(kb="server-test") == []
    assert remote.ask("Why did China refuse the meeting?", kb="server-test").abstained

    # everything lived on the server: no embedded store was made
    assert not (tmp_path / "remote" / "chroma").exists()
    names = httpx.get(
        f"{chroma_url}/api/v2/tenants/default_tenant/databases/default_database/collections"
    ).json()
    assert {c["name"] for c in names} >= {"nb-server-test-chunks", "nb-server-test-articles"}


@pytest.mark.server
def test_two_processes_share_one_server(
    make_service: Callable[..., NewsService], chroma_url: str, seed_article: Article
) -> None:
    # the bot and the CLI, each with its own client, where the embedded store refuses the second
    bot = make_service("shared", chroma_url=chroma_url)
    cli = make_service("shared", chroma_url=chroma_url)
    assert cli.add(seed_article, kb="shared-kb").status == "added"
    assert [a.id for a in bot.list(kb="shared-kb")] == [seed_article.id]
    answer = bot.ask("Why did China refuse the meeting?", kb="shared-kb")
    assert not answer.abstained
    assert {c.article_id for c in answer.citations} == {seed_article.id}
    assert bot.add(seed_article, kb="shared-kb").status == "unchanged"
    assert bot.remove(seed_article.id, kb="shared-kb")
    assert cli.list(kb="shared-kb") == []


def test_an_unreachable_server_is_one_clear_error(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(StoreError, match="cannot reach the Chroma server"):
        open_store(chroma_path=tmp_path / "chroma", chroma_url=url).list_articles("default")
