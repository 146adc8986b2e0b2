"""A knowledge base to one portable file and back (`newsbot export`, `newsbot import`): its
articles as stored (records, chunks, vectors, sentence vectors), the feeds followed into it,
the settings of the Discord servers it belongs to, and the votes on its answers.

Import reads the whole file first (`format.read_export` checks every line), so a file that is
not an export, of another version, damaged or cut short is refused before anything is written.
Articles are then written through the store's one write path (chunks, lexical and sentence
rows, then the record), a group at a time: killed at any point, each article is whole or
absent, and importing again finishes the job. What the store has already is left as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from retrieval.errors import ExportFileError
from retrieval.index.store import StoredRecord
from retrieval.ingest.chunking import split_article
from retrieval.portable.format import ExportItem, ExportWriter, Header, read_export
from retrieval.types import Article

if TYPE_CHECKING:
    from retrieval.feeds.records import FeedRecords
    from retrieval.index.server_records import ServerRecords
    from retrieval.index.store import ArticleStore, SentenceRow
    from retrieval.ingest.ingester import Ingester

__all__ = ["ExportReport", "ImportReport", "export_kb", "import_kb", "kb_guilds"]

GROUP_ARTICLES = 200  # articles written (and, re-embedding, embedded) together


@dataclass
class ExportReport:
    kb: str
    path: Path
    counts: dict[str, int]
    model: str | None = None

    def summary(self) -> str:
        c = self.counts
        vectors = f", vectors of {self.model}" if self.model else ", no vectors"
        return (
            f"exported {self.kb!r} to {self.path}: {c['article']} articles ({c['chunk']} chunks"
            f"{vectors}), {c['feed']} feeds, {c['server']} server settings, "
            f"{c['feedback']} votes"
        )


@dataclass
class ImportReport:
    kb: str
    re_embedded: bool = False
    added: dict[str, int] = field(default_factory=lambda: _zero())
    unchanged: dict[str, int] = field(default_factory=lambda: _zero())

    def count(self, kind: str, added: bool) -> None:
        (self.added if added else self.unchanged)[kind] += 1

    def summary(self) -> str:
        parts = [
            f"{name}: added {self.added[kind]}, unchanged {self.unchanged[kind]}"
            for kind, name in (
                ("article", "articles"),
                ("feed", "feeds"),
                ("server", "server settings"),
                ("feedback", "votes"),
            )
        ]
        how = " (embedded again)" if self.re_embedded else ""
        return f"imported into {self.kb!r}{how}: " + "; ".join(parts)


def _zero() -> dict[str, int]:
    return {"article": 0, "feed": 0, "server": 0, "feedback": 0}


def kb_guilds(kb: str, guilds: list[int]) -> list[int]:
    """The Discord servers whose knowledge base `kb` is: `guild-ID` or `guild-ID-NAME`."""
    return [g for g in guilds if kb == f"guild-{g}" or kb.startswith(f"guild-{g}-")]


def export_kb(
    *,
    store: ArticleStore,
    feeds: FeedRecords | None,
    servers: ServerRecords | None,
    kb: str,
    path: Path,
    vectors: bool,
    model: str | None,
    space: str | None,
    newsbot: str,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ExportReport:
    """Write `kb` to `path` (replaced whole once complete). `model`/`space`: the embedding
    model the store's vectors come from (as the settings name it), written in the header."""
    if kb not in store.knowledge_bases():
        known = ", ".join(store.knowledge_bases()) or "none"
        raise ExportFileError(f"no knowledge base {kb!r} to export (there are: {known})")
    header = Header(
        kb=kb,
        vectors=vectors,
        model=model if vectors else None,
        space=space if vectors else None,
        newsbot=newsbot,
        created=now().isoformat(timespec="seconds"),
    )
    writer = ExportWriter(path, header)
    # closed at once on an error, not when collected: it holds the store's write lock
    with closing(store.stored_records(kb, vectors=vectors)) as stored:
        try:
            for records in _groups(stored):
                sentences = (
                    store.sentences.article_rows(kb, [r.id for r in records]) if vectors else []
                )
                by_article: dict[str, list[SentenceRow]] = {}
                for row in sentences:
                    by_article.setdefault(row[2], []).append(row)
                for record in records:
                    chunks = set(record.chunk_ids)
                    writer.article(
                        record, [row for row in by_article.get(record.id, []) if row[1] in chunks]
                    )
        except BaseException:
            writer.abandon()
            raise
    try:
        for feed in feeds.exported(kb) if feeds is not None else []:
            writer.feed(feed)
        if servers is not None:
            for guild in kb_guilds(kb, servers.guilds()):
                writer.server(guild, servers.settings(guild))
            for vote in servers.feedback_of(kb):
                writer.feedback(vote)
        writer.commit()
    except BaseException:
        writer.abandon()
        raise
    return ExportReport(kb, path, writer.counts, header.model)


