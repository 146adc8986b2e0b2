"""One story, many outlets: the same fact reported by several articles (wires, and the
outlets that carry them) is cited once, naming the others beside its citation.

Retrieval folds a passage that tells nothing new into the one that tells it (its `echoes`),
and the extractive answerer keeps one sentence of a fact (`text/same_fact.py`); here each
citation of any answerer is given the other articles among the passages that carry its quote's
fact, each with its own sentence.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace

from retrieval.text.same_fact import fact_of, same_fact
from retrieval.text.sentences import split_sentences
from retrieval.types import AlsoReported, Citation, Passage

__all__ = ["also_reported", "with_other_outlets"]


def _read(passages: Sequence[Passage]) -> Iterator[Passage]:
    """The passages, each followed by its echoes."""
    for passage in passages:
        yield passage
        yield from passage.echoes


def also_reported(citation: Citation, passages: Sequence[Passage]) -> list[AlsoReported]:
    """The other articles among `passages` (and their echoes) with a sentence telling the
    citation's fact: one each, in the order they were retrieved."""
    cited = fact_of(citation.quote)
    found: dict[str, AlsoReported] = {}
    for passage in _read(passages):
        if passage.article_id == citation.article_id or passage.article_id in found:
            continue
        for start, end in split_sentences(passage.text):
            sentence = passage.text[start:end]
            if same_fact(cited, fact_of(sentence)):
                found[passage.article_id] = AlsoReported.of(passage, sentence)
                break
    return list(found.values())


def with_other_outlets(
    citations: Sequence[Citation], passages: Sequence[Passage]
) -> list[Citation]:
    """Each citation with the other articles that carry its fact (`also_in`)."""
    return [replace(c, also_in=also_reported(c, passages)) for c in citations]
