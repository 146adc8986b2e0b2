"""`newsbot export` and `newsbot import`: a knowledge base to one portable file and back.

On the fake embedder: the round trip is exact (the file of an imported knowledge base is the
file it came from, but for its date), a file without vectors is embedded again into the same
store, and a bad file is refused in one line with nothing written. With the real model, the
seed questions are answered alike before the export and after importing it into a fresh
embedded store and into a `chroma run` server (tests/test_chroma_server.py's)."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result
from conftest import BBC_NEWS, ROOT, needs_bbc
from test_chroma_server import chroma_url  # noqa: F401  (the real server's fixture)

from bot.cli import Context, main
from retrieval.ingest.articles import article_from_dict
from retrieval.portable import transfer
from retrieval.service import NewsService
from retrieval.types import Article, Feedback, ServerSettings

KB = "guild-42"  # a Discord server's knowledge base: its settings go with it


def own_articles(count: int) -> list[Article]:
    """Real-looking news articles the project wrote itself (evals/), in every clone."""
    with (ROOT / "evals" / "news_aware_corpus.jsonl").open(encoding="utf-8") as lines:
        return [article_from_dict(json.loads(next(lines))) for _ in range(count)]


def fill(service: NewsService, seed_article: Article, *, kb: str = KB) -> None:
    """Articles (one of them updated: its chunks carry a version), a feed with entries read,
    a server's settings and a vote."""
    service.add_many([seed_article, *own_articles(4)], kb=kb)
    first = Article(id="local-note", title="Council vote", text="The council voted 7 to 2.")
    service.add(first, kb=kb)
    assert service.add(replace(first, text="The council voted 6 to 3."), kb=kb).status == "updated"
    assert service.feeds is not None and service.records is not None
    feeds = service.feeds.records
    feed, _ = feeds.add(
        kb=kb, url="https://news.example/rss", title="News", guild_id=42, interval_s=600
    )
    feeds.mark_read(feed.id, [("entry-1", seed_article.id, "added"), ("entry-2", None, "skipped")])
    feeds.failed(feed.id, error="timed out", next_poll_at=1.5e9, pause=False)
    service.save_server_settings(
        42, ServerSettings(ask_channel_id=7, threads=True, channel_kbs={9: "sport"})
    )
    service.record_feedback(Feedback(42, kb, "Why?", "Because [1]", 1))


def invoke(service: NewsService, *args: str) -> Result:
    return CliRunner().invoke(main, list(args), obj=Context(_service=service))


def export(service: NewsService, path: Path, *args: str, kb: str = KB) -> Path:
    result = invoke(service, "export", str(path), "--kb", kb, *args)
    assert result.exit_code == 0, result.output
    return path


