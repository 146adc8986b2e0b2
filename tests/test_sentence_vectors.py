"""Sentence vectors stored at ingest: a question's candidate sentences are read from the store,
so the model embeds the question alone; the rows come and go with their article's chunks, a
missing row only means the sentence is embedded again, and each vector space has its own."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fakes import FakeEmbeddings
from test_answer_cost import HARBOUR, CountingEmbeddings

from retrieval.index.embeddings import SentenceEmbeddings
from retrieval.index.onnx_embeddings import OnnxEmbeddings
from retrieval.index.sentence_vectors import SentenceVectors, sentence_key, to_blob
from retrieval.index.vector_cache import VectorCache
from retrieval.ingest.articles import make_article
from retrieval.service import NewsService
from retrieval.text.sentences import split_sentences
from retrieval.types import Article

QUESTION = "Who leads the Port Ellery council?"


class Counting(CountingEmbeddings):
    """Counting the texts embedded, and saying the model's vector space."""

    @property
    def vector_space(self) -> str | None:
        return getattr(self.model, "vector_space", None)


SPACE = FakeEmbeddings().vector_space


def sentence_texts(service: NewsService, article: Article) -> set[str]:
    """The sentences the answerer weighs for this article: of each chunk, as it slices them."""
    return {
        chunk.text[start:end]
        for chunk in service.ingester.chunk(article)
        for start, end in split_sentences(chunk.text)
    }


def stored_keys(service: NewsService, article_id: str) -> set[bytes]:
    rows = service.store.sentences._db.execute(
        "SELECT key FROM sentence_vectors WHERE kb = 'default' AND article_id = ?", (article_id,)
    ).fetchall()
    return {bytes(key) for (key,) in rows}


def counted(service: NewsService) -> Counting:
    """The service's query-time model, counting; its memory of vectors emptied."""
    vectors = service.retriever.vectors
    counting = Counting(vectors.embeddings)  # type: ignore[arg-type]
    vectors.embeddings = counting  # type: ignore[assignment]
    vectors.clear()
    return counting


def test_every_sentence_is_stored_at_ingest_and_a_question_embeds_only_itself(
    make_fake_service: Callable[..., NewsService],
) -> None:
    service = make_fake_service()
    service.add(HARBOUR)
    texts = sentence_texts(service, HARBOUR)
    assert stored_keys(service, HARBOUR.id) == {sentence_key(SPACE, t) for t in texts}

    counting = counted(service)
    answer = service.ask(QUESTION)

    assert "Tomas Reyes" in answer.answer
    assert counting.calls == [[QUESTION]]  # one model call: the question


def test_stored_vectors_are_the_models_within_float16(
    make_fake_service: Callable[..., NewsService], fake_embeddings: FakeEmbeddings
) -> None:
    service = make_fake_service()
    service.add(HARBOUR)
    texts = sorted(sentence_texts(service, HARBOUR))
    read = service.store.sentences.vectors([sentence_key(SPACE, t) for t in texts])
    stored = np.stack([read[sentence_key(SPACE, t)] for t in texts])
    model = fake_embeddings.encode(texts)
    np.testing.assert_allclose(np.linalg.norm(stored, axis=1), 1.0, atol=1e-6)
    assert float(np.min(np.sum(stored * model, axis=1))) > 0.9999
    assert stored.dtype == np.float32


def test_answers_are_the_same_with_and_without_stored_vectors(
    make_fake_service: Callable[..., NewsService], fake_embeddings: FakeEmbeddings
) -> None:
    service = make_fake_service()
    service.add(HARBOUR)
    with_table = [service.ask(q).answer for q in QUESTIONS]
    vectors = service.retriever.vectors
    vectors.stored = None
    vectors.clear()
    without = [service.ask(q).answer for q in QUESTIONS]
    assert with_table == without


QUESTIONS = [
    QUESTION,
    "How many people voted in Port Ellery?",
    "How much will the sea wall repairs cost?",
    "Where were the fishing boats moved?",
]