def _groups(records: Iterator[StoredRecord]) -> Iterator[list[StoredRecord]]:
    group: list[StoredRecord] = []
    for record in records:
        group.append(record)
        if len(group) >= GROUP_ARTICLES:
            yield group
            group = []
    if group:
        yield group


def import_kb(
    *,
    store: ArticleStore,
    ingester: Ingester,
    feeds: FeedRecords | None,
    servers: ServerRecords | None,
    path: Path,
    kb: str | None = None,
    re_embed: bool = False,
    space: str | None,
) -> ImportReport:
    """Add what the file at `path` holds to `kb` (default: the knowledge base it was exported
    from). The file's vectors are used when they are of this deployment's embedding model
    (`space`); of another model, the import is refused unless `re_embed`, which chunks and
    embeds the articles again with this one (as a file without vectors always is)."""
    header = _check(path)
    target = kb or header.kb
    store.present(target, ["-"])  # an invalid knowledge base name fails here, before writing
    if header.vectors and not re_embed and header.space != space:
        raise ExportFileError(
            f"{path} holds vectors of the embedding model {header.model!r}, and this newsbot "
            "embeds with another: import with --re-embed to embed the articles again with "
            "this one, or set NEWSBOT_EMBEDDING_MODEL to the file's"
        )
    embed_again = re_embed or not header.vectors
    report = ImportReport(target, re_embedded=embed_again)
    group: list[ExportItem] = []

    def flush() -> None:
        if group:
            _write_articles(store, ingester, target, group, embed_again, report)
            group.clear()

    for item in read_export(path):
        if isinstance(item, Header):
            continue
        if item.kind == "article":
            group.append(item)
            if len(group) >= GROUP_ARTICLES:
                flush()
            continue
        flush()
        if item.kind == "feed" and item.feed is not None and feeds is not None:
            report.count("feed", feeds.restore(target, item.feed))
        elif item.kind == "server" and item.settings is not None and servers is not None:
            report.count("server", servers.restore_settings(item.guild_id, item.settings))
        elif item.kind == "feedback" and item.feedback is not None and servers is not None:
            added = servers.restore_feedback(replace(item.feedback, kb=target))
            report.count("feedback", added)
    flush()
    return report


def _check(path: Path) -> Header:
    """The file's header, once every line of it is read and found good."""
    header: Header | None = None
    for item in read_export(path):
        if isinstance(item, Header):
            header = item
    assert header is not None
    return header


def _write_articles(
    store: ArticleStore,
    ingester: Ingester,
    kb: str,
    items: list[ExportItem],
    embed_again: bool,
    report: ImportReport,
) -> None:
    records = [item.record for item in items if item.record is not None]
    present = store.present(kb, [r.id for r in records])
    new = [r for r in records if r.id not in present]
    sentences = [row for item in items for row in item.sentences]
    if embed_again and new:
        new, sentences = _embedded(ingester, new)
    written = set(store.restore_records(kb, new, sentences)) if new else set()
    for record in records:
        report.count("article", record.id in written)


def _embedded(
    ingester: Ingester, records: list[StoredRecord]
) -> tuple[list[StoredRecord], list[SentenceRow]]:
    """The records with their chunks made and embedded here, as an ingest would."""
    prepared = []
    for record in records:
        meta = record.metadata
        article = Article(
            id=record.id,
            title=str(meta.get("title", "")),
            text=record.document,
            url=_text(meta.get("url")),
            source=_text(meta.get("source")),
            published_at=_text(meta.get("published_at")),
        )
        # (split as an ingest here would, without its length limit: the article was stored)
        chunks = split_article(
            article, ingester.chunk_size, ingester.chunk_overlap, version=_text(meta.get("version"))
        )
        prepared.append((record, article, chunks))
    vectors, sentences = ingester.embed([(article, chunks) for _, article, chunks in prepared])
    embedded = []
    for (record, _, chunks), rows in zip(prepared, vectors, strict=True):
        meta = {**record.metadata, "chunks": len(chunks)}
        embedded.append(StoredRecord.of(record.id, record.document, meta, chunks, rows))
    return embedded, sentences


def _text(value: object) -> str | None:
    return str(value) if value not in (None, "") else None
