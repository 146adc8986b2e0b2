"""End to end, questions: newsbot's real discord.py bot, over real sockets, against the fake
Discord (tests/fake_discord.py), with the real service — /ask, @mentions, follow-ups in replies,
limits, failures, and the bot as a whole (command sync, sharding, the token)."""

from __future__ import annotations

import json
import logging
import re

import pytest
from discord_harness import (
    SEED,
    FailingOnceService,
    LongAnswerService,
    RecordingService,
    ask_slash,
    cited_numbers,
    discord_bot,
    followup,
    kb_of,
    mention,
    news_service_fixture,  # noqa: F401 (registers the `news_service` fixture)
    quotes_in,
    reply_to,
    sent_message,
    slash,
)
from fake_discord import FakeDiscord, assert_private, running_bot

from bot.discord_bot import DiscordSettings, build_bot
from bot.discord_bot.app import ShardedNewsBot
from bot.discord_bot.messages import APOLOGY, EMBED_DESCRIPTION_LIMIT, EMBED_TOTAL_LIMIT
from retrieval.ingest.articles import article_from_dict
from retrieval.service import NewsService

pytestmark = [pytest.mark.asyncio(loop_scope="function"), pytest.mark.server]  # the fake Discord


# -- questions -------------------------------------------------------------------------------


async def test_ask_defers_then_answers_with_verbatim_citations(news_service: NewsService) -> None:
    async with discord_bot(news_service) as (fake, _):
        news_service.add(SEED, kb=kb_of(fake))
        callback, token = await slash(fake, "ask", {"question": "Why did China decline?"})
        assert callback.json["type"] == 5
        answer = await followup(fake, token)
        assert fake.calls.index(callback) < fake.calls.index(answer)

        content = answer.json["content"]
        assert content.startswith("> Why did China decline?\n")
        markers = {int(n) for n in re.findall(r"\[(\d+)\]", content)}
        assert markers and markers == cited_numbers(answer)
        quotes = quotes_in(answer)
        assert len(quotes) == len(markers) and all(q and q in SEED.text for q in quotes)
        assert SEED.title in answer.json["embeds"][0]["description"].replace("\\", "")
        assert answer.json["allowed_mentions"]["parse"] == []


async def test_mention_is_answered_in_a_reply_and_chatter_is_ignored(
    news_service: NewsService,
) -> None:
    async with discord_bot(news_service) as (fake, _):
        news_service.add(SEED, kb=kb_of(fake))
        await fake.send_message(fake.guilds[0].channel_id, "what a week, huh")
        question = await mention(fake, "Who did Lloyd Austin want to meet?")
        answer = await reply_to(fake, question)
        assert "Li Shangfu" in answer.json["content"]
        assert all(q in SEED.text for q in quotes_in(answer))
        assert answer.json["allowed_mentions"] == {"parse": []}
        replies = [c for c in fake.calls if c.matches("POST", "/channels/*/messages")]
        assert replies == [answer]  # the chatter got nothing
        # "typing…" while the answer is composed, then the answer once: no edits.
        typing = [c for c in fake.calls if c.matches("POST", "/channels/*/typing")]
        assert typing and fake.calls.index(typing[0]) < fake.calls.index(answer)
        assert not [c for c in fake.calls if c.method == "PATCH"]


async def test_reply_to_an_answer_is_a_follow_up_with_context(news_service: NewsService) -> None:
    service = RecordingService(news_service)
    async with discord_bot(service) as (fake, _):
        news_service.add(SEED, kb=kb_of(fake))
        first = await reply_to(fake, await mention(fake, "What meeting did China decline?"))

        # "why?" on its own says nothing; as a reply to the answer it is about the refusal.
        why = await fake.send_message(
            fake.guilds[0].channel_id,
            "why?",
            message_reference=int(sent_message(fake, first)["id"]),
        )
        second = await reply_to(fake, why)
        question, history, answer = service.asked[-1]
        assert question == "why?"
        assert [t.question for t in history] == ["What meeting did China decline?"]
        assert "China" in (answer.standalone_question or "")  # the subject came from history
        assert {c.article_id for c in answer.citations} == {SEED.id}
        # the answer to "why did China decline the meeting?": the reason China gave
        assert "citing US restrictions imposed on Chinese officials" in second.json["content"]

        # And a follow-up to the follow-up carries the whole chain.
        when = await fake.send_message(
            fake.guilds[0].channel_id,
            "when was that?",
            message_reference=int(sent_message(fake, second)["id"]),
        )
        await reply_to(fake, when)
        _, history, _ = service.asked[-1]
        assert len(history) == 2 and "China" in history[1].question


