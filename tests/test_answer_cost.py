"""What keeps an extractive answer cheap: only the sentences worth it are embedded, and a
vector once computed is reused. None of this may change which sentences answer."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from fakes import FakeEmbeddings

from retrieval.answer.extractive import ExtractiveAnswerer
from retrieval.index.embeddings import SentenceEmbeddings
from retrieval.index.vector_cache import VectorCache
from retrieval.ingest.articles import make_article
from retrieval.service import NewsService
from retrieval.types import Passage

# A long story: far more sentences than the answerer embeds, the answer to each question
# below in one of them and distractors sharing its words around it.
HARBOUR = make_article(
    title="Port Ellery council votes on sea wall",
    text=(
        "Voters in Port Ellery elected a new council on Sunday. "
        "Turnout was 61 percent, the highest since 1998. "
        "The new council leader is Tomas Reyes, a former teacher. "
        "He said his first priority would be repairing the sea wall. "
        "The sea wall was damaged in a storm in January. "
        "Repairs are expected to cost 4.2 million pounds. "
        "The council will meet every Thursday in the old town hall. "
        "Residents have complained about flooding on the harbour road. "
        "The harbour master said fishing boats had been moved to Carrow Bay. "
        "A public meeting about the wall is planned for 3 May. "
        "The previous council leader, Anna Brodie, did not stand again. "
        "She had led the council for twelve years. "
        "Local businesses welcomed the result. "
        "The ferry to the islands will run a reduced timetable until the repairs end. "
        "Tourism officials expect fewer visitors this summer because of the works."
    ),
    source="Harbour Gazette",
    published_at="2024-05-01",
)


class CountingEmbeddings:
    """A model (the real one or the fake), counting the texts it is asked to embed."""

    def __init__(self, model: SentenceEmbeddings | FakeEmbeddings) -> None:
        self.model = model
        self.calls: list[list[str]] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return self.model.encode(texts)

    @property
    def embedded(self) -> int:
        return sum(len(call) for call in self.calls)


def _passages(size: int = 300) -> list[Passage]:
    """The story cut into passages, as retrieval returns them (best first)."""
    text = HARBOUR.text
    passages, start = [], 0
    while start < len(text):
        end = min(len(text), start + size)
        end = text.rfind(". ", start, end) + 1 if end < len(text) else end
        passages.append(
            Passage(
                chunk_id=f"{HARBOUR.id}:{len(passages)}",
                article_id=HARBOUR.id,
                text=text[start:end].strip(),
                score=1.0,
                start=start + (len(text[start:end]) - len(text[start:end].lstrip())),
                end=end,
                title=HARBOUR.title,
                source=HARBOUR.source,
                published_at=HARBOUR.published_at,
            )
        )
        start = end
    return passages


QUESTIONS = [
    ("How many people voted in Port Ellery?", "Turnout was 61 percent"),
    ("Who leads the Port Ellery council?", "Tomas Reyes"),
    ("How much will the sea wall repairs cost?", "4.2 million pounds"),
    ("When is the public meeting about the wall?", "3 May"),
    ("Where were the fishing boats moved?", "Carrow Bay"),
    ("Why do tourism officials expect fewer visitors?", "because of the works"),
]


@pytest.mark.parametrize(("question", "answer"), QUESTIONS)
def test_only_a_few_sentences_are_embedded_and_the_answer_is_the_same(
    embeddings: SentenceEmbeddings, question: str, answer: str
) -> None:
    passages = _passages()
    counting = CountingEmbeddings(embeddings)
    every = ExtractiveAnswerer(embeddings, max_embedded=None)  # type: ignore[arg-type]
    few = ExtractiveAnswerer(counting, max_embedded=6)  # type: ignore[arg-type]

    full = every.answer(question, passages)
    cheap = few.answer(question, passages)

    assert len(full.evidence) > 12
    assert counting.embedded <= 6 + 1  # the question and the six most promising sentences
    assert answer in cheap.text
    assert cheap.text == full.text
    # the sentences that were embedded are scored exactly as when every one is
    scores = {e.text: e.score for e in full.evidence}
    for item in cheap.evidence:
        assert item.score == pytest.approx(scores[item.text], abs=1e-5)


def test_a_short_passage_list_is_embedded_whole(fake_embeddings: FakeEmbeddings) -> None:
    passages = _passages(size=120)[:2]
    counting = CountingEmbeddings(fake_embeddings)
    answerer = ExtractiveAnswerer(counting, max_embedded=8)  # type: ignore[arg-type]
    draft = answerer.answer("Who leads the council?", passages)
    sentences = sum(p.text.count(". ") + 1 for p in passages)
    assert len(draft.evidence) == sentences
    assert counting.embedded == sentences + 1


def test_the_cache_returns_the_models_own_vectors(fake_embeddings: FakeEmbeddings) -> None:
    texts = ["Turnout was 61 percent.", "The new council leader is Tomas Reyes.", "Why?"]
    counting = CountingEmbeddings(fake_embeddings)
    cache = VectorCache(counting)  # type: ignore[arg-type]

    first = cache.encode(texts)
    again = cache.encode(list(reversed(texts)))

    np.testing.assert_allclose(first, fake_embeddings.encode(texts), atol=1e-6)
    np.testing.assert_array_equal(again, first[::-1])
    assert counting.calls == [texts]  # the second call never reached the model


def test_the_cache_embeds_only_what_it_has_not_seen_and_forgets_the_oldest(
    fake_embeddings: FakeEmbeddings,
) -> None:
    counting = CountingEmbeddings(fake_embeddings)
    cache = VectorCache(counting, size=2)  # type: ignore[arg-type]

    cache.encode(["one", "two"])
    cache.encode(["two", "three", "three"])  # "one" is now the oldest, and goes
    cache.encode(["two"])
    cache.encode(["one"])

    assert counting.calls == [["one", "two"], ["three"], ["one"]]
    assert len(cache) == 2


def test_a_caller_changing_its_vectors_does_not_change_the_cache(
    fake_embeddings: FakeEmbeddings,
) -> None:
    cache = VectorCache(fake_embeddings)
    vectors = cache.encode(["Turnout was 61 percent."])
    vectors[:] = 0
    assert np.linalg.norm(cache.encode(["Turnout was 61 percent."])) == pytest.approx(1.0)


def test_the_question_is_embedded_once_per_ask(
    embeddings: SentenceEmbeddings, make_service: Callable[..., NewsService]
) -> None:
    service = make_service()
    service.add(HARBOUR)
    counting = CountingEmbeddings(embeddings)
    service.retriever.vectors.embeddings = counting  # type: ignore[assignment]

    answer = service.ask("Who leads the Port Ellery council?")

    assert "Tomas Reyes" in answer.answer
    asked = [text for call in counting.calls for text in call]
    assert asked.count("Who leads the Port Ellery council?") == 1


def test_a_small_batch_runs_on_one_thread_and_gives_the_thread_back(
    embeddings: SentenceEmbeddings,
) -> None:
    import threading

    import torch

    before = torch.get_num_threads()
    seen: list[int] = []

    class Watching:
        def encode(self, texts: list[str], **options: object) -> np.ndarray:
            seen.append(torch.get_num_threads())
            return np.asarray(embeddings.model.encode(texts, **options))

    watched = SentenceEmbeddings()
    watched._model = Watching()
    small = [f"sentence {i}" for i in range(3)]
    threads = [threading.Thread(target=watched.encode, args=(small,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    watched.encode([f"sentence {i}" for i in range(40)])  # an ingest-sized batch

    assert seen[:4] == [1, 1, 1, 1]
    assert seen[4] == before
    assert torch.get_num_threads() == before
