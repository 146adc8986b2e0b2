"""Declining what no news article answers, before the passages are weighed: the question gate
(a question not about the news at all), and a year the passages cannot know of."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from fakes import FakeEmbeddings

from retrieval.answer.extractive import YEARS_PAST_SOURCES, ExtractiveAnswerer, after_every_source
from retrieval.answer.sentence_model import SentenceModel, packaged_model
from retrieval.types import ABSTAIN_TEXT, Passage

STORY = (
    "The club won the cup final on Saturday. Its captain scored twice in the second half, "
    "and the manager said the win was the best of his career."
)


PASSAGE = Passage(
    chunk_id="a1:0",
    article_id="a1",
    text=STORY,
    score=1.0,
    start=0,
    end=len(STORY),
    title="Club wins the cup",
    published_at="2005-03-01",
)


def _gated(embeddings: FakeEmbeddings, news: str, off_topic: str) -> SentenceModel:
    """The packaged sentence model for the fake embeddings, its decline model told never to
    decline, with a gate whose weights point from the off-topic question's vector to the news
    question's (a cut at one half)."""
    vectors = embeddings.encode([news, off_topic])
    direction = vectors[0] - vectors[1]
    middle = float((vectors[0] + vectors[1]) @ direction) / 2
    model = packaged_model()
    return replace(
        model,
        about={**model.about, "embedding_model": embeddings.model_name},
        decline={**model.decline, "min_probability": 0.0},
        question_gate={
            "weights": (8 * direction).tolist(),
            "bias": -8 * middle,
            "min_probability": 0.5,
        },
    )


def test_the_gate_declines_a_question_that_is_not_about_the_news() -> None:
    embeddings = FakeEmbeddings()
    news, off_topic = "Who scored twice in the cup final?", "What is 17 times 23 in maths?"
    answerer = ExtractiveAnswerer(embeddings, model=_gated(embeddings, news, off_topic))
    declined = answerer.answer(off_topic, [PASSAGE])
    assert declined.abstained and declined.text == ABSTAIN_TEXT
    answered = answerer.answer(news, [PASSAGE])
    assert not answered.abstained and "cup final" in answered.text
    # without the gate, the same model answers the off-topic question from the passage
    ungated = ExtractiveAnswerer(
        embeddings, model=replace(answerer.model, question_gate={})
    ).answer(off_topic, [PASSAGE])
    assert not ungated.abstained


def test_the_gate_round_trips_and_is_absent_by_default() -> None:
    model = packaged_model()
    gate = {"weights": [0.5] * 384, "bias": -1.0, "min_probability": 0.2}
    kept = SentenceModel.from_json(replace(model, question_gate=gate).to_json())
    assert kept.question_gate == gate
    vector = np.full(384, 1 / np.sqrt(384))
    assert kept.news_question(vector.tolist()) == pytest.approx(
        1 / (1 + np.exp(-(-1.0 + 0.5 * vector.sum())))
    )
    bare = replace(model, question_gate={})
    assert bare.news_question(vector.tolist()) == 1.0 and bare.min_news_question == 0.0


def _never_declines_otherwise() -> SentenceModel:
    model = packaged_model()
    return replace(model, decline={**model.decline, "min_probability": 0.0}, question_gate={})


@pytest.mark.parametrize(
    ("question", "unknowable"),
    [
        ("Who won the 2018 cup final?", True),  # 13 years after the 2005 report
        (f"Who won the {2005 + YEARS_PAST_SOURCES} cup final?", False),  # may be announced
        ("Who won the cup final in 2005 and 2018?", False),  # a year it knows: in part
        ("Who won the cup final?", False),  # no year
    ],
)
def test_a_year_far_after_every_source_is_declined(question: str, unknowable: bool) -> None:
    answerer = ExtractiveAnswerer(FakeEmbeddings(), model=_never_declines_otherwise())
    assert after_every_source(question, [PASSAGE]) is unknowable
    draft = answerer.answer(question, [PASSAGE])
    assert draft.abstained is unknowable
    if unknowable:  # told never to decline, the answerer answers from the passage
        bold = ExtractiveAnswerer(FakeEmbeddings(), min_score=float("-inf"))
        assert not bold.answer(question, [PASSAGE]).abstained


def test_an_undated_passage_is_known_by_the_years_it_mentions() -> None:
    undated = replace(PASSAGE, published_at=None)
    assert not after_every_source("Who won the 2018 cup final?", [undated])  # knows no year
    text = f"{STORY} The 2012 Olympics will be held in London, the 2004 report said."
    mentions = replace(undated, text=text, end=len(text))
    assert after_every_source("Who won the 2020 cup final?", [mentions])  # 2020 > 2012 + 5
    assert not after_every_source("Where are the 2012 Olympics?", [mentions])  # mentioned
    assert not after_every_source("Who won the 2016 cup final?", [mentions])  # within 5
