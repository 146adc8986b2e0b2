"""Streaming ingest: sources are read lazily and stored in batches; a re-run after an
interruption skips what is stored."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bot.cli import Context, main
from retrieval.errors import ArticleError
from retrieval.ingest.articles import load_path, make_article
from retrieval.ingest.sources import batched, count_articles, ingest_articles
from retrieval.service import NewsService
from retrieval.types import Article

TOPICS = ["harbour", "orchard", "glacier", "railway", "library", "festival", "vineyard", "bridge"]


def story(n: int) -> Article:
    topic = TOPICS[n % len(TOPICS)]
    return make_article(
        title=f"Story {n} about the {topic}",
        text=f"The {topic} of town {n} reopened on Monday after repairs. "
        f"Officials said {n * 7} people attended the ceremony.",
    )


def write_jsonl(path: Path, articles: list[Article]) -> Path:
    lines = [json.dumps({"id": a.id, "title": a.title, "text": a.text}) for a in articles]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def record_batches(service: NewsService, events: list[str], monkeypatch: Any) -> None:
    """Log each call of add_many (then let it run) next to the reads the test logs."""
    add_many = service.ingester.add_many

    def spy(articles: Any, **kwargs: Any) -> Any:
        articles = list(articles)
        events.append(f"store {len(articles)}")
        return add_many(articles, **kwargs)

    monkeypatch.setattr(service.ingester, "add_many", spy)


def test_articles_are_read_lazily_and_stored_in_batches(
    fake_service: NewsService, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    record_batches(fake_service, events, monkeypatch)

    def source() -> Iterator[Article]:
        for n in range(5):
            events.append(f"read {n}")
            yield story(n)

    tally = ingest_articles(fake_service.ingester, source(), kb="default", batch_articles=2)
    assert events == [
        "read 0",
        "read 1",
        "store 2",
        "read 2",
        "read 3",
        "store 2",
        "read 4",
        "store 1",
    ]
    assert (tally.added, tally.unchanged, tally.failed) == (5, 0, 0)
    assert tally.chunks == fake_service.store.count_chunks("default") == 5


def test_a_rerun_after_an_interruption_skips_stored_articles(
    fake_service: NewsService, monkeypatch: pytest.MonkeyPatch
) -> None:
    articles = [story(n) for n in range(7)]

    def interrupted() -> Iterator[Article]:
        yield from articles[:5]
        raise KeyboardInterrupt  # Ctrl-C while the sixth article is being read

    with pytest.raises(KeyboardInterrupt):
        ingest_articles(fake_service.ingester, interrupted(), kb="default", batch_articles=2)
    stored = {a.id for a in fake_service.list()}
    assert stored == {a.id for a in articles[:4]}  # whole batches only; the fifth was pending

    embedded: list[int] = []
    encode = fake_service.embeddings.encode
    monkeypatch.setattr(
        fake_service.embeddings, "encode", lambda t: embedded.append(len(t)) or encode(t)
    )
    tally = ingest_articles(fake_service.ingester, iter(articles), kb="default", batch_articles=2)
    assert (tally.added, tally.unchanged) == (3, 4)
    # nothing stored is embedded again: the three new articles' chunk and two sentences each
    assert sum(embedded) == 3 * (1 + 2)
    assert {a.id for a in fake_service.list()} == {a.id for a in articles}
    assert fake_service.store.count_chunks("default") == 7


def test_an_article_too_long_fails_alone(make_fake_service: Callable[..., NewsService]) -> None:
    service = make_fake_service(max_article_chars=200)
    long = make_article(title="Long", text="A sentence that goes on. " * 20)
    errors: list[ArticleError] = []
    tally = ingest_articles(
        service.ingester,
        [story(1), long, story(2)],
        kb="default",
        batch_articles=8,
        on_error=errors.append,
    )
    assert (tally.added, tally.failed) == (2, 1)
    assert "too long" in str(errors[0])


def test_cli_ingest_streams_and_resumes(
    fake_service: NewsService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSBOT_INGEST_BATCH_ARTICLES", "2")
    events: list[str] = []
    record_batches(fake_service, events, monkeypatch)
    corpus = write_jsonl(tmp_path / "news.jsonl", [story(n) for n in range(5)])
    runner = CliRunner()

    first = runner.invoke(main, ["ingest", str(corpus)], obj=Context(_service=fake_service))
    assert first.exit_code == 0, first.output
    assert "added 5, unchanged 0, failed 0 (5 chunks)" in first.output
    assert events == ["store 2", "store 2", "store 1"]

    again = runner.invoke(main, ["ingest", str(corpus)], obj=Context(_service=fake_service))
    assert "added 0, unchanged 5, failed 0 (0 chunks)" in again.output


def test_a_bad_line_keeps_what_came_before_and_other_sources(
    fake_service: NewsService, tmp_path: Path
) -> None:
    broken = write_jsonl(tmp_path / "broken.jsonl", [story(1), story(2)])
    with broken.open("a", encoding="utf-8") as handle:
        handle.write("{not json\n")
    fine = write_jsonl(tmp_path / "fine.jsonl", [story(3)])
    result = CliRunner().invoke(
        main, ["ingest", str(broken), str(fine)], obj=Context(_service=fake_service)
    )
    assert result.exit_code == 1
    assert "broken.jsonl:3: invalid JSON" in result.output
    assert "added 3, unchanged 0, failed 1" in result.output


def test_jsonl_is_read_as_it_goes_not_all_at_once(tmp_path: Path) -> None:
    corpus = write_jsonl(tmp_path / "news.jsonl", [story(n) for n in range(2)])
    loaded = load_path(corpus)
    assert next(loaded).title == "Story 0 about the harbour"
    with corpus.open("a", encoding="utf-8") as handle:  # a line written after reading began
        handle.write(json.dumps({"title": "Late", "text": "Appended later."}) + "\n")
    assert [a.title for a in loaded] == ["Story 1 about the orchard", "Late"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"\n  \n", "the file is empty"),
        (b'{"text": "x"}\n\x00\x01binary', "binary"),
        (b'{"text": "ok"}\n{"text": "caf\xe9"}\n', "bad.jsonl:2: not UTF-8"),
    ],
)
def test_bad_jsonl_files_give_one_clear_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    with pytest.raises(ArticleError, match=message):
        list(load_path(path))


def test_articles_are_counted_cheaply_for_the_progress_bar(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "a.jsonl", [story(n) for n in range(4)])
    (tmp_path / "b.json").write_text(json.dumps([{"text": "x"}, {"text": "y"}]))
    (tmp_path / "c.txt").write_text("Headline\n\nBody.")
    (tmp_path / "skip.csv").write_text("a,b")
    assert count_articles(str(tmp_path / "a.jsonl")) == 4
    assert count_articles(str(tmp_path)) == 7
    assert count_articles("https://example.org/story") == 1
    assert count_articles(str(tmp_path / "missing.jsonl")) is None


@pytest.mark.parametrize(("size", "expected"), [(2, [[0, 1], [2, 3], [4]]), (5, [[0, 1, 2, 3, 4]])])
def test_batched(size: int, expected: list[list[int]]) -> None:
    assert list(batched(range(5), size)) == expected


def test_freed_memory_is_handed_back_after_each_stored_group(
    make_fake_service: Callable[..., NewsService], monkeypatch: pytest.MonkeyPatch
) -> None:
    import retrieval.ingest.ingester

    retrieval.ingest.ingester.release_freed_memory()  # the real one runs here, glibc or not
    service = make_fake_service(ingest_group_chunks=2)
    trims: list[int] = []

    def trim() -> None:
        trims.append(service.store.count_chunks("default"))

    monkeypatch.setattr(retrieval.ingest.ingester, "release_freed_memory", trim)
    service.add_many([story(n) for n in range(6)])
    # one story is one chunk: three groups of two, each trimmed once it is stored
    assert trims == [2, 4, 6]
