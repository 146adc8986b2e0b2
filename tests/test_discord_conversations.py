"""End to end, conversations as a server plays them: the ask channel and its threads (read back
after a restart), follow-ups that name whom the last answer named, chat that is not a question,
private refusals for real (the fake holds the bot to Discord's visibility rule), the buttons
under an answer, /help, /feedback_report and autocomplete."""

from __future__ import annotations

import json
from typing import Any

import pytest
from discord_harness import (
    SEED,
    FailingOnceService,
    RecordingService,
    ask_slash,
    discord_bot,
    kb_of,
    mention,
    news_service_fixture,  # noqa: F401 (registers the `news_service` fixture)
    reply_to,
    sent_message,
    slash,
)
from fake_discord import Call, FakeDiscord, assert_private, is_private, running_bot
from loopback_http import serve

from bot.discord_bot import DiscordSettings, build_bot
from bot.discord_bot.feedback import THANKS
from bot.discord_bot.messages import APOLOGY
from retrieval.ingest.articles import article_from_dict
from retrieval.service import NewsService

pytestmark = [pytest.mark.asyncio(loop_scope="function"), pytest.mark.server]  # the fake Discord

OPTIONS: dict[str, Any] = {"guild_ready_timeout": 0.05}


def posted(fake: FakeDiscord, channel: int | str) -> list[Call]:
    return [c for c in fake.calls if c.matches("POST", f"/channels/{channel}/messages")]


async def answer_in(fake: FakeDiscord, channel: int | str, after: int = 0) -> Call:
    """The bot's next answer (the message carrying the buttons) in a channel or thread."""
    return await fake.wait_for_call(
        lambda c: (
            c.matches("POST", f"/channels/{channel}/messages")
            and fake.calls.index(c) >= after
            and bool(c.json.get("components"))
        )
    )


# -- errors and refusals, private for real ---------------------------------------------------


async def test_an_error_after_the_public_defer_is_shown_only_to_the_member(
    news_service: NewsService,
) -> None:
    async with discord_bot(FailingOnceService(news_service)) as (fake, _):
        news_service.add(SEED, kb=kb_of(fake))
        callback, token = await slash(fake, "ask", {"question": "Why did China decline?"})
        assert callback.json["type"] == 5 and not is_private(callback)  # answers are public
        apology = await fake.wait_for_call(lambda c: c.matches("POST", f"/webhooks/*/{token}"))
        assert apology.json["content"] == APOLOGY
        assert_private(apology)  # the fake would have shown it to all had it edited the defer
        deleted = await fake.wait_for_call(lambda c: c.matches("DELETE", f"/webhooks/*/{token}/messages/@original"))  # fmt: skip
        assert fake.calls.index(deleted) < fake.calls.index(apology)
        assert callback.message is not None and int(callback.message["id"]) not in fake.messages


async def test_a_page_that_cannot_be_read_is_refused_privately(news_service: NewsService) -> None:
    with serve({}) as base:  # every page: 404
        async with discord_bot(news_service) as (fake, _):
            options = {"url": f"{base}/gone"}
            callback, token = await slash(fake, "add_article", options, user=fake.admin)
            assert callback.json["type"] == 5 and is_private(callback)
            refusal = await fake.wait_for_call(lambda c: c.matches("POST", f"/webhooks/*/{token}"))  # fmt: skip
            assert refusal.json["content"].startswith("Sorry, I couldn't do that")
            assert_private(refusal)
            assert news_service.list(kb=kb_of(fake)) == []


# -- follow-ups --------------------------------------------------------------------------------


