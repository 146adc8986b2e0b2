"""Chunks are verbatim slices of their article, whatever the text."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval.ingest.chunking import embedding_text, split_article
from retrieval.text.sentences import split_sentences
from retrieval.types import Article


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("One. Two.", ["One.", "Two."]),
        ("Is it? Yes! Fine.", ["Is it?", "Yes!", "Fine."]),
        (
            "Brig. Gen. Patrick Ryder spoke. Then he left.",
            ["Brig. Gen. Patrick Ryder spoke.", "Then he left."],
        ),
        ("The U.S. said no. Mr. Li agreed.", ["The U.S. said no.", "Mr. Li agreed."]),
        ("He said “Go now.” They went.", ["He said “Go now.”", "They went."]),
        ("A heading\n\nBody text here.", ["A heading", "Body text here."]),
        ("Prices rose 2.5% in May. Rates held.", ["Prices rose 2.5% in May.", "Rates held."]),
        ("e.g. this works. Next one.", ["e.g. this works.", "Next one."]),
        (
            "He lives at No. 10 Downing Street. Fine.",
            ["He lives at No. 10 Downing Street.", "Fine."],
        ),
    ],
)
def test_split_sentences(text: str, sentences: list[str]) -> None:
    assert [text[s:e] for s, e in split_sentences(text)] == sentences


def article(text: str) -> Article:
    return Article(id="a", title="T", text=text)


@settings(max_examples=300, deadline=None)
@given(
    text=st.lists(
        st.sampled_from([*"abcXYZ .!?\n“”'\"-0123é中", "Mr. ", "U.S. ", "No. 5", "word "]),
        min_size=1,
        max_size=1500,
    )
    .map("".join)
    .filter(str.strip),
    size=st.integers(min_value=100, max_value=900),
    overlap=st.integers(min_value=0, max_value=300),
)
def test_every_chunk_is_the_article_slice_at_its_offsets(
    text: str, size: int, overlap: int
) -> None:
    chunks = split_article(article(text), size, overlap)
    assert chunks
    for index, chunk in enumerate(chunks):
        assert chunk.text == text[chunk.start : chunk.end]
        assert chunk.text.strip() == chunk.text and chunk.text
        assert chunk.index == index and chunk.id == f"a:{index}"
        assert len(chunk.text) <= size
    # nothing but white space is left out, and chunks move forward
    covered = set()
    for chunk in chunks:
        covered.update(range(chunk.start, chunk.end))
    assert all(text[i].isspace() for i in range(len(text)) if i not in covered)
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)


def test_chunks_keep_whole_sentences_and_overlap_by_a_sentence() -> None:
    sentences = [f"Sentence number {i} says something short." for i in range(40)]
    text = " ".join(sentences)
    chunks = split_article(article(text), size=300, overlap=100)
    assert len(chunks) > 3
    for chunk in chunks:
        assert chunk.text.startswith("Sentence number") and chunk.text.endswith(".")
    for before, after in itertools.pairwise(chunks):
        assert after.start < before.end  # the last sentence is repeated as context


def test_embedding_text_carries_headline_and_date() -> None:
    a = Article(id="a", title="Port strike ends", text="Workers voted.", published_at="2024-03-02")
    [chunk] = split_article(a)
    assert embedding_text(a, chunk) == "Port strike ends (2024-03-02)\nWorkers voted."


def _split_by_regex(text: str) -> list[tuple[int, int]]:
    """The splitter as it was before it scanned instead of matching a regular expression
    anchored at the end of the text before each period (quadratic on a long page)."""
    import re

    from retrieval.text import sentences as module

    def ends_with_abbreviation(dot: int) -> bool:
        word = re.search(r"([A-Za-z][A-Za-z.]*)$", text[:dot])
        if not word:
            return False
        token = word.group(1).lower().rstrip(".")
        return token in module._ABBREVIATIONS or len(token) == 1

    spans: list[tuple[int, int]] = []
    cursor = 0
    for match in module._BOUNDARY.finditer(text):
        stop = match.end()
        if not match.group().startswith("\n"):
            following = text[stop:].lstrip()
            if following and following[0].islower():
                continue
            if match.group().startswith(".") and ends_with_abbreviation(match.start()):
                continue
            if following[:1].isdigit() and text[: match.start()].lower().endswith("no"):
                continue
        module._add_trimmed(text, cursor, stop, spans)
        cursor = stop
    module._add_trimmed(text, cursor, len(text), spans)
    return spans


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "Mr",
                "No",
                "U.S",
                "e.g",
                "a",
                "The",
                "said",
                "10",
                "é",
                ".",
                ". ",
                "!",
                "? ",
                "\n",
                " ",
                "  ",
                "”",
                "x.",
                "NO",
                "Dr",
                "...",
            ]
        ),
        max_size=40,
    ).map("".join)
)
def test_split_sentences_finds_the_spans_the_regular_expression_found(text: str) -> None:
    assert split_sentences(text) == _split_by_regex(text)