async def test_reply_to_a_slash_answer_is_a_follow_up(news_service: NewsService) -> None:
    service = RecordingService(news_service)
    async with discord_bot(service) as (fake, _):
        news_service.add(SEED, kb=kb_of(fake))
        answer = await ask_slash(fake, "What did the Pentagon say?")
        follow = await fake.send_message(
            fake.guilds[0].channel_id,
            "and the Chinese embassy?",
            message_reference=int(sent_message(fake, answer)["id"]),
        )
        await reply_to(fake, follow)
        assert [t.question for t in service.asked[-1][1]] == ["What did the Pentagon say?"]


async def test_mentions_in_answers_never_ping(news_service: NewsService) -> None:
    async with discord_bot(news_service) as (fake, _):
        text = (
            "Mayor Ana Ruiz told @everyone at the harbour gala that <@123> would open the new "
            "ferry terminal in June. The terminal cost 40 million euros."
        )
        news_service.add(
            article_from_dict({"title": "Ferry terminal", "text": text}), kb=kb_of(fake)
        )
        for answer in (
            await ask_slash(fake, "Who would open the ferry terminal?"),
            await reply_to(fake, await mention(fake, "Who would open the ferry terminal?")),
        ):
            assert "@everyone" in answer.json["content"] and "<@123>" in answer.json["content"]
            assert answer.json["allowed_mentions"]["parse"] == []
            assert "replied_user" not in answer.json["allowed_mentions"]


async def test_a_long_answer_is_split_within_discord_limits(news_service: NewsService) -> None:
    async with discord_bot(LongAnswerService(news_service)) as (fake, _):
        _, token = await slash(fake, "ask", {"question": "Tell me everything"})
        await followup(fake, token, "Title 12")
        sent = [c for c in fake.calls if c.matches("POST", f"/webhooks/*/{token}")]
        assert len(sent) > 3
        for call in sent:
            embeds = call.json.get("embeds", [])
            assert len(call.json.get("content") or "") <= 2000
            assert all(len(e.get("description", "")) <= EMBED_DESCRIPTION_LIMIT for e in embeds)
            assert sum(len(e.get("title") or "") + len(e["description"]) for e in embeds) <= (
                EMBED_TOTAL_LIMIT
            )
        texts = [c.json.get("content") for c in sent if c.json.get("content")]
        assert all(re.search(r"\[\d+\]$", t) for t in texts)  # cut after a marker, never before
        first_sources = next(i for i, c in enumerate(sent) if c.json.get("embeds"))
        assert all(not c.json.get("content") for c in sent[first_sources + 1 :])  # sources last


async def test_questions_over_the_rate_limit_get_a_polite_no(news_service: NewsService) -> None:
    async with discord_bot(news_service, rate_limit=2) as (fake, _):
        news_service.add(SEED, kb=kb_of(fake))
        await ask_slash(fake, "Who is Li Shangfu?")
        await ask_slash(fake, "Who is Lloyd Austin?")
        callback, _ = await slash(fake, "ask", {"question": "Who is Patrick Ryder?"})
        assert callback.json["type"] == 4 and callback.json["data"]["flags"] & 64
        assert "try again in" in callback.json["data"]["content"]
        over = await mention(fake, "Who is Liu Pengyu?")
        assert "try again in" in (await reply_to(fake, over)).json["content"]
        # Another member is not held back by alice's questions.
        answer = await ask_slash(fake, "Who is Patrick Ryder?", user=fake.admin)
        assert "Ryder" in answer.json["content"]


async def test_a_failure_gets_an_apology_and_the_bot_keeps_serving(
    news_service: NewsService, caplog: pytest.LogCaptureFixture
) -> None:
    service = FailingOnceService(news_service)
    async with discord_bot(service) as (fake, _):
        news_service.add(SEED, kb=kb_of(fake))
        _, token = await slash(fake, "ask", {"question": "Why did China decline?"})
        assert (await followup(fake, token)).json["content"] == APOLOGY
        assert "the index is on fire" in caplog.text and "/ask failed" in caplog.text
        assert "Pelosi" in (await ask_slash(fake, "Why did China decline?")).json["content"]

        service.failures_left = 1
        assert (await reply_to(fake, await mention(fake, "Why?"))).json["content"] == APOLOGY
        answer = await reply_to(fake, await mention(fake, "Who is Li Shangfu?"))
        assert "Li Shangfu" in answer.json["content"]


