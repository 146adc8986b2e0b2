"""What a member's message asks: markup removed, chat that is not a question told apart."""

from __future__ import annotations

import pytest

from bot.discord_bot.questions import clean_question, is_question, thread_name


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("<@123> who is Li Shangfu?", "who is Li Shangfu?"),
        ("Who is <@!123>?", "Who is ?"),
        ("@everyone what did <@&456> say in <#789>?", "what did say in ?"),
        ("@here   why   </ask:42> ?", "why ?"),
        ("<@123>", ""),
    ],
)
def test_every_mention_role_channel_and_everyone_is_stripped(text: str, question: str) -> None:
    assert clean_question(text) == question


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("thanks!", False),
        ("lol that's wrong", False),
        ("ok", False),
        ("great, thank you <@1>", False),
        ("who is he", True),
        ("why?", True),
        ("and the embassy?", True),
        ("Tell me more about the sanctions", True),
        ("the sanctions? <@1>", True),
    ],
)
def test_chat_that_is_not_a_question_is_told_apart(text: str, asks: bool) -> None:
    assert is_question(text) is asks


def test_a_thread_is_named_after_its_question_within_discords_limit() -> None:
    assert thread_name("<@1> Why did China decline?") == "Why did China decline?"
    assert len(thread_name("why " * 60)) == 100 and thread_name("why " * 60).endswith("…")
    assert thread_name("<@1>") == "Question"
