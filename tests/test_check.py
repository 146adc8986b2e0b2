"""`newsbot check`: each kind of damage to a knowledge base — passage vectors, BM25 rows and
sentence vectors that disagree with the article records — is found exactly, and `--repair`
leaves a store that answers as the undamaged one did. A writer killed half-way leaves the
write lock's file marked, and the next opener mends what needs no model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeEmbeddings
from test_chroma_server import chroma_url  # noqa: F401 (a fixture: a real `chroma run`)

from retrieval.index.sentence_vectors import sentence_key, to_blob
from retrieval.index.store import ArticleStore
from retrieval.ingest.articles import make_article
from retrieval.service import NewsService
from retrieval.types import Article, KnowledgeBaseCheck

ROOT = Path(__file__).resolve().parent.parent
KB = "default"
CHUNKING = {"chunk_size": 200, "chunk_overlap": 40}
TOWNS = ["Arden", "Bexley", "Corran", "Dunmore", "Elstow", "Fenwick"]
QUALIFIERS = ["upon", "Tyne", "parish", "district", "county"]
QUESTIONS = [
    "How long was the Bexley crossing closed?",
    "What will the Corran bridge cost?",
    "When did the Arden council vote on the bridge?",
    "By how much did traffic through Fenwick fall?",
    "What did the mayor of Dunmore promise?",
]


def town_articles() -> list[Article]:
    """Articles of about four passages each, each about its own town and numbers, and each
    town's sentences a word longer than the last town's: so no two passages are alike to a
    question (the fake embedder and BM25 would rank equals in the order they were written)."""
    articles = []
    for i, town in enumerate(TOWNS):
        place = " ".join([town, *QUALIFIERS[:i]])
        text = " ".join(
            [
                f"The {place} council voted on Monday to rebuild the old bridge over the river.",
                f"Work in {place} will start in spring and cost {i + 2} million pounds in all.",
                f"Residents of {place} said the crossing had been closed for {i + 3} months.",
                f"The mayor of {place} promised that the library would reopen by the summer.",
                f"Traffic through {place} fell by {10 + i} percent while the bridge was shut.",
                f"A second vote in {place} will decide the fate of the market hall next year.",
            ]
        )
        articles.append(make_article(text=text, title=f"{town} rebuilds its bridge", where=town))
    return articles


def ranked(hits: list[tuple[str, float]]) -> list[tuple[float, str]]:
    """A ranking as (score, id), best first, passages of equal score in the order of their
    ids: the fake embedder gives some passages the same score for a question, and which of
    equals an index lists first depends on the order they were written in (scores to four
    places: Chroma's float32 distances differ in the last places between its brute-force
    buffer of recent writes and its graph)."""
    return sorted((-round(score, 4), chunk) for chunk, score in hits)


def answers(service: NewsService) -> list[Any]:
    """What the store answers: for each question, the vector and the BM25 ranking of every
    stored passage, and its `ask --json` object without the timings."""
    store = service.store
    everything = store.count_chunks(KB) + 5
    result = []
    for question in QUESTIONS:
        vector = service.embeddings.embed_query(question)
        dense = store.get_passages(KB, [c for c, _ in store.dense_ranking(KB, vector, everything)])
        result.append(
            (
                ranked([h for h in store.dense_ranking(KB, vector, everything) if h[0] in dense]),
                ranked(store.lexical_search(KB, question, everything)),
                {k: v for k, v in service.ask(question).to_json().items() if k != "timings_ms"},
            )
        )
    return result


def contents(service: NewsService) -> tuple[Any, ...]:
    """Everything a knowledge base holds: its records, its passages (ids, texts, metadata and
    vectors), its BM25 rows and its sentence rows."""
    store = service.store
    records = store._collection(KB, "articles").get(include=["documents", "metadatas"])
    chunks = store._collection(KB, "chunks").get(include=["documents", "metadatas", "embeddings"])
    lexical = store.lexical
    sentences = store.sentences._db.execute(
        "SELECT key, chunk_id, article_id, vector FROM sentence_vectors WHERE kb = ?", (KB,)
    )
    return (
        sorted(
            (i, doc, json.dumps(meta, sort_keys=True))
            for i, doc, meta in zip(
                records["ids"], records["documents"], records["metadatas"], strict=True
            )
        ),
        sorted(
            (i, doc, json.dumps(meta, sort_keys=True), vector.tolist())
            for i, doc, meta, vector in zip(
                chunks["ids"],
                chunks["documents"],
                chunks["metadatas"],
                chunks["embeddings"],
                strict=True,
            )
        ),
        sorted(lexical._db.execute(f"SELECT chunk_id, article_id, body FROM {lexical._table(KB)}")),
        sorted(sentences),
    )


@pytest.fixture
def stocked(make_fake_service: Callable[..., NewsService]) -> tuple[NewsService, list[Any]]:
    """A store of six town articles, one of them updated (its passages versioned), and what
    it answers undamaged."""
    service = make_fake_service("store", **CHUNKING)
    articles = town_articles()
    service.add_many(articles)
    updated = replace(
        articles[0], text=articles[0].text.replace("on Monday", "on Tuesday") + " It rained."
    )
    assert service.add(updated).status == "updated"
    return service, answers(service)


def chunks_of(service: NewsService, article_id: str) -> list[str]:
    got = service.store._collection(KB, "chunks").get(where={"article_id": article_id})
    return sorted(got["ids"])


def only(kb_check: KnowledgeBaseCheck, **damage: Any) -> KnowledgeBaseCheck:
    """The check of a knowledge base with exactly this damage (and its undamaged counts)."""
    return replace(kb_check, **damage)


def test_an_undamaged_store_checks_clean(stocked: tuple[NewsService, list[Any]]) -> None:
    service, _ = stocked
    [outcome] = service.check()
    assert outcome.clean and outcome.after is None
    assert (outcome.found.articles, outcome.found.passages) == (
        6,
        service.store.count_chunks(KB),
    )
    assert outcome.found.damage() == {}


def inflict_orphan(service: NewsService) -> dict[str, Any]:
    """A passage vector with no record: an article whose write died before its record."""
    vector = FakeEmbeddings().encode(["Ghost town bridge"])[0]
    service.store._collection(KB, "chunks").add(
        ids=["ghost:0"],
        embeddings=[vector],
        documents=["The ghost town bridge closed."],
        metadatas=[{"article_id": "ghost", "title": "Ghost", "chunk_index": 0, "start": 0,
                    "end": 29}],
    )  # fmt: skip
    return {"orphan_chunks": ("ghost:0",)}


def inflict_old_version(service: NewsService) -> dict[str, Any]:
    """Passages of a version the record no longer names: an update killed before its sweep."""
    article = service.list(kb=KB)[0]
    vector = FakeEmbeddings().encode(["old text"])[0]
    stale = f"{article.id}~0123456789:0"
    service.store._collection(KB, "chunks").add(
        ids=[stale],
        embeddings=[vector],
        documents=["old text"],
        metadatas=[{"article_id": article.id, "version": "0123456789", "chunk_index": 0,
                    "start": 0, "end": 8}],
    )  # fmt: skip
    return {"orphan_chunks": (stale,)}


def inflict_gap(service: NewsService) -> dict[str, Any]:
    """Two of an article's passage vectors lost from Chroma."""
    article = town_articles()[3]
    lost = chunks_of(service, article.id)[1:3]
    service.store._collection(KB, "chunks").delete(ids=lost)
    return {"gaps": (article.id,), "missing_chunks": 2}


