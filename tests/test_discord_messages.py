"""Rendering answers and lists for Discord: pure functions, always within Discord's limits."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.discord_bot.messages import (
    EMBED_DESCRIPTION_LIMIT,
    EMBED_TOTAL_LIMIT,
    EMBEDS_PER_MESSAGE,
    MESSAGE_LIMIT,
    added_message,
    answer_messages,
    articles_page,
    shorten_quote,
    source_entry,
    split_text,
)
from retrieval.types import ABSTAIN_TEXT, AddResult, Answer, Citation, StoredArticle


def citation(n: int, **fields: object) -> Citation:
    values: dict[str, object] = {
        "n": n,
        "article_id": f"article-{n}",
        "title": f"Headline {n}",
        "source": "Reuters",
        "url": f"https://example.com/story-{n}",
        "published_at": "2023-05-29",
        "quote": f"The quoted sentence number {n}.",
        "chunk_id": f"article-{n}:0",
    }
    return Citation(**{**values, **fields})  # type: ignore[arg-type]


def answer(text: str, citations: list[Citation], **fields: object) -> Answer:
    return Answer("q", text, False, citations, [], "extractive", **fields)  # type: ignore[arg-type]


def assert_within_limits(messages: list) -> None:
    for message in messages:
        assert message.content or message.embeds
        assert len(message.content) <= MESSAGE_LIMIT
        assert len(message.embeds) <= EMBEDS_PER_MESSAGE
        assert all(len(e.description or "") <= EMBED_DESCRIPTION_LIMIT for e in message.embeds)
        assert sum(len(e) for e in message.embeds) <= EMBED_TOTAL_LIMIT


# -- split_text --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "limit", "pieces"),
    [
        ("Short answer. [1]", 2000, ["Short answer. [1]"]),
        ("One two. [1] Three four. [2]", 20, ["One two. [1]", "Three four. [2]"]),
        # a marker stays with the sentence it cites, unless the two cannot fit together
        ("Alpha beta gamma. [12] Delta.", 22, ["Alpha beta gamma. [12]", "Delta."]),
        ("Alpha beta gamma. [12] Delta.", 21, ["Alpha beta gamma.", "[12] Delta."]),
        ("First? Second! Third.", 15, ["First? Second!", "Third."]),
        ("“Quoted.” Next one.", 10, ["“Quoted.”", "Next one."]),
        ("no sentence ends here at all", 12, ["no sentence", "ends here at", "all"]),
        ("x" * 25, 10, ["x" * 10, "x" * 10, "x" * 5]),
        ("> header line\nBody text.", 15, ["> header line", "Body text."]),
        ("   ", 10, []),
    ],
)
def test_split_text_cuts_at_sentence_ends(text: str, limit: int, pieces: list[str]) -> None:
    assert split_text(text, limit) == pieces


sentences = st.lists(
    st.builds(
        lambda words, end, marker: " ".join(words) + end + (f" [{marker}]" if marker else ""),
        st.lists(st.text("abcdefghij", min_size=1, max_size=30), min_size=1, max_size=40),
        st.sampled_from([".", "?", "!", "…", ".”", ""]),
        st.one_of(st.none(), st.integers(1, 20)),
    ),
    max_size=30,
)


@given(sentences, st.integers(5, 400))
@settings(max_examples=200, deadline=None)
def test_split_text_loses_nothing_and_respects_the_limit(parts: list[str], limit: int) -> None:
    text = " ".join(parts)
    pieces = split_text(text, limit)
    assert all(0 < len(p) <= limit for p in pieces)
    assert "".join(pieces).replace(" ", "") == text.replace(" ", "")


# -- answers -----------------------------------------------------------------------------------


def test_a_short_answer_is_one_message_with_its_sources_last() -> None:
    messages = answer_messages(
        answer("China declined. [1] Relations are strained. [2]", [citation(1), citation(2)])
    )
    assert len(messages) == 1
    assert messages[0].content == "China declined. [1] Relations are strained. [2]"
    [sources] = messages[0].embeds
    assert sources.title == "Sources"
    assert sources.description is not None
    assert sources.description.index("[1]") < sources.description.index("[2]")
    assert "**[Headline 1](https://example.com/story-1)**" in sources.description  # linked
    assert "> **[2]** “The quoted sentence number 2.”" in sources.description


def test_a_slash_answer_quotes_the_question_first() -> None:
    [message] = answer_messages(answer("Yes. [1]", [citation(1)]), question="Is it\nso?")
    assert message.content == "> Is it so?\nYes. [1]"


def test_date_notes_and_how_current_the_answer_is_are_shown() -> None:
    from retrieval.types import DateNote

    note = DateNote("August of last year", "August 2022", "2022-08")
    cited = citation(1, quote="It began in August of last year.", date_notes=[note])
    [message] = answer_messages(
        answer(
            "It began in August of last year. [1]", [cited], time_note="Newest source: 29 May 2023."
        )
    )
    assert message.content.endswith("*(Newest source: 29 May 2023.)*")
    description = message.embeds[0].description or ""
    assert "2023-05-29" in description
    assert "*(“August of last year” = August 2022)*" in description


def test_a_timeline_keeps_one_line_per_entry() -> None:
    lines = ["3 March 2024: The bridge collapsed. [1]", "5 March 2024: The toll was revised. [2]"]
    [message] = answer_messages(answer("\n".join(lines), [citation(1), citation(2)]))
    assert message.content.splitlines() == lines


def test_an_abstention_has_no_sources() -> None:
    [message] = answer_messages(
        Answer("q", ABSTAIN_TEXT, True, [], [], "extractive"), question="Who?"
    )
    assert message.content == f"> Who?\n{ABSTAIN_TEXT}" and message.embeds == []


def test_a_notice_is_shown_before_the_answer() -> None:
    [message] = answer_messages(answer("Yes. [1]", [citation(1)], notice="model offline"))
    assert message.content == "*(model offline)*\nYes. [1]"


def test_a_very_long_answer_is_split_into_messages_within_limits() -> None:
    text = " ".join(f"Sentence {i} says rather a lot about it {'indeed ' * 30}. [{i % 9 + 1}]"
                    for i in range(60))  # fmt: skip
    long_citations = [
        citation(n, title="T" * 500, source="S" * 300, quote="word " * 400, url="https://e.com/" + "p" * 400)
        for n in range(1, 10)
    ]  # fmt: skip
    messages = answer_messages(answer(text, long_citations), question="?" * 3000)
    assert_within_limits(messages)
    texts = [m.content for m in messages if m.content]
    assert len(texts) >= 8
    assert all(re.search(r"\[\d\]$", t) for t in texts[1:])
    last_text = max(i for i, m in enumerate(messages) if m.content)
    assert all(not m.embeds for m in messages[:last_text])  # sources come last
    shown = "\n".join(e.description or "" for m in messages for e in m.embeds)
    assert all(f"**[{n}]**" in shown for n in range(1, 10))


@given(
    text=st.text(min_size=0, max_size=12_000),
    question=st.one_of(st.none(), st.text(max_size=5000)),
    titles=st.lists(st.text(min_size=1, max_size=600), max_size=40),
    quote=st.text(min_size=1, max_size=3000),
    url=st.one_of(st.none(), st.text(max_size=2000).map(lambda s: "https://x.io/" + s)),
)
@settings(max_examples=150, deadline=None)
def test_any_answer_fits_discord(
    text: str, question: str | None, titles: list[str], quote: str, url: str | None
) -> None:
    citations = [citation(n, title=t, quote=quote, url=url) for n, t in enumerate(titles, 1)]
    messages = answer_messages(answer(text, citations), question=question)
    assert messages
    assert_within_limits(messages)
    assert sum(len(m.embeds) for m in messages) >= (1 if citations else 0)


@pytest.mark.parametrize(
    ("quote", "shown"),
    [
        ("Short and sweet.", "Short and sweet."),
        ("word " * 100, ("word " * 40).rstrip() + "…"),
        ("x" * 300, "x" * 199 + "…"),
    ],
)
def test_long_quotes_are_shortened_to_a_verbatim_prefix(quote: str, shown: str) -> None:
    assert shorten_quote(quote) == shown
    assert shown.removesuffix("…") in quote


def test_source_entries_escape_markdown_but_not_links() -> None:
    entry = source_entry(
        [citation(3, title="*Breaking* [news]", quote="a_b and **c**", url="https://e.com/a_(b)")]
    )
    assert entry.splitlines() == [
        r"**[\*Breaking\* \[news\]](https://e.com/a_%28b%29)**",
        "Reuters · 2023-05-29",
        r"> **[3]** “a\_b and \*\*c\*\*”",
    ]


def test_sources_are_grouped_per_article_with_dates_kept() -> None:
    same = {"article_id": "a", "title": "Bridge collapses", "url": None}
    cited = [
        citation(1, quote="First.", **same),
        citation(2, quote="Other."),
        citation(3, quote="Second.", published_at="2024-03-04", **same),
    ]
    [message] = answer_messages(answer("One. [1] Two. [2] Three. [3]", cited))
    description = message.embeds[0].description or ""
    assert description.count("Bridge collapses") == 1  # one entry for the article [1] and [3]
    assert description.split("\n\n")[0].splitlines() == [
        "**Bridge collapses**",  # no URL: the title, unlinked
        "Reuters · 2023-05-29",
        "> **[1]** “First.”",
        "> **[3]** “Second.”",
    ]
    assert "**[Headline 2](https://example.com/story-2)**" in description


def test_a_follow_up_says_how_it_was_read() -> None:
    read = answer("Patrick Ryder spoke. [1]", [citation(1)], standalone_question="who is he? (Patrick Ryder)")  # fmt: skip
    [message] = answer_messages(read, asked="who is he?")
    assert message.embeds[-1].footer.text == "Read as: who is he? (Patrick Ryder)"
    [plain] = answer_messages(answer("Yes. [1]", [citation(1)], standalone_question="q"))
    assert plain.embeds[-1].footer.text is None


def test_mentions_are_left_as_written() -> None:
    """Allowed mentions, not mangled text, are what stop the ping."""
    [message] = answer_messages(answer("Told @everyone and <@123>. [1]", [citation(1)]))
    assert "@everyone" in message.content and "<@123>" in message.content


# -- articles ----------------------------------------------------------------------------------


def stored(n: int) -> StoredArticle:
    return StoredArticle(f"id{n}", f"Story {n}", "AP", None, f"2024-01-{n % 28 + 1:02d}", 3, 900)


@pytest.mark.parametrize(
    ("count", "page", "shown", "footer"),
    [
        (0, 1, 0, None),
        (3, 1, 3, None),
        (25, 1, 10, "Page 1 of 3 · /articles page:2 for more"),
        (25, 3, 5, "Page 3 of 3"),
        (25, 99, 5, "Page 3 of 3"),  # past the end: the last page, and a note saying so
        (1, 2, 1, None),
    ],
)
def test_articles_are_listed_a_page_at_a_time(
    count: int, page: int, shown: int, footer: str | None
) -> None:
    embed = articles_page([stored(n) for n in range(count)], page)
    assert embed.title == f"Articles ({count})"
    assert (embed.description or "").count("3 passages") == shown
    assert embed.footer.text == footer
    if count == 0:
        assert "/add_article" in (embed.description or "")
    pages = max(1, -(-count // 10))
    beyond = f"There is no page {page}: the list has {pages} page{'s' * (pages > 1)}."
    assert (beyond in (embed.description or "")) is (page > pages and count > 0)


def test_added_message_names_each_article_and_stays_short() -> None:
    results = [
        AddResult("abc", "A *title*", 4, "added"),
        AddResult("def", "Old", 0, "unchanged"),
        AddResult("ghi", "Same story", 0, "unchanged", duplicate_of="def"),
    ]
    assert added_message([AddResult("one", "Short", 1, "added")]) == (
        "Added **Short** — 1 passage · id `one`"
    )
    assert added_message(results).splitlines() == [
        "Added **A \\*title\\*** — 4 passages · id `abc`",
        "Already known: **Old** · id `def`",
        "Already known: **Same story** has the same text as id `def`",
    ]
    many = [AddResult(f"id{n}", "T" * 140, 2, "added") for n in range(100)]
    text = added_message(many)
    assert len(text) <= MESSAGE_LIMIT and text.endswith("more")
