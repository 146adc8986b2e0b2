"""The service over a real embedded Chroma store: add, re-add, list, remove, knowledge bases.
What is pinned here is the service's and the store's, so the fake embedder does."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from retrieval.errors import QuestionError, StoreError
from retrieval.index.store import open_store
from retrieval.ingest.articles import make_article
from retrieval.service import NewsService
from retrieval.types import Article, Turn

STRIKE = make_article(
    title="Port strike ends",
    text="Dock workers at the port of Rotterdam voted on Saturday to end a nine-day strike. "
    "The operator agreed to a 6% pay rise over two years.",
    source="Harbour Times",
    published_at="2024-03-02",
)


def test_re_adding_an_article_changes_nothing(
    fake_seeded: NewsService, seed_article: Article
) -> None:
    before = fake_seeded.store.count_chunks("default")
    result = fake_seeded.add(seed_article)
    assert result.status == "unchanged"
    assert fake_seeded.store.count_chunks("default") == before
    assert [a.id for a in fake_seeded.list()] == [seed_article.id]


def test_listing_shows_what_was_stored(fake_seeded: NewsService, seed_article: Article) -> None:
    result = fake_seeded.add(STRIKE)
    assert result.status == "added" and result.chunks == 1
    listed = {a.id: a for a in fake_seeded.list()}
    assert listed[STRIKE.id].title == "Port strike ends"
    assert listed[STRIKE.id].published_at == "2024-03-02"
    assert listed[seed_article.id].chunks == 4
    assert fake_seeded.get(STRIKE.id) == STRIKE


def test_remove_takes_every_passage_away(seeded: NewsService, seed_article: Article) -> None:
    seeded.add(STRIKE)
    assert seeded.remove(seed_article.id)
    assert not seeded.remove(seed_article.id)
    assert [a.id for a in seeded.list()] == [STRIKE.id]
    answer = seeded.ask("Why did China refuse the meeting?")
    assert all(p.article_id == STRIKE.id for p in answer.passages)
    assert answer.abstained


def test_knowledge_bases_are_separate(fake_service: NewsService, seed_article: Article) -> None:
    fake_service.add(seed_article, kb="guild-1")
    fake_service.add(STRIKE, kb="guild-2")
    assert [p.article_id for p in fake_service.retrieve("strike", kb="guild-1")] == [
        seed_article.id
    ] * 4
    assert {p.article_id for p in fake_service.retrieve("China", kb="guild-2")} == {STRIKE.id}
    assert fake_service.store.knowledge_bases() == ["guild-1", "guild-2"]


def test_the_same_story_under_another_headline_is_not_stored_twice(
    fake_seeded: NewsService, seed_article: Article
) -> None:
    copy = replace(seed_article, id="copy", title="Another headline", text=seed_article.text + " ")
    result = fake_seeded.add(copy)
    assert (result.status, result.duplicate_of) == ("unchanged", seed_article.id)
    assert [a.id for a in fake_seeded.list()] == [seed_article.id]


def test_a_near_copy_does_not_fill_the_top_k(
    fake_seeded: NewsService, seed_article: Article
) -> None:
    # The same story with a correction line appended: a new article, but most of its
    # passages repeat the original word for word; they must not take two places in the top 4.
    near = replace(seed_article, id="near", text=seed_article.text + "\n\nCorrection: edited.")
    assert fake_seeded.add(near).status == "added"
    passages = fake_seeded.retrieve("Why did China refuse the meeting?", k=4)
    texts = [p.text for p in passages]
    assert len(set(texts)) == len(texts) == 4


def test_orphan_chunks_of_an_interrupted_write_are_never_returned(
    fake_seeded: NewsService, seed_article: Article
) -> None:
    # The article record is written last: without it, its chunks must stay invisible.
    fake_seeded.store._collection("default", "articles").delete(ids=[seed_article.id])
    assert fake_seeded.retrieve("Why did China refuse the meeting?") == []
    assert fake_seeded.add(seed_article).status == "added"  # and the next write sweeps them
    assert fake_seeded.store.count_chunks("default") == 4


@pytest.mark.parametrize(
    ("question", "message"),
    [("", "empty"), ("   ", "empty"), ("x" * 1001, "too long")],
)
def test_bad_questions_are_refused(fake_seeded: NewsService, question: str, message: str) -> None:
    with pytest.raises(QuestionError, match=message):
        fake_seeded.ask(question)


def test_a_follow_up_uses_the_previous_question(seeded: NewsService) -> None:
    first = seeded.ask("Why did China refuse the meeting?")
    follow = seeded.ask(
        "and what did the Pentagon say about it?", history=[Turn(first.question, first.answer)]
    )
    assert follow.standalone_question is not None
    assert follow.standalone_question.endswith("(China refuse meeting)")
    assert "Pentagon" in follow.answer


def test_a_store_held_embedded_is_waited_for_then_refused_clearly(tmp_path: Path) -> None:
    """(Several processes: tests/test_shared_store.py.)"""
    first = open_store(chroma_path=tmp_path / "chroma")
    try:
        with pytest.raises(StoreError, match=r"still in use by process .* NEWSBOT_STORE_WAIT_S"):
            open_store(chroma_path=tmp_path / "chroma", wait_s=0.3)
    finally:
        first.close()
    open_store(chroma_path=tmp_path / "chroma").close()  # free again once closed


def test_invalid_knowledge_base_names_are_refused(
    make_fake_service: Callable[..., NewsService],
) -> None:
    with pytest.raises(StoreError, match="invalid knowledge base"):
        make_fake_service().list(kb="../etc")