def inflict_gap_of_update(service: NewsService) -> dict[str, Any]:
    """Every passage vector of the updated article (versioned ids) lost."""
    article = town_articles()[0]
    lost = chunks_of(service, article.id)
    assert lost and all("~" in chunk for chunk in lost)
    service.store._collection(KB, "chunks").delete(ids=lost)
    return {"gaps": (article.id,), "missing_chunks": len(lost)}


def inflict_missing_lexical(service: NewsService) -> dict[str, Any]:
    lexical = service.store.lexical
    lost = chunks_of(service, town_articles()[2].id)[:2]
    for chunk in lost:  # (as a lost or older index file would be)
        lexical._db.execute(f"DELETE FROM {lexical._table(KB)} WHERE chunk_id = ?", (chunk,))
    lexical._db.execute(
        f"INSERT INTO {lexical._table(KB)}_fts ({lexical._table(KB)}_fts) VALUES ('rebuild')"
    )
    return {"missing_lexical": tuple(lost)}


def inflict_stale_lexical(service: NewsService) -> dict[str, Any]:
    """A BM25 row of no passage (its article removed while the row stayed), and a second row
    of a stored passage."""
    kept = chunks_of(service, town_articles()[4].id)[0]
    service.store.lexical.keep_rows(
        KB, "gone", keep=(), add=[("gone:0", "gone", "Elstow bridge closed for ever")]
    )
    lexical = service.store.lexical
    lexical._db.execute("BEGIN IMMEDIATE")
    lexical._insert(lexical._table(KB), [(kept, town_articles()[4].id, "Elstow bridge again")])
    lexical._db.execute("COMMIT")
    return {"stale_lexical": tuple(sorted(["gone:0", kept]))}