def test_a_missing_row_is_embedded_at_query_time(
    make_fake_service: Callable[..., NewsService],
) -> None:
    service = make_fake_service()
    service.add(HARBOUR)
    expected = service.ask(QUESTION).answer
    service.store.sentences.remove_article("default", HARBOUR.id)  # e.g. a lost or old file

    counting = counted(service)
    answer = service.ask(QUESTION)

    assert answer.answer == expected
    assert counting.calls[0] == [QUESTION]
    assert len(counting.calls) == 2  # then the candidate sentences, in one call
    assert set(counting.calls[1]) <= sentence_texts(service, HARBOUR)


def test_rows_leave_with_their_article(make_fake_service: Callable[..., NewsService]) -> None:
    service = make_fake_service()
    other = make_article(
        title="Carrow Bay ferry timetable",
        text="The ferry to the islands will run a reduced timetable until the repairs end. "
        "Carrow Bay harbour reopens in June.",
        source="Harbour Gazette",
    )
    service.add_many([HARBOUR, other])
    shared = sentence_key(
        SPACE, "The ferry to the islands will run a reduced timetable until the repairs end."
    )
    assert shared in stored_keys(service, HARBOUR.id) & stored_keys(service, other.id)

    assert service.remove(HARBOUR.id)

    assert stored_keys(service, HARBOUR.id) == set()
    # the other article's row of the sentence they share stays
    assert shared in stored_keys(service, other.id)
    assert service.store.sentences.count("default") == len(sentence_texts(service, other))


def test_an_update_keeps_the_new_versions_rows_only(
    make_fake_service: Callable[..., NewsService],
) -> None:
    service = make_fake_service()
    url = "https://gazette.example/port-ellery"
    first = make_article(
        title="Port Ellery elects a council",
        text="Voters in Port Ellery elected a new council on Sunday. Turnout was 61 percent.",
        url=url,
    )
    second = make_article(
        title="Port Ellery elects a council",
        text="Voters in Port Ellery elected a new council on Sunday. Turnout was 58 percent.",
        url=url,
    )
    service.add(first)
    counting = Counting(service.ingester.embeddings)  # type: ignore[arg-type]
    service.ingester.embeddings = counting  # type: ignore[assignment]

    [result] = service.add_many([second])

    assert result.status == "updated"
    assert stored_keys(service, first.id) == {
        sentence_key(SPACE, t) for t in sentence_texts(service, second)
    }
    # the sentence both versions share was copied from its stored row, not embedded again
    embedded = [text for call in counting.calls for text in call]
    assert "Voters in Port Ellery elected a new council on Sunday." not in embedded
    assert "Turnout was 58 percent." in embedded


def test_a_removed_article_added_again_has_its_sentences_embedded_again(
    make_fake_service: Callable[..., NewsService],
) -> None:
    service = make_fake_service()
    service.add(HARBOUR)
    counting = Counting(service.ingester.embeddings)  # type: ignore[arg-type]
    service.ingester.embeddings = counting  # type: ignore[assignment]
    service.remove(HARBOUR.id)
    service.add(HARBOUR)
    # its rows went with it: every sentence is embedded again, with the chunks, in one call
    assert len(counting.calls) == 1
    assert len(counting.calls[0]) == len(service.ingester.chunk(HARBOUR)) + len(
        sentence_texts(service, HARBOUR)
    )


def test_a_vector_space_of_its_own_for_int8(tmp_path: Path) -> None:
    torch = SentenceEmbeddings()
    fp32 = OnnxEmbeddings(cache_dir=tmp_path, int8=False)
    int8 = OnnxEmbeddings(cache_dir=tmp_path, int8=True)
    # (no model is loaded to say so)
    assert torch.vector_space == fp32.vector_space  # the same vectors (cosine 1.0)
    assert int8.vector_space != fp32.vector_space  # ~0.99: other vectors
    text = "Turnout was 61 percent."
    assert sentence_key(int8.vector_space, text) != sentence_key(fp32.vector_space, text)
    assert SentenceEmbeddings("sentence-transformers/all-MiniLM-L6-v2").vector_space == (
        torch.vector_space
    )
    assert SentenceEmbeddings("some/other-model").vector_space != torch.vector_space


