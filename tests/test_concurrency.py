"""Concurrency: questions answered while articles are added and removed never cite a removed
article and never crash; a second process on the same embedded store is refused clearly."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import replace
from pathlib import Path

from test_crash_safety import town_articles

from retrieval.answer.extractive import ExtractiveAnswerer
from retrieval.build import build_service
from retrieval.config import Settings
from retrieval.index.embeddings import SentenceEmbeddings
from retrieval.types import Article, Draft, Passage

KB = "busy"


class RemovingWhileComposing:
    """The extractive answerer, but the first time it composes, the article behind its best
    passage is removed first: the window between retrieving passages and returning."""

    name = "extractive"

    def __init__(self, inner: ExtractiveAnswerer, remove: object) -> None:
        self.inner = inner
        self.remove = remove
        self.removed: list[str] = []

    def answer(self, question: str, passages: list[Passage], config: object = None) -> Draft:
        if not self.removed and passages:
            self.removed.append(passages[0].article_id)
            self.remove(passages[0].article_id, kb=KB)  # type: ignore[operator]
        return self.inner.answer(question, passages)


def test_an_article_removed_while_its_answer_is_composed_is_not_cited(
    embeddings: SentenceEmbeddings, tmp_path: Path
) -> None:
    service = build_service(Settings(data_dir=tmp_path), embeddings=embeddings)
    extractive = service.pipeline.answerer
    assert isinstance(extractive, ExtractiveAnswerer)
    answerer = RemovingWhileComposing(extractive, service.remove)
    service.pipeline.answerer = answerer  # where the real answerer plugs in
    try:
        service.add_many(town_articles(), kb=KB)
        answer = service.ask("How long was the Kelso crossing closed?", kb=KB)
        [removed] = answerer.removed
        assert not service.store.has_article(KB, removed)
        assert removed not in {c.article_id for c in answer.citations}
        assert removed not in {p.article_id for p in answer.passages}
    finally:
        service.close()


class UpdatingWhileComposing(RemovingWhileComposing):
    """The extractive answerer, but the first time it composes, the article behind its best
    passage is replaced by a corrected text first."""

    def __init__(self, inner: ExtractiveAnswerer, add: object, corrected: dict[str, Article]):
        super().__init__(inner, add)
        self.corrected = corrected

    def answer(self, question: str, passages: list[Passage], config: object = None) -> Draft:
        if not self.removed and passages:
            self.removed.append(passages[0].article_id)
            self.remove(self.corrected[passages[0].article_id], kb=KB)  # type: ignore[operator]
        return self.inner.answer(question, passages)


def test_an_article_updated_while_its_answer_is_composed_is_cited_as_it_is_now(
    embeddings: SentenceEmbeddings, tmp_path: Path
) -> None:
    service = build_service(Settings(data_dir=tmp_path), embeddings=embeddings)
    extractive = service.pipeline.answerer
    assert isinstance(extractive, ExtractiveAnswerer)
    articles = town_articles()
    corrected = {
        a.id: replace(a, text=a.text.replace("closed for 13 months", "closed for 14 months"))
        for a in articles
    }
    answerer = UpdatingWhileComposing(extractive, service.add, corrected)
    service.pipeline.answerer = answerer  # where the real answerer plugs in
    try:
        service.add_many(articles, kb=KB)
        answer = service.ask("How long was the Kelso crossing closed?", kb=KB)
        [updated] = answerer.removed
        now = service.get(updated, kb=KB)
        assert now is not None and now.text == corrected[updated].text
        assert "14 months" in answer.answer and "13 months" not in answer.answer
        assert all(p.text in service.get(p.article_id, kb=KB).text for p in answer.passages)  # type: ignore[union-attr]
    finally:
        service.close()


def test_questions_during_adds_and_removes_never_cite_a_removed_article(
    embeddings: SentenceEmbeddings, tmp_path: Path
) -> None:
    """Asyncio tasks, as the bot runs them (each blocking call in a worker thread)."""
    service = build_service(Settings(data_dir=tmp_path, top_k=6), embeddings=embeddings)
    articles = town_articles()
    first, later = articles[:10], articles[10:]
    service.add_many(first, kb=KB)
    removed_at: dict[str, float] = {}
    checked: list[int] = []

    async def remover() -> None:
        for article in first[:8]:
            await asyncio.to_thread(service.remove, article.id, kb=KB)
            removed_at[article.id] = time.monotonic()
            await asyncio.sleep(0.05)

    async def adder() -> None:
        for article in later:
            await asyncio.to_thread(service.add, article, kb=KB)

    async def asker(towns: list[Article]) -> None:
        for _ in range(2):
            for article in towns:
                town = article.title.split()[0]
                started = time.monotonic()
                answer = await asyncio.to_thread(
                    service.ask, f"How long was the {town} crossing closed?", kb=KB
                )
                for citation in answer.citations:
                    gone = removed_at.get(citation.article_id)
                    assert gone is None or gone > started, f"cited {town} after its removal"
                checked.append(len(answer.citations))

    async def main() -> None:
        await asyncio.gather(remover(), adder(), asker(first[:5]), asker(first[5:] + later[:2]))

    try:
        asyncio.run(main())
        assert len(checked) == 2 * 12
        assert sum(checked) > 0
        assert {a.id for a in service.list(kb=KB)} == {a.id for a in first[8:] + later}
        assert service.store.lexical.count(KB) == service.store.count_chunks(KB)
    finally:
        service.close()


def test_threads_racing_on_one_article_leave_it_whole_or_gone(
    embeddings: SentenceEmbeddings, tmp_path: Path
) -> None:
    service = build_service(Settings(data_dir=tmp_path), embeddings=embeddings)
    article = town_articles()[0]
    errors: list[BaseException] = []

    def churn() -> None:
        try:
            for _ in range(4):
                service.add(article, kb=KB)
                service.remove(article.id, kb=KB)
                service.ask("What did the Arden council vote on?", kb=KB)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=churn) for _ in range(3)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert errors == []
        expected = {c.id for c in service.ingester.chunk(article)}
        chunks = service.store._collection(KB, "chunks").get(
            where={"article_id": article.id}, include=[]
        )
        if service.store.has_article(KB, article.id):
            assert set(chunks["ids"]) == expected
        else:
            answer = service.ask("What did the Arden council vote on?", kb=KB)
            assert answer.citations == []
    finally:
        service.close()