def inflict_stale_sentences(service: NewsService) -> dict[str, Any]:
    """Sentence vectors of passages that are gone."""
    space = FakeEmbeddings().vector_space
    blob = to_blob(FakeEmbeddings().encode(["A ghost sentence."])[0])
    service.store.sentences.add(
        KB,
        [
            (sentence_key(space, "A ghost sentence."), "ghost:0", "ghost", blob),
            (sentence_key(space, "Another."), "ghost:1", "ghost", blob),
        ],
    )
    return {"stale_sentences": 2}


def inflict_everything(service: NewsService) -> dict[str, Any]:
    damage: dict[str, Any] = {}
    for inflict in (inflict_orphan, inflict_gap, inflict_stale_lexical, inflict_stale_sentences):
        damage.update(inflict(service))
    return damage


DAMAGE = [
    inflict_orphan,
    inflict_old_version,
    inflict_gap,
    inflict_gap_of_update,
    inflict_missing_lexical,
    inflict_stale_lexical,
    inflict_stale_sentences,
    inflict_everything,
]


@pytest.mark.parametrize("inflict", DAMAGE, ids=lambda f: f.__name__.removeprefix("inflict_"))
def test_check_finds_exactly_the_damage_and_repair_restores_the_same_answers(
    stocked: tuple[NewsService, list[Any]], inflict: Callable[[NewsService], dict[str, Any]]
) -> None:
    service, undamaged = stocked
    [clean] = service.check()
    held = contents(service)
    damage = inflict(service)
    passages = clean.found.passages + (
        len(damage.get("orphan_chunks", ())) - damage.get("missing_chunks", 0)
    )

    [found] = service.check()
    assert found.found == only(clean.found, passages=passages, **damage)
    assert not found.clean and found.after is None
    [again] = service.check()  # a check alone changes nothing
    assert again.found == found.found

    [repaired] = service.check(repair=True)
    assert repaired.found == found.found
    assert repaired.after == clean.found
    assert repaired.restored == damage.get("gaps", ())
    assert service.check()[0].found == clean.found
    assert contents(service) == held
    assert answers(service) == undamaged
    store = service.store
    assert store.lexical.count(KB) == store.count_chunks(KB)