async def test_the_ask_channel_a_thread_per_question_and_follow_ups_after_a_restart(
    news_service: NewsService,
) -> None:
    """The conversation of issue 14: ask channel → thread → "who is he?" → restart → more."""
    service = RecordingService(news_service)
    async with FakeDiscord() as fake:
        news_service.add(SEED, kb=kb_of(fake))
        channel = fake.guilds[0].channel_id
        async with running_bot(build_bot(service=service, options=DiscordSettings(**OPTIONS)), fake):  # fmt: skip
            callback, _ = await slash(fake, "set_ask_channel", {"channel": str(channel)}, user=fake.admin)  # fmt: skip
            assert_private(callback)
            assert "is now a question" in callback.json["data"]["content"]

            question = await fake.send_message(channel, "What did the Pentagon say?")
            first = await answer_in(fake, question["id"])  # the thread has the message's id
            thread = fake.thread_of(question)
            assert thread is not None and thread["name"] == "What did the Pentagon say?"
            assert "Pentagon" in first.json["content"]
            assert posted(fake, channel) == []  # nothing in the channel itself

            who = await fake.send_message(thread["id"], "who is he?")
            second = await reply_to(fake, who)
            asked, history, answer = service.asked[-1]
            assert asked == "who is he?" and [t.question for t in history] == ["What did the Pentagon say?"]  # fmt: skip
            assert "Patrick Ryder" in (answer.standalone_question or "")
            lead = second.json["content"].split("[1]")[0]
            assert "Patrick Ryder" in lead  # named first, not the statement repeated

        # A new process: nothing in memory, the thread and the settings come back from
        # Discord (GUILD_CREATE's active threads) and the store.
        async with running_bot(build_bot(service=service, options=DiscordSettings(**OPTIONS)), fake):  # fmt: skip
            more = await fake.send_message(thread["id"], "what else did he say?")
            await reply_to(fake, more)
            _, history, answer = service.asked[-1]
            assert history[0].question == "What did the Pentagon say?"
            assert "Patrick Ryder" in history[-1].question  # read back from "Read as"
            assert "Patrick Ryder" in (answer.standalone_question or "")

            thanks = await fake.send_message(thread["id"], "thanks!")
            # a question after it, answered: so the bot had read "thanks!" and let it be
            li = await fake.send_message(channel, "Who is Li Shangfu?")
            await answer_in(fake, li["id"])
            replies = [c.json.get("message_reference") for c in posted(fake, thread["id"])]
            assert {"message_id": int(thanks["id"])} not in replies
            assert str(thanks["id"]) not in json.dumps(replies)
        assert [c for c in fake.calls if c.status >= 400] == []


async def test_replies_that_are_not_questions_get_no_answer(news_service: NewsService) -> None:
    service = RecordingService(news_service)
    async with discord_bot(service) as (fake, _):
        news_service.add(SEED, kb=kb_of(fake))
        first = await reply_to(fake, await mention(fake, "What meeting did China decline?"))
        answer_id = int(sent_message(fake, first)["id"])
        channel = fake.guilds[0].channel_id
        for chat in ("thanks!", "lol that's wrong"):
            await fake.send_message(channel, chat, message_reference=answer_id)
        why = await fake.send_message(channel, "why?", message_reference=answer_id)
        await reply_to(fake, why)
        assert [q for q, _, _ in service.asked] == ["What meeting did China decline?", "why?"]
        assert len(posted(fake, channel)) == 2


async def test_mentions_roles_channels_and_everyone_never_reach_the_question(
    news_service: NewsService,
) -> None:
    service = RecordingService(news_service)
    async with discord_bot(service) as (fake, _):
        news_service.add(SEED, kb=kb_of(fake))
        await reply_to(fake, await mention(fake, "@everyone who is <@123> and <@&456> in <#789>?"))
        await ask_slash(fake, "<@!99> Who is Li Shangfu?")
        assert [q for q, _, _ in service.asked] == ["who is and in ?", "Who is Li Shangfu?"]


async def test_one_rate_limit_notice_per_window_then_a_reaction(news_service: NewsService) -> None:
    async with discord_bot(news_service, rate_limit=1) as (fake, _):
        news_service.add(SEED, kb=kb_of(fake))
        await reply_to(fake, await mention(fake, "Who is Li Shangfu?"))
        over = await mention(fake, "Who is Lloyd Austin?")
        assert "try again in" in (await reply_to(fake, over)).json["content"]
        again = await mention(fake, "Who is Patrick Ryder?")
        react = await fake.wait_for_call(lambda c: c.matches("PUT", f"/channels/*/messages/{again['id']}/reactions/*/@me"))  # fmt: skip
        assert react.path.endswith("/⏳/@me")
        notices = [c for c in posted(fake, fake.guilds[0].channel_id) if "try again" in c.json.get("content", "")]  # fmt: skip
        assert len(notices) == 1


async def test_thread_mode_answers_slash_and_mentions_in_threads(news_service: NewsService) -> None:
    async with discord_bot(news_service) as (fake, _):
        news_service.add(SEED, kb=kb_of(fake))
        callback, _ = await slash(fake, "set_threads", {"enabled": True}, user=fake.admin)
        assert_private(callback)
        answer = await ask_slash(fake, "Who is Li Shangfu?")
        assert answer.message is not None
        mid = answer.message["id"]
        await fake.wait_for_call(lambda c: c.matches("POST", f"/channels/*/messages/{mid}/threads"))  # fmt: skip
        assert fake.thread_of(answer.message)["name"] == "Who is Li Shangfu?"  # type: ignore[index]
        question = await mention(fake, "Who did Lloyd Austin want to meet?")
        await answer_in(fake, question["id"])
        assert fake.thread_of(question)["name"] == "Who did Lloyd Austin want to meet?"  # type: ignore[index]


# -- answers, buttons, reports -----------------------------------------------------------------


