"""Hybrid retrieval: dense (embeddings) and lexical (BM25) rankings fused by reciprocal rank.

Each list votes 1 / (RRF_K + rank) for its passages; the sum orders the fused list, so a
passage both retrievers like rises, and one found by only one of them still gets in.
Passages with the same text (the same story stored twice) count once, and so does a passage
of another article that tells nothing the ones kept do not (another outlet's copy of one
story, `text/same_fact.py`): it rides along as an echo of the one that tells it, and its place
goes to the next passage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, replace

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, SkipValidation

from retrieval.index.store import ArticleStore
from retrieval.index.vector_cache import VectorCache
from retrieval.text.same_fact import Fact, adds_nothing, facts_of
from retrieval.text.terms import same_text_key
from retrieval.types import Passage, Reorder

__all__ = ["HybridRetriever", "as_document", "reciprocal_rank_fusion"]

# Chosen on three sets (hit@4; RealTime QA / our seed+BBC questions / RGB): dense alone
# 0.762 / 0.783 / 0.990, BM25 alone 0.672 / 0.870 / 0.980; RRF with the usual K=60
# 0.743 / 0.957 / 1.0; K=10, equal weights 0.762 / 1.0 / 1.0 — best overall: names and
# numbers found by BM25 rise without costing the questions dense retrieval gets right.
RRF_K = 10
LEXICAL_WEIGHT = 1.0


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[str]], weights: Sequence[float] | None = None, k: int = RRF_K
) -> list[tuple[str, float]]:
    """Ids with their fused score, best first; ties keep the order of first appearance."""
    weights = weights or [1.0] * len(rankings)
    scores: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda pair: pair[1], reverse=True)


class HybridRetriever(BaseRetriever):
    """The k best passages of one knowledge base for a question: dense and BM25 rankings
    fused by RRF; `score` is the fused score.

    A LangChain `BaseRetriever`, so it drops into any LangChain app:
    `HybridRetriever(store=..., vectors=VectorCache(embeddings), kb="default", k=4)
    .invoke("why did China refuse the meeting?")` gives `Document`s whose metadata holds the
    passage's article, offsets and score; newsbot's own pipeline calls `search`, which
    returns `Passage`s for any knowledge base.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: SkipValidation[ArticleStore]
    vectors: SkipValidation[VectorCache]  # shared with the extractive answerer
    kb: str = "default"
    k: int = 4
    candidates: int = 30

    def search(
        self, question: str, kb: str, k: int, reorder: Reorder | None = None
    ) -> list[Passage]:
        """The k best passages; `reorder` (news/step.py's recency prior) may change the
        fused ranking first, reading the dates of the passages it weighs (the scores it gives
        are the passages' `score`)."""
        depth = max(self.candidates, 3 * k)
        vector = self.vectors.encode([question])[0].tolist()
        dense = self.store.dense_ranking(kb, vector, depth)
        lexical = self.store.lexical_search(kb, question, depth)
        fused = reciprocal_rank_fusion(
            [[c for c, _ in dense], [c for c, _ in lexical]], [1.0, LEXICAL_WEIGHT]
        )
        read: dict[str, Passage] = {}

        def passages(chunk_ids: list[str]) -> dict[str, Passage]:
            """The passages of `chunk_ids` that exist, each read from the store once."""
            unread = [chunk_id for chunk_id in chunk_ids if chunk_id not in read]
            if unread:
                read.update(self.store.get_passages(kb, unread))
            return {chunk_id: read[chunk_id] for chunk_id in chunk_ids if chunk_id in read}

        if reorder is not None:  # (its dates come from the passages read next anyway)
            fused = reorder(
                fused,
                lambda chunk_ids: {c: p.published_at for c, p in passages(list(chunk_ids)).items()},
                dict(dense),
            )
        # Passages are read only for the fused ranking's head, 3k at a time (repeats of one
        # story count once, so k passages may take more than k ids).
        story = _Stories()
        for offset in range(0, len(fused), 3 * k):
            batch = fused[offset : offset + 3 * k]
            known = passages([chunk_id for chunk_id, _ in batch])
            for chunk_id, score in batch:
                passage = known.get(chunk_id)
                if passage is None:
                    continue  # an article being removed, or a vector whose record is gone
                story.add(replace(passage, score=score))
                if len(story.kept) == k:
                    return story.kept
        return story.kept

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        kb: str | None = None,
    ) -> list[Document]:
        return [as_document(p) for p in self.search(query, kb or self.kb, k or self.k)]


class _Stories:
    """The passages kept for a question, best first, one per story: a passage with the text of
    one kept is dropped (an echo if of another article), one of another article that tells
    nothing the kept ones do not becomes an echo of the one that tells it, and one that tells
    all a kept one of another article tells (a more complete copy) takes that one's place and
    score, the kept one becoming its echo."""

    def __init__(self) -> None:
        self.kept: list[Passage] = []
        self._facts: list[list[Fact]] = []

    def add(self, passage: Passage) -> None:
        key = same_text_key(passage.text)
        same = [n for n, kept in enumerate(self.kept) if same_text_key(kept.text) == key]
        if same:
            self._echo(same[0], passage)
            return
        facts = facts_of(passage.text)
        others = [n for n, kept in enumerate(self.kept) if kept.article_id != passage.article_id]
        teller = adds_nothing(facts, [self._facts[n] for n in others])
        if teller is not None:
            self._echo(others[teller], passage)
            return
        told = [n for n in others if adds_nothing(self._facts[n], [facts]) is not None]
        if not told:
            self.kept.append(passage)
            self._facts.append(facts)
            return
        place, echoes = told[0], [*passage.echoes]
        for n in told:
            echoes += [replace(self.kept[n], echoes=()), *self.kept[n].echoes]
        self.kept[place] = replace(passage, score=self.kept[place].score, echoes=tuple(echoes))
        self._facts[place] = facts
        for n in reversed(told[1:]):
            del self.kept[n], self._facts[n]

    def _echo(self, n: int, passage: Passage) -> None:
        kept = self.kept[n]
        if kept.article_id != passage.article_id:  # (another chunk of one article: dropped)
            self.kept[n] = replace(kept, echoes=(*kept.echoes, passage))


def as_document(passage: Passage) -> Document:
    """A passage as LangChain sees text: the passage's words, the rest as metadata (the
    chunk ids of its echoes as `also_in`)."""
    metadata = {
        key: value for key, value in asdict(passage).items() if key not in ("text", "echoes")
    }
    metadata["also_in"] = [echo.chunk_id for echo in passage.echoes]
    return Document(page_content=passage.text, metadata=metadata, id=passage.chunk_id)