def test_repair_embeds_only_the_articles_whose_passages_were_lost(
    stocked: tuple[NewsService, list[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    service, _ = stocked
    inflict_gap(service)
    inflict_orphan(service)
    embedded: list[str] = []
    encode = service.embeddings.encode

    def counted(texts: list[str], *args: Any, **kwargs: Any) -> Any:
        embedded.extend(texts)
        return encode(texts, *args, **kwargs)

    monkeypatch.setattr(service.embeddings, "encode", counted)
    [outcome] = service.check(repair=True)
    assert outcome.after is not None and outcome.after.clean
    town = town_articles()[3].title.split()[0]
    assert embedded and all(town in text for text in embedded if "\n" in text)
    # the passages it kept needed no new sentence vectors: its own were still stored
    assert len(embedded) == len(chunks_of(service, town_articles()[3].id))


def test_a_record_that_lost_its_passage_count_keeps_its_passages(
    stocked: tuple[NewsService, list[Any]],
) -> None:
    service, undamaged = stocked
    [clean] = service.check()
    held = contents(service)
    article = town_articles()[0]  # the updated one: versioned passage ids
    records = service.store._collection(KB, "articles")
    records.update(ids=[article.id], metadatas=[{"chunks": None}])
    [outcome] = service.check(repair=True)
    assert outcome.found == clean.found and outcome.after is None
    assert contents(service)[1:] == held[1:]  # every passage and row still there
    assert answers(service) == undamaged


def test_check_of_one_knowledge_base_and_of_an_unknown_one(
    stocked: tuple[NewsService, list[Any]],
) -> None:
    service, _ = stocked
    service.add(make_article(text="The Garth ferry runs again.", title="Garth"), kb="other")
    inflict_orphan(service)
    assert [o.found.kb for o in service.check()] == ["default", "other"]
    [other] = service.check(kb="other")
    assert other.clean and other.found.articles == 1
    from retrieval.errors import StoreError

    with pytest.raises(StoreError, match="no knowledge base 'nope'"):
        service.check(kb="nope")


# -- the write lock's mark: an interrupted write is found and mended --------------------------


def lock_file(data_dir: Path) -> Path:
    return data_dir / ".newsbot-write.lock"


def test_a_clean_write_leaves_the_lock_unmarked(
    stocked: tuple[NewsService, list[Any]], tmp_path: Path
) -> None:
    service, _ = stocked
    service.add(make_article(text="The Holloway tram returns.", title="Holloway"))
    assert lock_file(tmp_path / "store").read_text() == ""


def test_a_process_finds_a_write_another_left_unfinished_at_its_next_write(
    stocked: tuple[NewsService, list[Any]], tmp_path: Path
) -> None:
    service, undamaged = stocked
    inflict_orphan(service)
    inflict_stale_sentences(service)
    # as a writer killed half-way leaves it (this process keeps the file open: the kernel
    # dropped the dead one's lock)
    lock_file(tmp_path / "store").write_text("writing: process 1\n")
    service.add(make_article(text="The Ilkley tram returns.", title="Ilkley"))
    assert lock_file(tmp_path / "store").read_text() == ""
    [outcome] = service.check()
    assert outcome.clean, outcome.found
    service.remove(make_article(text="The Ilkley tram returns.", title="Ilkley").id)
    assert answers(service) == undamaged


def test_a_write_that_raised_leaves_the_lock_marked_for_the_next(
    stocked: tuple[NewsService, list[Any]], tmp_path: Path
) -> None:
    service, _ = stocked
    store = service.store
    with pytest.raises(RuntimeError), store._writes.held():
        inflict_orphan(service)  # a write's first half ...
        raise RuntimeError("... and no second")
    assert lock_file(tmp_path / "store").read_text().startswith("writing: process")
    store.recover_if_interrupted()
    assert lock_file(tmp_path / "store").read_text() == ""
    assert service.check()[0].clean


@pytest.mark.server
def test_at_a_chroma_server_only_this_machines_rows_are_mended_unasked(
    make_fake_service: Callable[..., NewsService],
    chroma_url: str,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Other machines may write to a server of NEWSBOT_CHROMA_URL while this one holds its
    own write lock: what looks orphaned there may be their write under way."""
    service = make_fake_service("remote", chroma_url=chroma_url, **CHUNKING)
    service.add_many(town_articles())
    inflict_orphan(service)
    stale = inflict_stale_lexical(service)["stale_lexical"]
    lock_file(tmp_path / "remote").write_text("writing: process 1\n")
    with caplog.at_level("INFO", logger="newsbot.store"):
        service.add(make_article(text="The Jarrow ferry runs again.", title="Jarrow"))
    assert "while no other machine writes to it" in caplog.text
    [outcome] = service.check()
    assert outcome.found.orphan_chunks == ("ghost:0",)  # left for `check --repair`
    assert not outcome.found.stale_lexical and stale
    [repaired] = service.check(repair=True)
    assert repaired.after is not None and repaired.after.clean


WORKER = textwrap.dedent(
    """
    import json, os, signal, sys
    from retrieval.ingest.articles import article_from_dict
    from retrieval.config import Settings
    from retrieval.build import build_service
    from retrieval.index.store import ArticleStore
    from fakes import FakeEmbeddings

    data_dir, payload = sys.argv[1], json.loads(sys.argv[2])
    settings = Settings(_env_file=None, data_dir=data_dir, **payload["settings"])
    service = build_service(settings, embeddings=FakeEmbeddings())
    add = ArticleStore._add_articles
    calls = []

    def killed_before_the_records(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == payload["kill_at"]:
            # the passages, BM25 rows and sentence rows of the group are written ...
            records = self._collection(args[0], "articles")
            records.add = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
        return add(self, *args, **kwargs)

    ArticleStore._add_articles = killed_before_the_records
    articles = [article_from_dict(record) for record in payload["articles"]]
    service.add_many(articles)
    print("done", flush=True)
    """
)


def test_a_store_opened_after_a_writer_was_killed_mends_itself(
    make_fake_service: Callable[..., NewsService], tmp_path: Path
) -> None:
    settings = {**CHUNKING, "ingest_group_chunks": 1}  # each article its own write
    articles = town_articles()
    payload = {
        "settings": settings,
        "kill_at": 4,  # ... while the fourth article's record is written
        "articles": [{"id": a.id, "title": a.title, "text": a.text} for a in articles],
    }
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT)])}
    worker = subprocess.run(
        [sys.executable, "-c", WORKER, str(tmp_path / "store"), json.dumps(payload)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert worker.returncode == -signal.SIGKILL, worker.stderr
    assert lock_file(tmp_path / "store").read_text().startswith("writing: process")

    # what it left, seen without the mending (a store with a lock of its own)
    import chromadb

    from retrieval.index.lexical import LexicalIndex

    client = chromadb.PersistentClient(str(tmp_path / "store" / "chroma"))
    raw = ArticleStore(client, LexicalIndex(tmp_path / "store" / "lexical.sqlite3"))
    left = raw.check(KB)
    raw.close()
    assert left.articles == 3
    assert left.orphan_chunks and {c.split(":")[0] for c in left.orphan_chunks} == {articles[3].id}
    # ... with their BM25 and sentence rows, written before the record too
    assert left.damage().keys() == {"orphan_chunks", "stale_lexical", "stale_sentences"}

    service = make_fake_service("store", **settings)  # opening it mends it
    assert lock_file(tmp_path / "store").read_text() == ""
    [outcome] = service.check()  # (a check alone mends nothing)
    assert outcome.clean, outcome.found
    assert outcome.found.articles == 3
    store = service.store
    assert store.lexical.count(KB) == store.count_chunks(KB)
    assert store.sentences.count(KB) > 0
    assert all(row[1] != articles[3].id for row in store.sentences.chunk_rows(KB))
    assert not store.lexical_search(KB, articles[3].title.split()[0], 5)


# -- the command ------------------------------------------------------------------------------


def newsbot(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "NEWSBOT_DATA_DIR": str(data_dir),
        "PYTHONPATH": str(ROOT),
        "ANONYMIZED_TELEMETRY": "False",
    }
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=data_dir.parent,
        timeout=180,
    )


def test_the_check_command_exit_codes_and_lines(
    stocked: tuple[NewsService, list[Any]], tmp_path: Path
) -> None:
    service, _ = stocked
    inflict_orphan(service)
    inflict_stale_lexical(service)
    service.close()  # (the embedded store admits one process at a time)
    data_dir = tmp_path / "store"

    found = newsbot(data_dir, "check")
    assert found.returncode == 1, found.stderr
    assert found.stdout == (
        "default: 6 article(s), 22 passage(s): 1 orphan passage(s) (no article owns them), "
        "2 stale BM25 row(s)\n"
    )
    assert found.stderr == "damage found: run `newsbot check --repair` to mend it\n"

    repaired = newsbot(data_dir, "check", "--repair")
    assert repaired.returncode == 0, repaired.stderr
    assert repaired.stdout == (
        "default: 6 article(s), 22 passage(s): repaired 1 orphan passage(s) (no article owns "
        "them), 2 stale BM25 row(s)\n"
    )
    clean = newsbot(data_dir, "check")
    assert (clean.returncode, clean.stdout) == (0, "default: 6 article(s), 21 passage(s): ok\n")


def test_check_json_and_an_unknown_knowledge_base(stocked: tuple[NewsService, list[Any]]) -> None:
    from click.testing import CliRunner

    from bot.cli import Context, main

    service, _ = stocked
    inflict_gap(service)

    def newsbot_here(*args: str) -> Any:
        return CliRunner().invoke(main, list(args), obj=Context(_service=service))

    found = newsbot_here("check", "--json", "--kb", "default")
    assert found.exit_code == 1
    data = json.loads(found.stdout)
    assert data["clean"] is False and data["repaired"] is False
    [kb] = data["knowledge_bases"]
    assert kb["found"]["gaps"] == [town_articles()[3].id] and kb["after"] is None
    assert kb["found"]["missing_chunks"] == 2 and kb["clean"] is False

    repaired = newsbot_here("check", "--json", "--repair")
    assert repaired.exit_code == 0
    [kb] = json.loads(repaired.stdout)["knowledge_bases"]
    assert kb["clean"] and kb["after"]["clean"] and kb["restored"] == [town_articles()[3].id]

    unknown = newsbot_here("check", "--kb", "nope")
    assert unknown.exit_code == 1
    assert unknown.output == "error: no knowledge base 'nope' (there are: 'default')\n"


def test_a_command_opening_a_store_with_lost_passages_after_a_crash_says_what_to_run(
    stocked: tuple[NewsService, list[Any]], tmp_path: Path
) -> None:
    service, _ = stocked
    inflict_gap(service)
    inflict_orphan(service)
    service.close()
    lock_file(tmp_path / "store").write_text("writing: process 1\n")  # a writer died

    listed = newsbot(tmp_path / "store", "articles")
    assert listed.returncode == 0, listed.stderr
    assert listed.stderr == (
        "newsbot: 1 article(s) of knowledge base 'default' lost passages: run "
        "`newsbot check --repair`\n"
    )
    after = newsbot(tmp_path / "store", "check", "--json")
    [kb] = json.loads(after.stdout)["knowledge_bases"]
    assert kb["found"]["orphan_chunks"] == []  # mended on opening
    assert kb["found"]["gaps"] == [town_articles()[3].id]


@pytest.mark.model
def test_repair_with_the_real_model_answers_as_before(
    make_service: Callable[..., NewsService], seed_article: Article
) -> None:
    service = make_service("real")
    service.add_many([seed_article, *town_articles()[:3]])
    questions = ["Why did China refuse the meeting?", "Who is Li Shangfu?"]

    def asked() -> list[Any]:
        return [
            {k: v for k, v in service.ask(q).to_json().items() if k != "timings_ms"}
            for q in questions
        ]

    before = asked()
    lost = chunks_of(service, seed_article.id)
    chroma = service.store._collection(KB, "chunks")
    was = chroma.get(ids=lost, include=["embeddings", "documents", "metadatas"])
    service.store._collection(KB, "chunks").delete(ids=lost)
    [found] = service.check()
    assert found.found.gaps == (seed_article.id,) and found.found.missing_chunks == len(lost)
    [repaired] = service.check(repair=True)
    assert repaired.after is not None and repaired.after.clean
    assert chunks_of(service, seed_article.id) == lost
    now = chroma.get(ids=lost, include=["embeddings", "documents", "metadatas"])
    # the same vectors to the bit (embedded alone, where the ingest embedded them in a batch
    # with the other articles'), texts and metadata
    assert (now["embeddings"] == was["embeddings"]).all()
    assert (now["documents"], now["metadatas"]) == (was["documents"], was["metadatas"])
    assert asked() == before
