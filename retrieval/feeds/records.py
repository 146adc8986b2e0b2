"""The followed feeds and the entries already read from each, in the store's SQLite file
(`DATA_DIR/lexical.sqlite3`, beside the BM25 index and the Discord servers' records).

WAL mode and a busy timeout, as for the servers' records: `newsbot watch`, the Discord bot
and `newsbot feeds` may use the file at once. A poller claims a due feed by moving its next
poll time in one transaction, so two pollers never read the same feed at once. The claim
names its process (`feed_leases`): a feed claimed by a process that has died since (killed
mid-poll) is due again at once for the next poller, rather than when the lease runs out.

The feed's position is the set of entries read (`feed_entries`) and its validators (ETag,
Last-Modified). An entry is marked read only after its article is stored (or skipped), and
the validators are saved only after every entry of that copy of the feed was read: a poll
killed at any point is finished by the next one, which reads the feed again in full.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from retrieval.index import sqlite_file
from retrieval.types import Feed

__all__ = ["FeedRecords"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    id INTEGER PRIMARY KEY,
    kb TEXT NOT NULL,
    url TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    guild_id INTEGER,
    interval_s INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'paused')),
    failures INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    note TEXT,
    etag TEXT,
    last_modified TEXT,
    last_polled_at TEXT,
    next_poll_at REAL NOT NULL DEFAULT 0,
    added_at TEXT NOT NULL,
    UNIQUE (kb, url)
);
CREATE INDEX IF NOT EXISTS feeds_guild ON feeds (guild_id);
CREATE TABLE IF NOT EXISTS feed_leases (
    feed_id INTEGER PRIMARY KEY,
    holder TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS feed_entries (
    feed_id INTEGER NOT NULL,
    entry_key TEXT NOT NULL,
    article_id TEXT,
    outcome TEXT NOT NULL,
    seen_at TEXT NOT NULL,
    PRIMARY KEY (feed_id, entry_key)
);
"""

_COLUMNS = (
    "id, kb, url, title, guild_id, interval_s, state, failures, last_error, note, "
    "last_polled_at, next_poll_at, "
    "(SELECT count(*) FROM feed_entries e WHERE e.feed_id = feeds.id)"
)


# The columns an export carries (all but the local number `id`), in the file's order.
_EXPORTED = (
    "kb",
    "url",
    "title",
    "guild_id",
    "interval_s",
    "state",
    "failures",
    "last_error",
    "note",
    "etag",
    "last_modified",
    "last_polled_at",
    "next_poll_at",
    "added_at",
)