def test_a_row_of_another_space_is_never_read(tmp_path: Path) -> None:
    table = SentenceVectors(tmp_path / "lexical.sqlite3")
    text = "Turnout was 61 percent."
    vector = np.zeros(384, dtype=np.float32)
    vector[0] = 1.0
    table.add("default", [(sentence_key("other-model", text), "a:0", "a", to_blob(vector))])
    counting = Counting(FakeEmbeddings())
    cache = VectorCache(counting, stored=table)  # type: ignore[arg-type]

    got = cache.encode([text])

    assert counting.calls == [[text]]
    np.testing.assert_allclose(got[0], FakeEmbeddings().encode([text])[0], atol=1e-6)
    table.close()


def test_a_model_without_a_vector_space_reads_no_rows(tmp_path: Path) -> None:
    table = SentenceVectors(tmp_path / "lexical.sqlite3")
    counting = CountingEmbeddings(FakeEmbeddings())  # (the wrapper says no space)
    cache = VectorCache(counting, stored=table)  # type: ignore[arg-type]
    cache.encode(["Turnout was 61 percent."])
    assert cache.space is None and counting.calls == [["Turnout was 61 percent."]]
    table.close()


@pytest.mark.parametrize("kb", ["default", "other"])
def test_rows_are_read_across_knowledge_bases(tmp_path: Path, kb: str) -> None:
    table = SentenceVectors(tmp_path / "lexical.sqlite3")
    text = "Turnout was 61 percent."
    vector = FakeEmbeddings().encode([text])[0]
    table.add(kb, [(sentence_key(SPACE, text), "a:0", "a", to_blob(vector))])
    counting = Counting(FakeEmbeddings())
    cache = VectorCache(counting, stored=table)  # type: ignore[arg-type]

    got = cache.encode([text])

    assert counting.calls == []
    assert float(got[0] @ vector) > 0.9999
    table.close()


def test_rows_are_written_before_the_articles_record(
    make_fake_service: Callable[..., NewsService], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash between the two leaves rows without an article (harmless: never wrong, swept
    when the article is written again), never an article without its rows."""
    service = make_fake_service()
    store = service.store
    seen: list[tuple[bool, int]] = []
    add = store.sentences.add

    def watched(kb: str, rows: Any) -> None:
        rows = list(rows)
        seen.append((store.has_article(kb, HARBOUR.id), store.count_chunks(kb)))
        add(kb, rows)

    monkeypatch.setattr(store.sentences, "add", watched)
    service.add(HARBOUR)

    assert seen == [(False, len(service.ingester.chunk(HARBOUR)))]


def test_an_interrupted_writes_rows_are_swept_when_the_article_is_written_again(
    make_fake_service: Callable[..., NewsService],
) -> None:
    service = make_fake_service()
    stale = sentence_key(SPACE, "A sentence of a write that never finished.")
    chunk = service.ingester.chunk(HARBOUR)[0]
    service.store.sentences.add("default", [(stale, chunk.id, HARBOUR.id, b"\0" * 768)])
    service.store._collection("default", "chunks").add(  # its chunk 0, as a killed write left
        ids=[chunk.id],
        embeddings=[[1.0] + [0.0] * 383],
        documents=[chunk.text],
        metadatas=[{"article_id": HARBOUR.id, "start": chunk.start, "end": chunk.end}],
    )

    service.add(HARBOUR)

    assert stored_keys(service, HARBOUR.id) == {
        sentence_key(SPACE, t) for t in sentence_texts(service, HARBOUR)
    }


def test_the_setting_turns_it_off_and_sentences_are_embedded_when_asked(
    make_fake_service: Callable[..., NewsService],
) -> None:
    service = make_fake_service(store_sentence_vectors=False)  # NEWSBOT_STORE_SENTENCE_VECTORS
    service.add(HARBOUR)
    assert stored_keys(service, HARBOUR.id) == set()

    counting = counted(service)
    answer = service.ask(QUESTION)
    assert "Tomas Reyes" in answer.answer
    assert counting.calls[0] == [QUESTION] and len(counting.calls) == 2  # then the sentences