async def test_sources_link_their_articles_and_votes_are_reported(
    news_service: NewsService,
) -> None:
    url = "https://news.example/ferry"
    article = article_from_dict({
        "title": "Ferry terminal opens", "url": url, "source": "Harbour News",
        "published_at": "2024-06-01",
        "text": "The new ferry terminal opened on Saturday. It cost 40 million euros to build. "
                "The terminal serves 12 routes.",
    })  # fmt: skip
    async with discord_bot(news_service) as (fake, _):
        news_service.add(article, kb=kb_of(fake))
        answer = await ask_slash(fake, "How much did the ferry terminal cost?")
        description = answer.json["embeds"][0]["description"]
        assert f"**[Ferry terminal opens]({url})**" in description
        assert "Harbour News · 2024-06-01" in description
        assert description.count("Ferry terminal opens") == 1  # one entry per article
        buttons = [b for row in answer.json["components"] for b in row["components"]]
        assert [b.get("custom_id") for b in buttons[:2]] == ["newsbot:vote:up", "newsbot:vote:down"]  # fmt: skip
        assert {k: buttons[2][k] for k in ("style", "label", "url")} == {"style": 5, "label": "Open: Ferry terminal opens", "url": url}  # fmt: skip

        click = await fake.click(answer.message, "newsbot:vote:down")  # type: ignore[arg-type]
        thanked = await fake.wait_for_call(lambda c: c.matches("POST", f"/interactions/*/{click['token']}/callback"))  # fmt: skip
        assert thanked.json["data"]["content"] == THANKS and is_private(thanked)
        [vote] = news_service.feedback(fake.guilds[0].id)
        assert (vote.question, vote.vote, vote.kb) == ("How much did the ferry terminal cost?", -1, kb_of(fake))  # fmt: skip
        assert "40 million" in vote.answer
        assert fake.alice["id"] not in json.dumps(vote.__dict__) and "alice" not in json.dumps(vote.__dict__)  # fmt: skip

        refused, _ = await slash(fake, "feedback_report", {})
        assert_private(refused)
        assert "only members with Manage Server" in refused.json["data"]["content"]
        report, _ = await slash(fake, "feedback_report", {}, user=fake.admin)
        shown = report.json["data"]["embeds"][0]["description"]
        assert "1 👍" not in shown and "0 👍, 1 👎" in shown
        assert "How much did the ferry terminal cost?" in shown


async def test_help_and_autocomplete(news_service: NewsService) -> None:
    async with discord_bot(news_service) as (fake, _):
        news_service.add(SEED, kb=kb_of(fake))
        callback, _ = await slash(fake, "help", {})
        assert_private(callback)
        text = callback.json["data"]["content"]
        assert "/ask" in text and "ask channel none" in text and "threads for `/ask` and mentions off" in text  # fmt: skip

        typed = await fake.send_interaction("remove_article", {"id": "shangri"}, user=fake.admin, focused="id")  # fmt: skip
        choices = await fake.wait_for_call(lambda c: c.matches("POST", f"/interactions/*/{typed['token']}/callback"))  # fmt: skip
        assert choices.json["type"] == 8
        assert choices.json["data"]["choices"] == [{"name": SEED.title, "value": SEED.id}]
        typed = await fake.send_interaction("remove_article", {"id": "shangri"}, focused="id")  # alice may not remove  # fmt: skip
        none = await fake.wait_for_call(lambda c: c.matches("POST", f"/interactions/*/{typed['token']}/callback"))  # fmt: skip
        assert none.json["data"]["choices"] == []


async def test_add_article_takes_a_date_and_a_source(news_service: NewsService) -> None:
    async with discord_bot(news_service) as (fake, _):
        text = "The council approved the new bridge on Monday. Work starts in spring."
        options = {"text": text, "title": "Bridge approved", "published_at": "2024-03-04", "source": "Gazette"}  # fmt: skip
        _, token = await slash(fake, "add_article", options, user=fake.admin)
        added = await fake.wait_for_call(lambda c: c.matches("POST", f"/webhooks/*/{token}"))
        assert_private(added)
        [stored] = news_service.list(kb=kb_of(fake))
        assert (stored.published_at, stored.source) == ("2024-03-04", "Gazette")
        callback, _ = await slash(fake, "add_article", {**options, "published_at": "4 March"}, user=fake.admin)  # fmt: skip
        assert callback.json["type"] == 4 and is_private(callback)
        assert "is not a date like" in callback.json["data"]["content"]

        _, token = await slash(fake, "articles", {"page": 2})
        listing = await fake.wait_for_call(lambda c: c.matches("POST", f"/webhooks/*/{token}"))
        assert (
            "There is no page 2: the list has 1 page." in listing.json["embeds"][0]["description"]
        )
