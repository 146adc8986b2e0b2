"""The portable file of a knowledge base (`newsbot export` writes it, `newsbot import` reads
it): gzip'd JSON lines, one object a line, UTF-8, keys sorted. docs/export-format.md
describes it for people; this module is its definition.

    {"format": "newsbot-kb", "version": 1, "newsbot": ..., "kb": ..., "created": ...,
     "vectors": true, "embedding": {"model": ..., "space": ...}}            the header
    {"kind": "article", "id", "document", "metadata"}                      each article, as stored
    {"kind": "chunk", "id", "document", "metadata", "vector"}              its chunks (vectors)
    {"kind": "sentence", "key", "chunk_id", "vector"}                      its sentences' vectors
    {"kind": "feed", "feed": {...}}                                        the feeds, by URL
    {"kind": "server", "guild_id", "settings"}                             Discord servers' settings
    {"kind": "feedback", "feedback": {...}}                                votes on answers
    {"kind": "end", "counts": {"article": N, "chunk": N, ...}}             the last line

A chunk's vector is base64 of little-endian float32, a sentence's of little-endian float16 (as
the store keeps them), a sentence key hex. Without vectors (`export --no-vectors`) there are
no chunk and sentence lines: import chunks and embeds the articles again.

Reading checks every line (`read_export`), so an import first reads the whole file and writes
nothing when any of it is wrong.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import math
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from retrieval.errors import ExportFileError
from retrieval.index.identity import chunk_id
from retrieval.index.store import SentenceRow, StoredRecord
from retrieval.types import Feedback, ServerSettings

__all__ = [
    "FORMAT",
    "VERSION",
    "ExportItem",
    "ExportWriter",
    "Header",
    "read_export",
]

FORMAT = "newsbot-kb"
VERSION = 1
KINDS = ("article", "chunk", "sentence", "feed", "server", "feedback")
_GZIP_MAGIC = b"\x1f\x8b"
_SCALARS = (str, int, float, bool)


@dataclass(frozen=True)
class Header:
    kb: str
    vectors: bool
    model: str | None
    space: str | None
    newsbot: str
    created: str
    version: int = VERSION

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": self.version,
            "newsbot": self.newsbot,
            "kb": self.kb,
            "created": self.created,
            "vectors": self.vectors,
            "embedding": {"model": self.model, "space": self.space},
        }


@dataclass(frozen=True)
class ExportItem:
    """One thing of the file: an article (its record, chunks, and sentences' rows), a feed, a
    server's settings or a vote."""

    kind: str
    record: StoredRecord | None = None
    sentences: list[SentenceRow] = field(default_factory=list)
    feed: dict[str, Any] | None = None
    guild_id: int = 0
    settings: ServerSettings | None = None
    feedback: Feedback | None = None


def _line(data: dict[str, Any]) -> bytes:
    return (
        json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"
    ).encode("utf-8")


def settings_json(settings: ServerSettings) -> dict[str, Any]:
    return {
        "ask_channel_id": settings.ask_channel_id,
        "threads": settings.threads,
        "channel_kbs": {str(k): v for k, v in sorted(settings.channel_kbs.items())},
        "announce_channel_id": settings.announce_channel_id,
    }


class ExportWriter:
    """Writes the file to a temporary file beside `path`, renamed over it by `commit` once
    complete and on disk: `path` is the old file or the new one, never half of one."""

    def __init__(self, path: Path, header: Header) -> None:
        self.path = path
        self.vectors = header.vectors
        self.counts = dict.fromkeys(KINDS, 0)
        if path.is_dir():
            raise ExportFileError(f"{path} is a folder; name a file to export to")
        if not path.parent.is_dir():
            raise ExportFileError(f"{path.parent} does not exist")
        self._temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            self._raw: IO[bytes] = open(self._temp, "wb")  # noqa: SIM115
        except OSError as exc:
            raise ExportFileError(f"cannot write {path} ({exc.strerror})") from None
        # no name and no time in the gzip header: the same store gives the same bytes
        self._file = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0)
        self._file.write(_line(header.to_json()))

    def _write(self, kind: str, data: dict[str, Any]) -> None:
        self.counts[kind] += 1
        self._file.write(_line({"kind": kind, **data}))

    def article(self, record: StoredRecord, sentences: list[SentenceRow]) -> None:
        self._write(
            "article", {"id": record.id, "document": record.document, "metadata": record.metadata}
        )
        if not self.vectors:
            return
        import numpy as np

        vectors = np.asarray(record.vectors, dtype="<f4").reshape(len(record.chunk_ids), -1)
        for n, chunk in enumerate(record.chunk_ids):
            self._write(
                "chunk",
                {
                    "id": chunk,
                    "document": record.chunk_documents[n],
                    "metadata": record.chunk_metadatas[n],
                    "vector": base64.b64encode(vectors[n].tobytes()).decode("ascii"),
                },
            )
        for key, chunk, _, blob in sentences:
            self._write(
                "sentence",
                {
                    "key": key.hex(),
                    "chunk_id": chunk,
                    "vector": base64.b64encode(blob).decode("ascii"),
                },
            )

    def feed(self, feed: dict[str, Any]) -> None:
        self._write("feed", {"feed": {k: v for k, v in feed.items() if k != "kb"}})

    def server(self, guild_id: int, settings: ServerSettings) -> None:
        self._write("server", {"guild_id": guild_id, "settings": settings_json(settings)})

    def feedback(self, vote: Feedback) -> None:
        self._write(
            "feedback",
            {
                "feedback": {
                    "guild_id": vote.guild_id,
                    "question": vote.question,
                    "answer": vote.answer,
                    "vote": vote.vote,
                    "created_at": vote.created_at,
                }
            },
        )

    def commit(self) -> None:
        self._file.write(_line({"kind": "end", "counts": self.counts}))
        self._file.close()
        self._raw.flush()
        os.fsync(self._raw.fileno())
        self._raw.close()
        os.replace(self._temp, self.path)

    def abandon(self) -> None:
        self._file.close()
        self._raw.close()
        self._temp.unlink(missing_ok=True)