async def test_a_bad_question_is_refused_privately_before_anything_is_deferred(
    news_service: NewsService,
) -> None:
    async with discord_bot(news_service) as (fake, _):
        put = await fake.wait_for_call(lambda c: c.matches("PUT", "/applications/*/commands"))
        [question] = next(c for c in put.json if c["name"] == "ask")["options"]
        assert question["max_length"] == 1000  # Discord's client enforces it
        with pytest.raises(ValueError, match="over 1000"):
            await fake.send_interaction("ask", {"question": "x" * 1200})
        for empty in ("   ", "<@123> @everyone <#456>"):
            callback, _ = await slash(fake, "ask", {"question": empty})
            assert callback.json["type"] == 4  # answered at once, never deferred
            assert_private(callback)
            assert "mention me with a question" in callback.json["data"]["content"]
        reply = await reply_to(fake, await mention(fake, ""))
        assert "mention me with a question" in reply.json["content"]


# -- the bot as a whole ----------------------------------------------------------------------


async def test_commands_are_synced_with_descriptions_and_permissions(
    news_service: NewsService,
) -> None:
    async with discord_bot(news_service) as (fake, _):
        put = await fake.wait_for_call(lambda c: c.matches("PUT", "/applications/*/commands"))
        commands = {c["name"]: c for c in put.json}
        assert set(commands) == {
            "ask",
            "add_article",
            "articles",
            "remove_article",
            "help",
            "set_ask_channel",
            "set_threads",
            "set_channel_kb",
            "feedback_report",
            "follow_feed",
            "feeds",
            "unfollow_feed",
            "announce_feeds",
            "latest",
        }
        assert all(c["description"] for c in commands.values())
        assert all(o["description"] for c in commands.values() for o in c.get("options", []))
        assert str(commands["add_article"]["default_member_permissions"]) == "32"  # Manage Server
        assert str(commands["remove_article"]["default_member_permissions"]) == "32"
        assert commands["ask"]["default_member_permissions"] is None
        for managing in (
            "set_ask_channel",
            "set_threads",
            "set_channel_kb",
            "feedback_report",
            "follow_feed",
            "unfollow_feed",
            "announce_feeds",
        ):
            assert str(commands[managing]["default_member_permissions"]) == "32"
        for everyone in ("help", "feeds", "latest"):
            assert commands[everyone]["default_member_permissions"] is None
        assert [o.get("autocomplete") for o in commands["unfollow_feed"]["options"]] == [True]
        assert [o.get("autocomplete") for o in commands["remove_article"]["options"]] == [True]
        assert [o["name"] for o in commands["remove_article"]["options"]] == ["id"]


async def test_commands_sync_to_one_guild_for_development(news_service: NewsService) -> None:
    async with FakeDiscord() as fake:
        guild = fake.guilds[1].id
        options = DiscordSettings(guild_ready_timeout=0.05, sync_guild=guild)
        async with running_bot(build_bot(service=news_service, options=options), fake):
            await fake.wait_for_call(
                lambda c: c.matches("PUT", f"/applications/*/guilds/{guild}/commands")
            )
            assert {c["name"] for c in fake.commands[guild]} >= {"ask", "add_article"}
            assert None not in fake.commands


async def test_a_sharded_bot_answers_too(news_service: NewsService) -> None:
    async with discord_bot(news_service, shards=1) as (fake, bot):
        assert isinstance(bot, ShardedNewsBot) and bot.shard_count == 1
        news_service.add(SEED, kb=kb_of(fake))
        assert (
            "Li Shangfu"
            in (await ask_slash(fake, "Who did Lloyd Austin want to meet?")).json["content"]
        )


async def test_the_token_never_reaches_the_logs(
    news_service: NewsService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = "MTAx.secret-token-for-the-test.abc"
    async with FakeDiscord() as fake:
        bot = build_bot(
            service=FailingOnceService(news_service),
            options=DiscordSettings(guild_ready_timeout=0.05),
        )
        async with running_bot(bot, fake, token=token):
            _, interaction = await slash(fake, "ask", {"question": "Why?"})
            await followup(fake, interaction, APOLOGY)  # the error was logged with its context
    assert "the index is on fire" in caplog.text
    assert token not in caplog.text and "secret-token" not in caplog.text
    assert token not in json.dumps([c.json for c in fake.calls])