def lines(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as file:
        return [json.loads(line) for line in file]


def undated(path: Path) -> list[bytes]:
    """The file's lines, byte for byte, but the date of the export."""
    with gzip.open(path, "rb") as file:
        header, *rest = file.read().splitlines()
    data = json.loads(header)
    del data["created"]
    return [json.dumps(data).encode(), *rest]


def assert_same_export(one: Path, other: Path) -> None:
    """The two files are the same byte for byte but for the date of the export and the last
    bit of some chunk vectors: Chroma's cosine space normalises every vector it is given, and
    a unit vector normalised again may move by a unit in the last place (ulp) of a float32."""
    for mine, theirs in zip(undated(one), undated(other), strict=True):
        if mine == theirs:
            continue
        a, b = json.loads(mine), json.loads(theirs)
        assert a.get("kind") == "chunk", (mine[:300], theirs[:300])
        va, vb = (
            np.frombuffer(base64.b64decode(a.pop("vector")), "<i4"),
            np.frombuffer(base64.b64decode(b.pop("vector")), "<i4"),
        )
        assert a == b
        assert int(np.abs(va.astype(np.int64) - vb).max()) <= 2  # ulps (same signs)


def answers(service: NewsService, questions: list[str], kb: str) -> list[dict[str, Any]]:
    """`newsbot ask --json` of each question, without its timings."""
    found = []
    for question in questions:
        result = invoke(service, "ask", question, "--json", "--kb", kb)
        assert result.exit_code == 0, result.output
        data = json.loads(result.output)
        data.pop("timings_ms")
        found.append(data)
    return found


QUESTIONS = ["Why did China refuse the meeting?", "How did the council vote?"]


def test_an_imported_knowledge_base_exports_to_the_same_file(
    make_fake_service: Callable[..., NewsService], seed_article: Article, tmp_path: Path
) -> None:
    source = make_fake_service("source")
    fill(source, seed_article)
    first = export(source, tmp_path / "kb.nbk")
    kinds = [line.get("kind") for line in lines(first)]
    assert kinds.count("article") == 6 and kinds.count("chunk") == source.store.count_chunks(KB)
    assert {"sentence", "feed", "server", "feedback"} <= set(kinds) and kinds[-1] == "end"

    copy = make_fake_service("copy")
    imported = invoke(copy, "import", str(first))
    assert imported.exit_code == 0, imported.output
    assert (
        "articles: added 6, unchanged 0; feeds: added 1, unchanged 0; "
        "server settings: added 1, unchanged 0; votes: added 1, unchanged 0"
    ) in imported.output
    second = export(copy, tmp_path / "again.nbk")
    assert_same_export(second, first)

    assert copy.list(kb=KB) == source.list(kb=KB)
    assert answers(copy, QUESTIONS, KB) == answers(source, QUESTIONS, KB)
    assert copy.store.sentences.count(KB) == source.store.sentences.count(KB) > 0
    assert copy.server_settings(42) == source.server_settings(42)
    assert copy.feedback(42) == source.feedback(42)
    (feed,) = copy.feeds_followed(kb=KB)
    (original,) = source.feeds_followed(kb=KB)
    assert replace(feed, id=0) == replace(original, id=0)
    assert feed.entries_seen == 2 and feed.last_error == "timed out"


def test_importing_again_leaves_everything_as_it_is(
    make_fake_service: Callable[..., NewsService], seed_article: Article, tmp_path: Path
) -> None:
    source = make_fake_service("source")
    fill(source, seed_article)
    file = export(source, tmp_path / "kb.nbk")
    again = invoke(source, "import", str(file))
    assert again.exit_code == 0, again.output
    assert (
        "articles: added 0, unchanged 6; feeds: added 0, unchanged 1; "
        "server settings: added 0, unchanged 1; votes: added 0, unchanged 1"
    ) in again.output
    assert undated(export(source, tmp_path / "after.nbk")) == undated(file)  # exactly


def test_a_file_without_vectors_is_embedded_again_into_the_same_store(
    make_fake_service: Callable[..., NewsService], seed_article: Article, tmp_path: Path
) -> None:
    source = make_fake_service("source")
    fill(source, seed_article)
    bare = export(source, tmp_path / "bare.nbk", "--no-vectors")
    assert not {"chunk", "sentence"} & {line.get("kind") for line in lines(bare)}
    assert lines(bare)[0]["vectors"] is False

    copy = make_fake_service("copy")
    imported = invoke(copy, "import", str(bare))
    assert imported.exit_code == 0, imported.output
    assert "(embedded again)" in imported.output and "articles: added 6" in imported.output
    with_vectors = export(source, tmp_path / "a.nbk")
    assert undated(export(copy, tmp_path / "b.nbk")) == undated(with_vectors)  # exactly


def test_import_into_another_knowledge_base(
    make_fake_service: Callable[..., NewsService], seed_article: Article, tmp_path: Path
) -> None:
    source = make_fake_service("source")
    fill(source, seed_article)
    file = export(source, tmp_path / "kb.nbk")
    copy = make_fake_service("copy")
    result = invoke(copy, "import", str(file), "--kb", "archive")
    assert result.exit_code == 0, result.output
    assert "imported into 'archive'" in result.output
    assert [a.id for a in copy.list(kb="archive")] == [a.id for a in source.list(kb=KB)]
    assert copy.list(kb=KB) == []
    assert [f.url for f in copy.feeds_followed(kb="archive")] == ["https://news.example/rss"]
    assert (
        answers(copy, QUESTIONS, "archive")[0]["answer"]
        == (answers(source, QUESTIONS, KB)[0]["answer"])
    )


def test_an_article_the_store_has_already_is_left_as_it_is(
    make_fake_service: Callable[..., NewsService], seed_article: Article, tmp_path: Path
) -> None:
    source = make_fake_service("source")
    fill(source, seed_article)
    file = export(source, tmp_path / "kb.nbk")
    target = make_fake_service("target")
    mine = Article(id="local-note", title="Council vote", text="The council voted 9 to 0.")
    target.add(mine, kb=KB)
    result = invoke(target, "import", str(file))
    assert result.exit_code == 0, result.output
    assert "articles: added 5, unchanged 1" in result.output
    assert target.get("local-note", kb=KB) == mine


def rewrite(path: Path, target: Path, change: Callable[[list[bytes]], list[bytes]]) -> Path:
    with gzip.open(path, "rb") as file:
        rows = file.read().splitlines()
    target.write_bytes(gzip.compress(b"\n".join(change(rows)) + b"\n"))
    return target


def edit_header(**changes: Any) -> Callable[[list[bytes]], list[bytes]]:
    def change(rows: list[bytes]) -> list[bytes]:
        header = json.loads(rows[0])
        header.update(changes)
        return [json.dumps(header).encode(), *rows[1:]]

    return change


def edit_line(kind: str, **changes: Any) -> Callable[[list[bytes]], list[bytes]]:
    def change(rows: list[bytes]) -> list[bytes]:
        out, done = [], False
        for row in rows:
            data = json.loads(row)
            if not done and data.get("kind") == kind:
                data.update(changes)
                row, done = json.dumps(data).encode(), True
            out.append(row)
        return out

    return change


def without_last_article(rows: list[bytes]) -> list[bytes]:
    last = max(i for i, row in enumerate(rows) if b'"kind":"article"' in row)
    return rows[:last] + [row for row in rows[last:] if b'"kind":"feed"' in row] + rows[-1:]


def make_bad(kind: str, good: Path, tmp_path: Path) -> Path:
    bad = tmp_path / f"{kind}.nbk"
    if kind == "not gzip":
        bad.write_text('{"format": "newsbot-kb"}\n', "utf-8")
    elif kind == "empty":
        bad.write_bytes(gzip.compress(b""))
    elif kind == "not an export":
        rewrite(good, bad, edit_header(format="something-else"))
    elif kind == "another version":
        rewrite(good, bad, edit_header(version=2))
    elif kind == "cut short":
        data = good.read_bytes()
        bad.write_bytes(data[: len(data) * 2 // 3])
    elif kind == "damaged bytes":
        data = bytearray(good.read_bytes())
        data[len(data) // 2] ^= 0xFF
        bad.write_bytes(bytes(data))
    elif kind == "a line not JSON":
        rewrite(good, bad, lambda rows: [*rows[:3], b"{not json", *rows[3:]])
    elif kind == "an article missing":
        rewrite(good, bad, without_last_article)
    elif kind == "no last line":
        rewrite(good, bad, lambda rows: rows[:-1])
    elif kind == "a bad vector":
        rewrite(good, bad, edit_line("chunk", vector="not base64!"))
    elif kind == "a chunk out of place":
        rewrite(good, bad, edit_line("chunk", id="someone-else:0"))
    elif kind == "another model's vectors":
        rewrite(good, bad, edit_header(embedding={"model": "other", "space": "other/1"}))
    return bad


BAD_FILES = [
    ("not gzip", "is not a newsbot export (not a gzip file)"),
    ("empty", "is empty"),
    ("not an export", "is not a newsbot export"),
    ("another version", "format version 2; this newsbot reads version 1"),
    ("cut short", "is cut short"),
    ("damaged bytes", "is damaged"),
    ("a line not JSON", "line 4 is not JSON"),
    ("an article missing", "the file counts"),
    ("no last line", "is cut short (no last line)"),
    ("a bad vector", "a vector is not valid base64"),
    ("a chunk out of place", "was due"),
    ("another model's vectors", "import with --re-embed"),
]


@pytest.mark.parametrize(("kind", "message"), BAD_FILES, ids=[k for k, _ in BAD_FILES])
def test_a_bad_file_is_refused_in_one_line_and_nothing_is_written(
    make_fake_service: Callable[..., NewsService],
    seed_article: Article,
    tmp_path: Path,
    kind: str,
    message: str,
) -> None:
    source = make_fake_service("source")
    fill(source, seed_article)
    good = export(source, tmp_path / "good.nbk")
    bad = make_bad(kind, good, tmp_path)

    target = make_fake_service("target")
    target.add(seed_article, kb="default")
    target.add(own_articles(1)[0], kb=KB)  # the knowledge base the file would add to
    before = {kb: export(target, tmp_path / f"before-{kb}.nbk", kb=kb) for kb in ("default", KB)}

    result = invoke(target, "import", str(bad))
    assert result.exit_code == 1
    assert result.output.startswith("error: ") and result.output.count("\n") == 1, result.output
    assert message in result.output and "Traceback" not in result.output
    for kb, file in before.items():
        assert undated(export(target, tmp_path / f"after-{kb}.nbk", kb=kb)) == undated(file)
    assert target.feeds_followed() == [] and target.server_settings(42) == ServerSettings()


def test_another_models_vectors_are_embedded_again_when_asked(
    make_fake_service: Callable[..., NewsService], seed_article: Article, tmp_path: Path
) -> None:
    source = make_fake_service("source")
    fill(source, seed_article)
    good = export(source, tmp_path / "good.nbk")
    other = make_bad("another model's vectors", good, tmp_path)
    copy = make_fake_service("copy")
    result = invoke(copy, "import", str(other), "--re-embed")
    assert result.exit_code == 0, result.output
    assert "(embedded again)" in result.output
    assert_same_export(export(copy, tmp_path / "copy.nbk"), good)


def test_export_errors_are_one_line_and_leave_the_old_file(
    make_fake_service: Callable[..., NewsService], seed_article: Article, tmp_path: Path
) -> None:
    source = make_fake_service("source")
    fill(source, seed_article)
    missing = invoke(source, "export", str(tmp_path / "nowhere" / "kb.nbk"), "--kb", KB)
    assert (
        missing.exit_code == 1
        and missing.output == f"error: {tmp_path / 'nowhere'} does not exist\n"
    )
    unknown = invoke(source, "export", str(tmp_path / "kb.nbk"), "--kb", "nothing-here")
    assert unknown.exit_code == 1
    assert unknown.output.startswith("error: no knowledge base 'nothing-here' to export")
    assert not (tmp_path / "kb.nbk").exists()

    # a failed export leaves the file that was there, and no temporary file
    old = export(source, tmp_path / "kb.nbk")
    saved = old.read_bytes()

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OSError("disk full")

    source.store.sentences.article_rows = broken  # type: ignore[method-assign]
    with pytest.raises(OSError):
        source.export_kb(old, kb=KB)
    assert old.read_bytes() == saved
    assert source.store._writes._depth == 0  # the store's write lock was let go at once
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_an_import_killed_half_way_leaves_whole_articles_and_finishes_when_run_again(
    make_fake_service: Callable[..., NewsService],
    seed_article: Article,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = make_fake_service("source")
    fill(source, seed_article)
    file = export(source, tmp_path / "kb.nbk")
    copy = make_fake_service("copy")
    monkeypatch.setattr(transfer, "GROUP_ARTICLES", 2)
    write = copy.store.lexical.add_rows
    calls = []

    def dies_on_the_third_group(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # killed between a group's chunks and its records
        return write(*args, **kwargs)

    monkeypatch.setattr(copy.store.lexical, "add_rows", dies_on_the_third_group)
    with pytest.raises(KeyboardInterrupt):
        copy.import_kb(file)
    # two whole groups; the third's chunks are orphans, never shown, swept by the next write
    assert len(copy.list(kb=KB)) == 4
    partial = lines(export(copy, tmp_path / "partial.nbk"))  # (refused if one lacked a chunk)
    assert [line.get("kind") for line in partial].count("article") == 4

    monkeypatch.setattr(copy.store.lexical, "add_rows", write)
    report = copy.import_kb(file)
    assert report.added["article"] == 2 and report.unchanged["article"] == 4
    assert_same_export(export(copy, tmp_path / "copy.nbk"), file)


# -- the real model, an embedded store and a `chroma run` server -------------------------------


def seed_questions() -> list[str]:
    path = ROOT / "evals" / "seed_bbc_questions.jsonl"
    return [json.loads(line)["question"] for line in path.read_text("utf-8").splitlines()]


@pytest.mark.server
@needs_bbc
def test_an_export_answers_alike_in_a_fresh_embedded_store_and_on_a_chroma_server(
    make_service: Callable[..., NewsService],
    seed_article: Article,
    tmp_path: Path,
    chroma_url: str,  # noqa: F811
) -> None:
    source = make_service("source")
    fill(source, seed_article)
    # the head of the BBC set, and the articles the seed questions on the BBC are about
    about = {"bbc-sport-014", "bbc-sport-305", "bbc-business-198", "bbc-business-297"}
    corpus = [json.loads(line) for line in BBC_NEWS.open(encoding="utf-8")]
    chosen = [d for n, d in enumerate(corpus) if n < 30 or d["id"] in about]
    source.add_many([article_from_dict(d) for d in chosen], kb=KB)
    stored = len(source.list(kb=KB))
    questions = seed_questions()
    before = answers(source, questions, KB)
    assert sum(not a["abstained"] for a in before) >= 15

    file = export(source, tmp_path / "kb.nbk")
    embedded = make_service("embedded")
    server = make_service("server", chroma_url=chroma_url)
    for target in (embedded, server):
        result = invoke(target, "import", str(file))
        assert result.exit_code == 0, result.output
        assert f"articles: added {stored}, unchanged 0; feeds: added 1" in result.output
        assert answers(target, questions, KB) == before
        assert_same_export(export(target, tmp_path / "again.nbk"), file)
        assert target.server_settings(42) == source.server_settings(42)
        assert [f.url for f in target.feeds_followed(kb=KB)] == ["https://news.example/rss"]
    assert not (tmp_path / "server" / "chroma").exists()  # it all went to the server


def test_a_store_that_lost_passages_is_exported_after_check_repair(
    make_fake_service: Callable[..., NewsService], seed_article: Article, tmp_path: Path
) -> None:
    source = make_fake_service("source")
    fill(source, seed_article)
    chunks = source.store._collection(KB, "chunks")
    lost = chunks.get(where={"article_id": seed_article.id}, include=[])["ids"][1:2]
    chunks.delete(ids=lost)  # a write killed half-way, as tests/test_check.py inflicts it

    refused = invoke(source, "export", str(tmp_path / "kb.nbk"), "--kb", KB)
    assert refused.exit_code == 1
    assert refused.output == (
        f"error: article {seed_article.id} of {KB!r} lacks some of its chunks (a write "
        "interrupted?): run `newsbot check --repair`, then export again\n"
    )
    assert not (tmp_path / "kb.nbk").exists()
    repaired = invoke(source, "check", "--repair", "--kb", KB)
    assert repaired.exit_code == 0, repaired.output
    kinds = [line.get("kind") for line in lines(export(source, tmp_path / "kb.nbk"))]
    assert kinds.count("chunk") == source.store.count_chunks(KB)