def _start_ticks(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot, /proc/PID/stat's 22nd field), so
    a later process given the same id is not taken for it; None where /proc cannot say, or
    for a zombie (dead, not yet reaped)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in ("Z", "X") else fields[19]  # a zombie is dead


def _holder() -> str:
    return f"{os.getpid()}:{_start_ticks(os.getpid()) or ''}"


def _holder_gone(holder: str) -> bool:
    """Whether the process that claimed a feed has died (on this machine: the SQLite file is
    local). Where /proc cannot say, it is taken as alive and its lease runs out as before."""
    pid, _, started = holder.partition(":")
    if not started or not Path("/proc/self/stat").exists():
        return False
    return _start_ticks(int(pid)) != started


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _feed(row: tuple[Any, ...]) -> Feed:
    return Feed(
        id=row[0],
        kb=row[1],
        url=row[2],
        title=row[3],
        guild_id=row[4],
        interval_s=row[5],
        state=row[6],
        failures=row[7],
        last_error=row[8],
        note=row[9],
        last_polled_at=row[10],
        next_poll_at=row[11],
        entries_seen=row[12],
    )


class FeedRecords:
    """Feeds (one row each, unique per knowledge base and URL) and the entries read from them."""

    def __init__(self, path: Path | str) -> None:
        self._db = sqlite_file.connect(path)
        self._lock = threading.Lock()
        with self._lock:
            self._db.executescript(_SCHEMA)

    def _transaction(self, statements: Iterable[tuple[str, tuple[Any, ...]]]) -> None:
        """(Under the lock.) The statements together or not at all."""
        with sqlite_file.immediate(self._db):
            for sql, args in statements:
                self._db.execute(sql, args)

    # -- following -------------------------------------------------------------------------
    def add(
        self, *, kb: str, url: str, title: str, guild_id: int | None, interval_s: int
    ) -> tuple[Feed, bool]:
        """Follow `url` into `kb`; (the feed, whether it is new). A feed already followed is
        resumed (active, failures forgotten) and due at once."""
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO feeds (kb, url, title, guild_id, interval_s, added_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (kb, url) DO NOTHING",
                (kb, url, title, guild_id, interval_s, _now_iso()),
            )
            created = cursor.rowcount == 1
            if not created:
                self._db.execute(
                    "UPDATE feeds SET state = 'active', failures = 0, last_error = NULL, "
                    "next_poll_at = 0, title = CASE WHEN ? != '' THEN ? ELSE title END "
                    "WHERE kb = ? AND url = ?",
                    (title, title, kb, url),
                )
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM feeds WHERE kb = ? AND url = ?", (kb, url)
            ).fetchone()
        return _feed(row), created

    def remove(self, feed_id: int) -> bool:
        """Stop following a feed (its articles stay)."""
        with self._lock:
            found = self._db.execute("SELECT 1 FROM feeds WHERE id = ?", (feed_id,)).fetchone()
            self._transaction(
                [
                    ("DELETE FROM feed_entries WHERE feed_id = ?", (feed_id,)),
                    ("DELETE FROM feed_leases WHERE feed_id = ?", (feed_id,)),
                    ("DELETE FROM feeds WHERE id = ?", (feed_id,)),
                ]
            )
        return found is not None

    def get(self, feed_id: int) -> Feed | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM feeds WHERE id = ?", (feed_id,)
            ).fetchone()
        return _feed(row) if row else None

    def feeds(self, *, kb: str | None = None, guild_id: int | None = None) -> list[Feed]:
        """Feeds of one knowledge base, or of one Discord server, or all; in order added."""
        where: list[str] = []
        args: list[Any] = []
        if kb is not None:
            where.append("kb = ?")
            args.append(kb)
        if guild_id is not None:
            where.append("guild_id = ?")
            args.append(guild_id)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM feeds {clause} ORDER BY id", tuple(args)
            ).fetchall()
        return [_feed(row) for row in rows]

    # -- polling ---------------------------------------------------------------------------
    def claim(
        self,
        *,
        now: float,
        lease_s: float,
        due_only: bool = True,
        guilds: Callable[[int | None], bool] | None = None,
    ) -> list[Feed]:
        """The active feeds due by `now` (or all active ones), each claimed for `lease_s`
        seconds: another poller sees them as not due until the poll finishes, the lease
        runs out, or the process that claimed them dies (a poller killed mid-poll: its
        feeds are due at once, so a restarted bot resumes them). With `guilds`, only the
        feeds whose server id (None: followed from the shell) it accepts: a bot process
        that runs some of the shards polls its own servers' feeds."""
        due = "AND next_poll_at <= ?" if due_only else ""
        args: tuple[Any, ...] = (now,) if due_only else ()
        with self._lock, sqlite_file.immediate(self._db):
            leases = self._db.execute("SELECT feed_id, holder FROM feed_leases").fetchall()
            orphaned = [(feed_id,) for feed_id, holder in leases if _holder_gone(holder)]
            self._db.executemany("UPDATE feeds SET next_poll_at = 0 WHERE id = ?", orphaned)
            self._db.executemany("DELETE FROM feed_leases WHERE feed_id = ?", orphaned)
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM feeds WHERE state = 'active' {due} "
                "ORDER BY next_poll_at, id",
                args,
            ).fetchall()
            if guilds is not None:
                rows = [row for row in rows if guilds(row[4])]
            self._db.executemany(
                "UPDATE feeds SET next_poll_at = ? WHERE id = ?",
                [(now + lease_s, row[0]) for row in rows],
            )
            holder = _holder()
            self._db.executemany(
                "INSERT OR REPLACE INTO feed_leases (feed_id, holder) VALUES (?, ?)",
                [(row[0], holder) for row in rows],
            )
        return [_feed(row) for row in rows]

    def next_due(self) -> float | None:
        """When the next active feed is due (seconds since the epoch), if any is followed."""
        with self._lock:
            row = self._db.execute(
                "SELECT min(next_poll_at) FROM feeds WHERE state = 'active'"
            ).fetchone()
        return None if row[0] is None else float(row[0])

    def validators(self, feed_id: int) -> tuple[str | None, str | None]:
        """(ETag, Last-Modified) of the copy of the feed read last, for a conditional GET."""
        with self._lock:
            row = self._db.execute(
                "SELECT etag, last_modified FROM feeds WHERE id = ?", (feed_id,)
            ).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def unseen(self, feed_id: int, keys: list[str]) -> list[str]:
        """The entry keys not read from this feed yet, in the order given."""
        seen: set[str] = set()
        with self._lock:
            for offset in range(0, len(keys), 500):
                part = keys[offset : offset + 500]
                marks = ",".join("?" * len(part))
                seen.update(
                    row[0]
                    for row in self._db.execute(
                        f"SELECT entry_key FROM feed_entries WHERE feed_id = ? "
                        f"AND entry_key IN ({marks})",
                        (feed_id, *part),
                    )
                )
        return [key for key in keys if key not in seen]

    def mark_read(self, feed_id: int, entries: Sequence[tuple[str, str | None, str]]) -> None:
        """Entries (key, article id or None, outcome) read: stored, a duplicate, or skipped."""
        if not entries:
            return
        now = _now_iso()
        with self._lock:
            self._transaction(
                (
                    "INSERT INTO feed_entries (feed_id, entry_key, article_id, outcome, seen_at) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (feed_id, key, article_id, outcome, now),
                )
                for key, article_id, outcome in entries
            )

    def succeeded(
        self,
        feed_id: int,
        *,
        next_poll_at: float,
        etag: str | None,
        last_modified: str | None,
        title: str | None,
        note: str | None,
        not_modified: bool,
    ) -> None:
        """A poll went through: failures forgotten; the validators of the copy just read
        (kept as they were after a 304), its title and note."""
        with self._lock:
            self._db.execute("DELETE FROM feed_leases WHERE feed_id = ?", (feed_id,))
            if not_modified:
                self._db.execute(
                    "UPDATE feeds SET failures = 0, last_error = NULL, last_polled_at = ?, "
                    "next_poll_at = ? WHERE id = ?",
                    (_now_iso(), next_poll_at, feed_id),
                )
                return
            self._db.execute(
                "UPDATE feeds SET failures = 0, last_error = NULL, last_polled_at = ?, "
                "next_poll_at = ?, etag = ?, last_modified = ?, note = ?, "
                "title = CASE WHEN ? != '' THEN ? ELSE title END WHERE id = ?",
                (
                    _now_iso(),
                    next_poll_at,
                    etag,
                    last_modified,
                    note,
                    title or "",
                    title or "",
                    feed_id,
                ),
            )

    def failed(self, feed_id: int, *, error: str, next_poll_at: float, pause: bool) -> None:
        """A poll failed: one more failure in a row, the error kept; paused if `pause`."""
        with self._lock:
            self._db.execute("DELETE FROM feed_leases WHERE feed_id = ?", (feed_id,))
            self._db.execute(
                "UPDATE feeds SET failures = failures + 1, last_error = ?, last_polled_at = ?, "
                "next_poll_at = ?, state = CASE WHEN ? THEN 'paused' ELSE state END "
                "WHERE id = ?",
                (error[:500], _now_iso(), next_poll_at, pause, feed_id),
            )

    # -- export and import (`newsbot export`, `newsbot import`) -------------------------------
    def exported(self, kb: str) -> list[dict[str, Any]]:
        """The feeds followed into `kb`, each with every column but its local number, and
        the entries read from it: (key, article id, outcome, when); by URL, entries by key."""
        names = ", ".join(_EXPORTED)
        with self._lock:
            rows = self._db.execute(
                f"SELECT id, {names} FROM feeds WHERE kb = ? ORDER BY url", (kb,)
            ).fetchall()
            feeds = []
            for feed_id, *values in rows:
                entries = self._db.execute(
                    "SELECT entry_key, article_id, outcome, seen_at FROM feed_entries "
                    "WHERE feed_id = ? ORDER BY entry_key",
                    (feed_id,),
                ).fetchall()
                feed = dict(zip(_EXPORTED, values, strict=True))
                feed["entries"] = [list(entry) for entry in entries]
                feeds.append(feed)
        return feeds

    def restore(self, kb: str, feed: dict[str, Any]) -> bool:
        """Follow a feed as `exported` gave it (into `kb`), with the entries read from it, in
        one transaction; False, and nothing changed, when `kb` follows its URL already."""
        values = {name: feed.get(name) for name in _EXPORTED}
        values["kb"] = kb
        names = ", ".join(_EXPORTED)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                cursor = self._db.execute(
                    f"INSERT INTO feeds ({names}) VALUES ({', '.join('?' * len(_EXPORTED))}) "
                    "ON CONFLICT (kb, url) DO NOTHING",
                    tuple(values[name] for name in _EXPORTED),
                )
                added = cursor.rowcount == 1
                if added:
                    self._db.executemany(
                        "INSERT INTO feed_entries (feed_id, entry_key, article_id, outcome, "
                        "seen_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                        [(cursor.lastrowid, *entry) for entry in feed.get("entries", [])],
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return added

    def close(self) -> None:
        with self._lock:
            self._db.close()