# -- reading ---------------------------------------------------------------------------------


class _Bad(Exception):
    """A line that is not as the format says (the message says how)."""


def _get(data: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _Bad(f"{data.get('kind', 'header')} line without a valid {key!r}")
    return value


def _metadata(data: dict[str, Any]) -> dict[str, Any]:
    meta = _get(data, "metadata", dict)
    for key, value in meta.items():
        if not isinstance(value, _SCALARS) or (
            isinstance(value, float) and not math.isfinite(value)
        ):
            raise _Bad(f"metadata {key!r} is not a string, number or true/false")
    return dict(meta)


def _decode(text: Any, dtype: str) -> Any:
    import numpy as np

    if not isinstance(text, str):
        raise _Bad("a vector is not base64 text")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _Bad("a vector is not valid base64") from None
    size = np.dtype(dtype).itemsize
    if not raw or len(raw) % size:
        raise _Bad("a vector has a wrong length")
    vector = np.frombuffer(raw, dtype=dtype)
    if not np.isfinite(vector).all():
        raise _Bad("a vector holds a value that is not a number")
    return vector if dtype == "<f4" else raw


def _header(data: Any, path: Path) -> Header:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ExportFileError(f"{path} is not a newsbot export (no {FORMAT} header)")
    version = data.get("version")
    if version != VERSION:
        raise ExportFileError(
            f"{path} is a newsbot export of format version {version!r}; this newsbot reads "
            f"version {VERSION} (upgrade newsbot to import it)"
        )
    try:
        embedding = _get(data, "embedding", dict)
        return Header(
            kb=_get(data, "kb", str),
            vectors=_get(data, "vectors", bool),
            model=embedding.get("model"),
            space=embedding.get("space"),
            newsbot=str(data.get("newsbot", "")),
            created=str(data.get("created", "")),
        )
    except _Bad as exc:
        raise ExportFileError(f"{path}: a damaged header ({exc})") from None


def _lines(path: Path) -> Iterator[tuple[int, Any]]:
    """(number, parsed JSON) of each line; ExportFileError for what is not gzip'd JSON lines."""
    try:
        with path.open("rb") as raw:
            if raw.read(2) != _GZIP_MAGIC:
                raise ExportFileError(f"{path} is not a newsbot export (not a gzip file)")
            raw.seek(0)
            with gzip.GzipFile(fileobj=raw, mode="rb") as lines:
                for number, line in enumerate(lines, start=1):
                    try:
                        yield number, json.loads(line)
                    except (ValueError, UnicodeDecodeError):
                        raise ExportFileError(
                            f"{path} is damaged: line {number} is not JSON"
                        ) from None
    except FileNotFoundError:
        raise ExportFileError(f"{path} does not exist") from None
    except IsADirectoryError:
        raise ExportFileError(f"{path} is a folder, not an export file") from None
    except EOFError:
        raise ExportFileError(f"{path} is cut short (an interrupted copy?)") from None
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise ExportFileError(f"{path} is damaged ({exc})") from None
    except PermissionError as exc:
        raise ExportFileError(f"cannot read {path} ({exc.strerror})") from None


def read_export(path: Path) -> Iterator[Header | ExportItem]:
    """The header, then each item of the file in order, every line checked: ExportFileError
    (one line) at the first thing wrong. Only when the iterator is spent is the whole file
    known to be good (its last line counts the rest)."""
    lines = _lines(path)
    first = next(lines, None)
    if first is None:
        raise ExportFileError(f"{path} is empty")
    header = _header(first[1], path)
    yield header
    counts = dict.fromkeys(KINDS, 0)
    article: ExportItem | None = None
    dimension: int | None = None
    ended = False
    number = 1
    try:
        for number, data in lines:  # noqa: B007 (the error below names it)
            if ended:
                raise _Bad("lines after the last")
            if not isinstance(data, dict):
                raise _Bad("not a JSON object")
            kind = data.get("kind")
            if kind == "end":
                if article is not None:
                    yield _finished(article, header)
                    article = None
                if data.get("counts") != counts:
                    raise _Bad(f"the file counts {data.get('counts')}, it holds {counts}")
                ended = True
                continue
            if kind not in KINDS:
                raise _Bad(f"an unknown kind of line {kind!r}")
            counts[kind] += 1
            if kind in ("chunk", "sentence"):
                if not header.vectors:
                    raise _Bad(f"a {kind} in a file without vectors")
                if article is None or article.record is None:
                    raise _Bad(f"a {kind} outside an article")
                if kind == "chunk":
                    vector = _decode(data.get("vector"), "<f4")
                    dimension = dimension or len(vector)
                    if len(vector) != dimension:
                        raise _Bad("vectors of different lengths")
                    _add_chunk(article.record, data, vector)
                else:
                    key = _get(data, "key", str)
                    chunk = _get(data, "chunk_id", str)
                    if chunk not in article.record.chunk_ids:
                        raise _Bad("a sentence of a chunk not in its article")
                    try:
                        key_bytes = bytes.fromhex(key)
                    except ValueError:
                        raise _Bad("a sentence key is not hex") from None
                    blob = _decode(data.get("vector"), "<f2")
                    article.sentences.append((key_bytes, chunk, article.record.id, blob))
                continue
            if article is not None:
                yield _finished(article, header)
                article = None
            if kind == "article":
                record = StoredRecord(
                    id=_get(data, "id", str),
                    document=_get(data, "document", str),
                    metadata=_metadata(data),
                    chunk_ids=[],
                    chunk_documents=[],
                    chunk_metadatas=[],
                    vectors=[],
                )
                if not record.id or record.metadata.get("article_id") != record.id:
                    raise _Bad("an article whose metadata names another id")
                article = ExportItem("article", record=record)
            elif kind == "feed":
                feed = _get(data, "feed", dict)
                _get(feed, "url", str)
                entries = feed.get("entries", [])
                if not isinstance(entries, list) or not all(
                    isinstance(e, list) and len(e) == 4 for e in entries
                ):
                    raise _Bad("a feed with damaged entries")
                yield ExportItem("feed", feed=feed)
            elif kind == "server":
                yield ExportItem(
                    "server",
                    guild_id=_get(data, "guild_id", int),
                    settings=_settings(_get(data, "settings", dict)),
                )
            else:
                vote = _get(data, "feedback", dict)
                yield ExportItem(
                    "feedback",
                    feedback=Feedback(
                        guild_id=_get(vote, "guild_id", int),
                        kb=header.kb,
                        question=_get(vote, "question", str),
                        answer=_get(vote, "answer", str),
                        vote=_get(vote, "vote", int),
                        created_at=_get(vote, "created_at", str),
                    ),
                )
    except _Bad as exc:
        raise ExportFileError(f"{path} is damaged: line {number}: {exc}") from None
    if not ended:
        raise ExportFileError(f"{path} is cut short (no last line)")


def _add_chunk(record: StoredRecord, data: dict[str, Any], vector: Any) -> None:
    index = len(record.chunk_ids)
    expected = chunk_id(record.id, index, record.metadata.get("version"))
    if _get(data, "id", str) != expected:
        raise _Bad(f"chunk {data['id']!r} where {expected!r} was due")
    meta = _metadata(data)
    if meta.get("article_id") != record.id:
        raise _Bad("a chunk whose metadata names another article")
    record.chunk_ids.append(expected)
    record.chunk_documents.append(_get(data, "document", str))
    record.chunk_metadatas.append(meta)
    record.vectors.append(vector)


def _finished(article: ExportItem, header: Header) -> ExportItem:
    """The article read with its chunks: all of them there, when the file has vectors."""
    import numpy as np

    record = article.record
    assert record is not None
    chunks = record.metadata.get("chunks", 0)
    if header.vectors:
        if len(record.chunk_ids) != chunks:
            raise _Bad(f"article {record.id} has {len(record.chunk_ids)} of its {chunks} chunks")
        vectors = np.stack(record.vectors) if record.vectors else None
        record = replace(record, vectors=vectors)
    else:
        record = StoredRecord(record.id, record.document, record.metadata, [], [], [], None)
    return ExportItem("article", record=record, sentences=article.sentences)


def _settings(data: dict[str, Any]) -> ServerSettings:
    kbs = data.get("channel_kbs") or {}
    if not isinstance(kbs, dict) or not all(
        isinstance(v, str) and str(k).isdigit() for k, v in kbs.items()
    ):
        raise _Bad("server settings with damaged channel knowledge bases")
    for key in ("ask_channel_id", "announce_channel_id"):
        if data.get(key) is not None and not isinstance(data.get(key), int):
            raise _Bad(f"server settings with a damaged {key!r}")
    return ServerSettings(
        ask_channel_id=data.get("ask_channel_id"),
        threads=bool(data.get("threads", False)),
        channel_kbs={int(k): v for k, v in kbs.items()},
        announce_channel_id=data.get("announce_channel_id"),
    )
