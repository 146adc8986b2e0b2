"""Adds are rate limited: /add_article and /follow_feed each count as one add, per member and per
server in a sliding hour, refused privately (saying when to try again) before anything is
fetched or stored. The limit itself on a fake clock; the bot end to end against the fake
Discord, the real service and a news site on 127.0.0.1 (tests/feed_site.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from discord_harness import (
    FESTIVAL_TEXT,
    DelegatingService,
    discord_bot,
    followup,
    kb_of,
    news_service_fixture,  # noqa: F401 (registers the `news_service` fixture)
    slash,
)
from fake_discord import assert_private
from fakes import Clock
from feed_site import FeedSite, feed_site, town_story

from bot.discord_bot.messages import add_limited
from bot.discord_bot.rate_limit import AddLimit, LimitReached
from bot.discord_bot.settings import DiscordSettings
from retrieval.service import NewsService
from retrieval.types import AddResult, Article, Feed

# -- the limit, on a fake clock ----------------------------------------------------------------


def test_a_member_is_held_to_their_own_limit_for_an_hour_wherever_they_add() -> None:
    clock = Clock()
    limit = AddLimit(2, 10, clock=clock)
    assert limit.acquire(user_id=1, guild_id=100) is None
    clock.now += 600
    assert limit.acquire(user_id=1, guild_id=200) is None  # another server: the same member
    clock.now += 600
    reached = limit.acquire(user_id=1, guild_id=100)
    assert reached == LimitReached("user", 2, pytest.approx(2400))  # the first add, at 3600 s
    assert limit.acquire(user_id=2, guild_id=100) is None  # another member is not held back
    clock.now += 2400
    assert limit.acquire(user_id=1, guild_id=100) is None


def test_a_server_is_held_to_its_limit_and_a_refusal_is_charged_to_no_one() -> None:
    clock = Clock()
    limit = AddLimit(2, 3, clock=clock)
    assert [limit.acquire(user_id=u, guild_id=100) for u in (1, 1, 2)] == [None] * 3
    clock.now += 60
    reached = limit.acquire(user_id=3, guild_id=100)
    assert reached == LimitReached("server", 3, pytest.approx(3540))
    # member 3 was refused by the server's limit, not charged: they may add elsewhere twice
    assert limit.acquire(user_id=3, guild_id=200) is None
    assert limit.acquire(user_id=3, guild_id=200) is None
    assert limit.acquire(user_id=3, guild_id=200) == LimitReached("user", 2, pytest.approx(3600))
    # and a member refused by their own limit is not charged to their server
    other = AddLimit(1, 2, clock=clock)
    assert other.acquire(user_id=1, guild_id=100) is None
    assert other.acquire(user_id=1, guild_id=100) is not None
    assert other.acquire(user_id=2, guild_id=100) is None


def test_a_limit_of_zero_means_no_limit() -> None:
    limit = AddLimit(0, 0)
    assert all(limit.acquire(user_id=1, guild_id=100) is None for _ in range(500))
    assert all(AddLimit(0, 5).acquire(user_id=1, guild_id=100) is None for _ in range(3))


@pytest.mark.parametrize(
    ("reached", "expected"),
    [
        (
            LimitReached("user", 20, 3599.2),
            "You have added 20 articles or feeds in the last hour, the most one member may; "
            "you can add again in 60 min. Nothing was added.",
        ),
        (
            LimitReached("server", 60, 61),
            "This server has added 60 articles or feeds in the last hour, the most one server "
            "may; you can add again in 2 min. Nothing was added.",
        ),
        (LimitReached("user", 1, 0.2), "you can add again in 1 s."),
        (LimitReached("user", 1, 59.5), "you can add again in 60 s."),
    ],
)
def test_the_refusal_says_whose_limit_and_when_to_add_again(
    reached: LimitReached, expected: str
) -> None:
    assert expected in add_limited(reached)


def test_the_limits_are_settings_with_hourly_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NEWSBOT_DISCORD_ADD_RATE_LIMIT", "NEWSBOT_DISCORD_GUILD_ADD_RATE_LIMIT"):
        monkeypatch.delenv(name, raising=False)
    defaults = DiscordSettings(_env_file=None)  # type: ignore[call-arg]
    assert (defaults.add_rate_limit, defaults.guild_add_rate_limit) == (20, 60)
    monkeypatch.setenv("NEWSBOT_DISCORD_ADD_RATE_LIMIT", "0")
    monkeypatch.setenv("NEWSBOT_DISCORD_GUILD_ADD_RATE_LIMIT", "5")
    read = DiscordSettings(_env_file=None)  # type: ignore[call-arg]
    assert (read.add_rate_limit, read.guild_add_rate_limit) == (0, 5)


# -- end to end --------------------------------------------------------------------------------


class CountingService(DelegatingService):
    """The real service, counting what an add costs: fetches, stores and feed follows."""

    def __init__(self, inner: NewsService) -> None:
        super().__init__(inner)
        self.fetched: list[str] = []
        self.added: list[str] = []
        self.followed: list[str] = []

    def fetch(self, url: str) -> Article:
        self.fetched.append(url)
        return super().fetch(url)

    def add(self, article: Article, *, kb: str) -> AddResult:
        self.added.append(article.title)
        return super().add(article, kb=kb)

    def follow_feed(
        self, url: str, *, kb: str, guild_id: int | None = None, interval_s: int | None = None
    ) -> tuple[Feed, bool]:
        self.followed.append(url)
        return super().follow_feed(url, kb=kb, guild_id=guild_id, interval_s=interval_s)


@pytest.fixture
def site() -> Iterator[FeedSite]:
    with feed_site() as running:
        yield running


def story_url(site: FeedSite, n: int) -> str:
    story = town_story(n, prefix="/story")
    site.pages[story.path] = story
    return f"{site.base}{story.path}"


WAIT = re.compile(r"you can add again in (\d+) min\. Nothing was added\.")


def refused_for_minutes(content: str) -> int:
    found = WAIT.search(content)
    assert found is not None, content
    return int(found.group(1))


@pytest.mark.server
@pytest.mark.asyncio(loop_scope="function")
async def test_the_add_over_a_members_limit_is_refused_before_anything_is_fetched(
    news_service: NewsService, site: FeedSite
) -> None:
    service = CountingService(news_service)
    options = {"add_rate_limit": 2, "guild_add_rate_limit": 10, "poll_feeds": False}
    async with discord_bot(service, **options) as (fake, _):
        # a mistaken add (two sources) is refused as before and not counted
        mistaken, _ = await slash(
            fake, "add_article", {"text": FESTIVAL_TEXT, "url": site.base}, user=fake.admin
        )
        assert "exactly one of" in mistaken.json["data"]["content"]

        _, first = await slash(
            fake, "add_article", {"text": FESTIVAL_TEXT, "title": "Swim"}, user=fake.admin
        )
        await followup(fake, first, "Added")
        _, second = await slash(fake, "add_article", {"url": story_url(site, 1)}, user=fake.admin)
        await followup(fake, second, "Added")
        assert len(site.requested("/story/")) == 1

        third_url = story_url(site, 2)
        refused, _ = await slash(fake, "add_article", {"url": third_url}, user=fake.admin)
        assert refused.json["type"] == 4  # answered at once, not deferred
        assert_private(refused)
        content = refused.json["data"]["content"]
        assert content.startswith("You have added 2 articles or feeds in the last hour")
        assert refused_for_minutes(content) == 60
        assert site.requested("/story/2") == []
        assert service.fetched == [story_url(site, 1)]
        assert len(service.added) == 2
        assert len(news_service.list(kb=kb_of(fake))) == 2


@pytest.mark.server
@pytest.mark.asyncio(loop_scope="function")
async def test_the_servers_limit_holds_every_member_and_not_other_servers(
    news_service: NewsService, site: FeedSite
) -> None:
    service = CountingService(news_service)
    options = {"add_rate_limit": 5, "guild_add_rate_limit": 2, "poll_feeds": False}
    async with discord_bot(service, **options) as (fake, _):
        editor = fake.add_user("editor", manage_guild=True)
        for n in (1, 2):
            _, token = await slash(
                fake, "add_article", {"url": story_url(site, n)}, user=fake.admin
            )
            await followup(fake, token, "Added")

        refused, _ = await slash(fake, "add_article", {"url": story_url(site, 3)}, user=editor)
        assert_private(refused)
        content = refused.json["data"]["content"]
        assert content.startswith("This server has added 2 articles or feeds in the last hour")
        assert 59 <= refused_for_minutes(content) <= 60
        assert site.requested("/story/3") == []
        assert len(news_service.list(kb=kb_of(fake))) == 2

        # the editor was not charged for the refusal: in the other server they may add
        _, token = await slash(
            fake,
            "add_article",
            {"url": story_url(site, 3)},
            user=editor,
            guild_id=fake.guilds[1].id,
        )
        await followup(fake, token, "Added")
        assert len(news_service.list(kb=kb_of(fake, 1))) == 1
        assert len(service.fetched) == 3


@pytest.mark.server
@pytest.mark.asyncio(loop_scope="function")
async def test_following_a_feed_counts_as_an_add(news_service: NewsService, site: FeedSite) -> None:
    service = CountingService(news_service)
    options = {"add_rate_limit": 2, "guild_add_rate_limit": 10, "poll_feeds": False}
    feed = site.add_feed("/valley.xml", "rss", "Valley Gazette", [town_story(0)])
    other = site.add_feed("/hill.xml", "atom", "Hill Herald", [town_story(4)])
    async with discord_bot(service, **options) as (fake, _):
        _, token = await slash(fake, "follow_feed", {"url": feed}, user=fake.admin)
        await followup(fake, token, "Following")
        _, token = await slash(fake, "add_article", {"url": story_url(site, 1)}, user=fake.admin)
        await followup(fake, token, "Added")

        refused, _ = await slash(fake, "follow_feed", {"url": other}, user=fake.admin)
        assert_private(refused)
        assert refused_for_minutes(refused.json["data"]["content"]) == 60
        assert site.requested("/hill.xml") == []
        assert service.followed == [feed]
        assert [f.url for f in news_service.feeds_followed(guild_id=fake.guilds[0].id)] == [feed]

        refused, _ = await slash(
            fake, "add_article", {"text": FESTIVAL_TEXT, "title": "Swim"}, user=fake.admin
        )
        assert "You have added 2 articles or feeds" in refused.json["data"]["content"]
        assert service.added == [town_story(1, prefix="/story").title]
