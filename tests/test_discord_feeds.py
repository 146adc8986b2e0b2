"""Feeds in Discord, end to end: the real discord.py client against the fake Discord
(tests/fake_discord.py), the real service, and a news site on 127.0.0.1 (tests/feed_site.py).
A manager follows a feed and names an announcement channel; the bot's own poll loop stores
the feed's articles and posts their headlines there in one message that pings nobody;
/feeds, /latest and /unfollow_feed (with its autocomplete) do what they say."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from discord_harness import (  # noqa: F401
    discord_bot,
    followup,
    guild_on,
    kb_of,
    news_service_fixture,
    slash,
)
from fake_discord import AUTOCOMPLETE, SUPPRESS_EMBEDS, assert_private
from feed_site import FeedSite, feed_site, town_story

from retrieval.service import NewsService
from retrieval.types import ServerSettings

pytestmark = [pytest.mark.server]

OPTIONS = {"feed_poll_s": 0.2, "max_feeds": 2}


@pytest.fixture
def site() -> Iterator[FeedSite]:
    with feed_site() as running:
        yield running


def recent(days_ago: int) -> str:
    return (date.today() - timedelta(days=days_ago)).isoformat()


async def test_follow_announce_list_latest_and_unfollow(
    news_service: NewsService, site: FeedSite
) -> None:
    stories = [town_story(n, day=recent(n)) for n in range(3)]
    url = site.add_feed("/feed.xml", "rss", "Valley Gazette", stories)
    async with discord_bot(news_service, **OPTIONS) as (fake, _):
        channel = fake.guilds[0].channel_id
        refused, _ = await slash(fake, "follow_feed", {"url": url})  # alice: no Manage Server
        assert_private(refused)
        assert "only members with Manage Server" in refused.json["data"]["content"]

        named, _ = await slash(fake, "announce_feeds", {"channel": str(channel)}, user=fake.admin)
        assert_private(named)
        assert f"<#{channel}>" in named.json["data"]["content"]

        callback, token = await slash(fake, "follow_feed", {"url": url}, user=fake.admin)
        assert callback.json["type"] == 5  # deferred at once: the feed is read first
        done = await followup(fake, token, "Following")
        assert_private(done)
        assert "Following **Valley Gazette**" in done.json["content"]
        assert f"posted in <#{channel}>" in done.json["content"]

        # the bot's poll loop: the three articles stored, one message with their headlines
        posted = await fake.wait_for_call(
            lambda c: (
                c.matches("POST", f"/channels/{channel}/messages")
                and "new articles" in (c.json.get("content") or "")
            ),
            timeout=60,
        )
        content = posted.json["content"]
        assert content.startswith("📰 **3 new articles** from the feeds this server follows:")
        for story in stories:  # newest first: title as a masked link, outlet, date
            assert (
                f"- [{story.title}]({site.base}{story.path}) — Valley Gazette · {story.day}"
                in content
            )
        assert content.index(stories[0].title) < content.index(stories[2].title)
        assert posted.json["allowed_mentions"]["parse"] == []
        assert posted.json.get("flags", 0) & SUPPRESS_EMBEDS  # no ten link previews
        assert len(news_service.list(kb=kb_of(fake))) == 3
        assert news_service.list(kb=kb_of(fake, 1)) == []  # the other server has none

        _, token = await slash(fake, "feeds", {})
        shown = await followup(fake, token, "Valley Gazette")
        assert_private(shown)
        description = shown.json["embeds"][0]["description"]
        assert shown.json["embeds"][0]["title"] == "Feeds (1 of 2)"
        assert f"**[Valley Gazette]({url})** · active" in description
        assert "3 entries read" in description

        _, token = await slash(fake, "latest", {})
        latest = await followup(fake, token, "What's new")
        embed = latest.json["embeds"][0]
        assert embed["description"].startswith("The newest articles of the last 7 days:")
        order = [embed["description"].index(s.title) for s in stories]
        assert order == sorted(order)  # newest first
        assert "> **[1]** “The Arden council voted on Monday" in embed["description"]
        assert f"Valley Gazette · {stories[0].day}" in embed["description"]

        _, token = await slash(fake, "latest", {"topic": "Corran traffic", "days": 30})
        on_topic = await followup(fake, token, "Corran")
        text = on_topic.json["embeds"][0]["description"]
        assert "Residents of Corran said traffic had fallen" in text and "Arden" not in text

        payload = await fake.send_interaction(
            "unfollow_feed", {"feed": "gaz"}, user=fake.admin, focused="feed"
        )
        assert payload["type"] == AUTOCOMPLETE
        choices = await fake.wait_for_call(
            lambda c: c.matches("POST", f"/interactions/*/{payload['token']}/callback")
        )
        [choice] = choices.json["data"]["choices"]
        assert choice["name"].startswith("Valley Gazette · http://127.0.0.1")

        _, token = await slash(fake, "unfollow_feed", {"feed": choice["value"]}, user=fake.admin)
        gone = await followup(fake, token, "Stopped following")
        assert_private(gone)
        assert news_service.feeds_followed(guild_id=fake.guilds[0].id) == []
        assert len(news_service.list(kb=kb_of(fake))) == 3  # the articles stay


async def test_a_bot_running_some_shards_polls_only_its_own_servers_feeds(
    news_service: NewsService, site: FeedSite
) -> None:
    """Several bot processes on one data folder (each running some shards) all see every
    followed feed; each polls only its own servers', whose channels it can see to announce
    in. Here the process runs shard 0 of 2: the feed of the server on shard 1 is left for
    the process running shard 1."""
    mine, theirs = guild_on(0, 2), guild_on(1, 2)
    for n, guild in enumerate((mine, theirs)):
        url = site.add_feed(f"/feed{n}.xml", "rss", f"Gazette {n}", [town_story(n)])
        news_service.follow_feed(url, kb=f"guild-{guild.id}", guild_id=guild.id)
        news_service.save_server_settings(
            guild.id, ServerSettings(announce_channel_id=guild.channel_id)
        )
    read_at_follow = site.requested("/feed1.xml")  # following reads the feed once
    options = {**OPTIONS, "shards": 2, "shard_ids": "0"}
    async with discord_bot(news_service, guilds=[mine, theirs], **options) as (fake, bot):
        assert fake.connected_shards == [(0, 2)]
        assert [g.id for g in bot.guilds] == [mine.id]
        posted = await fake.wait_for_call(
            lambda c: (
                c.matches("POST", f"/channels/{mine.channel_id}/messages")
                and "new article" in (c.json.get("content") or "")
            ),
            timeout=60,
        )
        assert town_story(0).title in posted.json["content"]
        await asyncio.sleep(1.0)  # five more looks of the poll loop
        assert site.requested("/feed1.xml") == read_at_follow  # the other process's: not polled
        assert news_service.list(kb=f"guild-{theirs.id}") == []
        assert not [c for c in fake.calls if c.path == f"/channels/{theirs.channel_id}/messages"]
    [left] = news_service.feeds_followed(guild_id=theirs.id)
    assert left.last_polled_at is None  # still due, for its own process


async def test_a_server_may_follow_only_so_many_feeds(
    news_service: NewsService, site: FeedSite
) -> None:
    urls = [site.add_feed(f"/f{n}.xml", "atom", f"Feed {n}", [town_story(n)]) for n in range(3)]
    async with discord_bot(news_service, **OPTIONS, poll_feeds=False) as (fake, _):
        for url in urls[:2]:
            _, token = await slash(fake, "follow_feed", {"url": url}, user=fake.admin)
            await followup(fake, token, "Following")
        refused, _ = await slash(fake, "follow_feed", {"url": urls[2]}, user=fake.admin)
        assert_private(refused)
        assert "follows 2 feeds, the most it may" in refused.json["data"]["content"]
        _, token = await slash(fake, "follow_feed", {"url": urls[0]}, user=fake.admin)
        assert "Already following **Feed 0**" in (await followup(fake, token)).json["content"]
        assert len(news_service.feeds_followed(guild_id=fake.guilds[0].id)) == 2
