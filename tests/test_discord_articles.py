"""End to end, articles: /add_article (text, files, URLs), who may add or remove, /articles,
/remove_article, and each server keeping its own knowledge base."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web
from discord_harness import (
    FESTIVAL_TEXT,
    SEED,
    ask_slash,
    discord_bot,
    followup,
    kb_of,
    news_service_fixture,  # noqa: F401 (registers the `news_service` fixture)
    slash,
)

from retrieval.ingest.articles import article_from_dict
from retrieval.service import NewsService
from retrieval.types import ABSTAIN_TEXT

pytestmark = [pytest.mark.asyncio(loop_scope="function"), pytest.mark.server]  # the fake Discord


async def test_add_article_from_text_then_ask_finds_it(news_service: NewsService) -> None:
    async with discord_bot(news_service) as (fake, _):
        callback, token = await slash(
            fake,
            "add_article",
            {"text": FESTIVAL_TEXT, "title": "Lake Zurich swim"},
            user=fake.admin,
        )
        assert callback.json["type"] == 5
        confirmation = (await followup(fake, token, "Added")).json["content"]
        assert "**Lake Zurich swim**" in confirmation and "1 passage ·" in confirmation
        answer = await ask_slash(fake, "How many swimmers came to the Lake Zurich festival?")
        assert "3,000" in answer.json["content"]
        assert "Lake Zurich swim" in answer.json["embeds"][0]["description"]

        _, again = await slash(fake, "add_article", {"text": FESTIVAL_TEXT}, user=fake.admin)
        assert "Already known" in (await followup(fake, again, "Already")).json["content"]


@pytest.mark.parametrize(
    ("filename", "data"),
    [
        ("festival.txt", f"Lake Zurich swim\n{FESTIVAL_TEXT}".encode()),
        ("festival.md", f"# Lake Zurich swim\n\n{FESTIVAL_TEXT}".encode()),
        (
            "festival.json",
            json.dumps({"title": "Lake Zurich swim", "text": FESTIVAL_TEXT}).encode(),
        ),
        (
            "festival.html",
            f"<html><head><title>Lake Zurich swim</title></head><body><article>"
            f"<h1>Lake Zurich swim</h1><p>{FESTIVAL_TEXT}</p></article></body></html>".encode(),
        ),
    ],
)
async def test_add_article_from_an_attached_file(
    news_service: NewsService, filename: str, data: bytes
) -> None:
    async with discord_bot(news_service) as (fake, _):
        file = fake.attachment(filename, data)
        _, token = await slash(fake, "add_article", {"file": file}, user=fake.admin)
        assert "Lake Zurich swim" in (await followup(fake, token, "Added")).json["content"]
        answer = await ask_slash(fake, "How many swimmers came to the Lake Zurich festival?")
        assert "3,000" in answer.json["content"]


async def test_add_article_from_a_url(news_service: NewsService) -> None:
    page = (
        "<html><head><title>Lake Zurich swim</title></head><body><article><h1>Lake Zurich swim"
        f"</h1><p>{FESTIVAL_TEXT}</p></article></body></html>"
    )

    async def serve_page(request: web.Request) -> web.Response:
        return web.Response(text=page, content_type="text/html")

    app = web.Application()
    app.router.add_get("/swim", serve_page)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/swim"
    try:
        async with discord_bot(news_service) as (fake, _):
            _, token = await slash(fake, "add_article", {"url": url}, user=fake.admin)
            assert "Lake Zurich swim" in (await followup(fake, token, "Added")).json["content"]
            assert [a.url for a in news_service.list(kb=kb_of(fake))] == [url]
    finally:
        await runner.cleanup()


async def test_add_article_again_with_a_new_text_says_updated(news_service: NewsService) -> None:
    pages = {"text": FESTIVAL_TEXT}

    async def serve_page(request: web.Request) -> web.Response:
        return web.Response(
            text="<html><head><title>Lake Zurich swim</title></head><body><article>"
            f"<h1>Lake Zurich swim</h1><p>{pages['text']}</p></article></body></html>",
            content_type="text/html",
        )

    app = web.Application()
    app.router.add_get("/swim", serve_page)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/swim"
    try:
        async with discord_bot(news_service) as (fake, _):
            _, token = await slash(fake, "add_article", {"url": url}, user=fake.admin)
            await followup(fake, token, "Added")
            pages["text"] = FESTIVAL_TEXT.replace("3,000", "4,500")
            tracked = f"{url}?utm_source=discord&fbclid=abc"
            _, token = await slash(fake, "add_article", {"url": tracked}, user=fake.admin)
            updated = (await followup(fake, token, "Updated")).json["content"]
            assert "**Lake Zurich swim** to its new text" in updated
            [stored] = news_service.list(kb=kb_of(fake))
            assert stored.updated_at is not None
            answer = await ask_slash(fake, "How many swimmers came to the Lake Zurich festival?")
            assert "4,500" in answer.json["content"] and "3,000" not in answer.json["content"]
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    ("options", "why"),
    [
        ({"url": "/etc/passwd"}, "must be a web address"),
        ({"url": "file:///etc/passwd"}, "must be a web address"),
        ({}, "exactly one of"),
        ({"text": "Some text", "url": "https://example.com/a"}, "exactly one of"),
    ],
)
async def test_add_article_rejects_bad_input_privately(
    news_service: NewsService, options: dict[str, Any], why: str
) -> None:
    async with discord_bot(news_service) as (fake, _):
        callback, _ = await slash(fake, "add_article", options, user=fake.admin)
        assert callback.json["type"] == 4 and callback.json["data"]["flags"] & 64
        assert why in callback.json["data"]["content"]
        assert news_service.list(kb=kb_of(fake)) == []


async def test_members_without_permission_cannot_add_or_remove(news_service: NewsService) -> None:
    async with discord_bot(news_service) as (fake, _):
        news_service.add(SEED, kb=kb_of(fake))
        for command, options in (
            ("add_article", {"text": FESTIVAL_TEXT}),
            ("add_article", {"file": fake.attachment("f.txt", FESTIVAL_TEXT.encode())}),
            ("remove_article", {"id": SEED.id}),
        ):
            callback, _ = await slash(fake, command, options, user=fake.alice)
            assert callback.json["type"] == 4 and callback.json["data"]["flags"] & 64
            assert "only members with Manage Server" in callback.json["data"]["content"]
        assert [a.id for a in news_service.list(kb=kb_of(fake))] == [SEED.id]


async def test_everyone_may_add_when_configured(news_service: NewsService) -> None:
    async with discord_bot(news_service, add_permission="everyone") as (fake, _):
        _, token = await slash(fake, "add_article", {"text": FESTIVAL_TEXT}, user=fake.alice)
        await followup(fake, token, "Added")
        put = await fake.wait_for_call(lambda c: c.matches("PUT", "/applications/*/commands"))
        add = next(c for c in put.json if c["name"] == "add_article")
        assert add["default_member_permissions"] is None


async def test_an_article_added_in_one_guild_is_never_cited_in_another(
    news_service: NewsService,
) -> None:
    async with discord_bot(news_service) as (fake, _):
        news_service.add(SEED, kb=kb_of(fake, 1))
        _, token = await slash(fake, "add_article", {"text": FESTIVAL_TEXT}, user=fake.admin)
        await followup(fake, token, "Added")
        question = "How many swimmers came to the Lake Zurich festival?"
        in_a = await ask_slash(fake, question)
        in_b = await ask_slash(fake, question, guild_id=fake.guilds[1].id)
        assert "3,000" in in_a.json["content"]
        assert "3,000" not in json.dumps(in_b.json)
        assert "swim" not in json.dumps(in_b.json.get("embeds", [])).lower()
        assert [a.id for a in news_service.list(kb=kb_of(fake, 1))] == [SEED.id]


async def test_articles_lists_and_remove_article_removes(news_service: NewsService) -> None:
    async with discord_bot(news_service) as (fake, _):
        news_service.add(SEED, kb=kb_of(fake))
        callback, token = await slash(fake, "articles", {})
        assert callback.json["type"] == 5 and callback.json["data"]["flags"] & 64
        listing = (await followup(fake, token, SEED.id)).json["embeds"][0]
        assert listing["title"] == "Articles (1)" and "4 passages" in listing["description"]

        _, token = await slash(fake, "remove_article", {"id": SEED.id}, user=fake.admin)
        assert (await followup(fake, token)).json["content"] == f"Removed `{SEED.id}`."
        assert news_service.list(kb=kb_of(fake)) == []
        _, token = await slash(fake, "remove_article", {"id": SEED.id}, user=fake.admin)
        assert "No article with id" in (await followup(fake, token)).json["content"]
        assert ABSTAIN_TEXT in (await ask_slash(fake, "Why did China decline?")).json["content"]


async def test_articles_are_paged(news_service: NewsService) -> None:
    async with discord_bot(news_service) as (fake, _):
        for n in range(12):
            text = f"Story number {n} happened in town {n}. It was notable for reason {n}."
            news_service.add(
                article_from_dict({"title": f"Story {n}", "text": text}), kb=kb_of(fake)
            )
        _, token = await slash(fake, "articles", {"page": 2})
        listing = (await followup(fake, token, "Page 2")).json["embeds"][0]
        assert listing["footer"]["text"] == "Page 2 of 2"
        assert listing["description"].count("1 passage") == 2
