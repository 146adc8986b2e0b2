"""What Discord servers keep beside their articles: their settings and the votes on answers,
in the store's SQLite file (`DATA_DIR/lexical.sqlite3`, beside the BM25 index).

WAL mode and a busy timeout, as for the lexical index: the bot writes a vote while the CLI or
an ingest may be writing the same file.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path

from retrieval.index import sqlite_file
from retrieval.types import Feedback, ServerSettings

__all__ = ["ServerRecords"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS server_settings (
    guild_id INTEGER PRIMARY KEY,
    settings TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS answer_feedback (
    id INTEGER PRIMARY KEY,
    guild_id INTEGER NOT NULL,
    kb TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    vote INTEGER NOT NULL CHECK (vote IN (-1, 1)),
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS answer_feedback_guild ON answer_feedback (guild_id, id);
"""


class ServerRecords:
    """Per-server settings (one JSON row per server) and answer feedback (one row per vote)."""

    def __init__(self, path: Path | str) -> None:
        self._db = sqlite_file.connect(path)
        self._lock = threading.Lock()
        with self._lock:
            self._db.executescript(_SCHEMA)

    def settings(self, guild_id: int) -> ServerSettings:
        with self._lock:
            row = self._db.execute(
                "SELECT settings FROM server_settings WHERE guild_id = ?", (guild_id,)
            ).fetchone()
        if row is None:
            return ServerSettings()
        data = json.loads(row[0])
        return ServerSettings(
            ask_channel_id=data.get("ask_channel_id"),
            threads=bool(data.get("threads", False)),
            channel_kbs={int(k): v for k, v in (data.get("channel_kbs") or {}).items()},
            announce_channel_id=data.get("announce_channel_id"),
        )

    def save_settings(self, guild_id: int, settings: ServerSettings) -> None:
        data = {
            "ask_channel_id": settings.ask_channel_id,
            "threads": settings.threads,
            "channel_kbs": {str(k): v for k, v in settings.channel_kbs.items()},
            "announce_channel_id": settings.announce_channel_id,
        }
        with self._lock:
            self._db.execute(
                "INSERT INTO server_settings (guild_id, settings) VALUES (?, ?) "
                "ON CONFLICT (guild_id) DO UPDATE SET settings = excluded.settings",
                (guild_id, json.dumps(data)),
            )

    def add_feedback(self, feedback: Feedback) -> Feedback:
        stored = Feedback(
            guild_id=feedback.guild_id,
            kb=feedback.kb,
            question=feedback.question,
            answer=feedback.answer,
            vote=1 if feedback.vote > 0 else -1,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        with self._lock:
            self._db.execute(
                "INSERT INTO answer_feedback (guild_id, kb, question, answer, vote, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    stored.guild_id,
                    stored.kb,
                    stored.question,
                    stored.answer,
                    stored.vote,
                    stored.created_at,
                ),
            )
        return stored

    def feedback(self, guild_id: int, *, limit: int = 10) -> list[Feedback]:
        """The server's latest votes, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT guild_id, kb, question, answer, vote, created_at FROM answer_feedback "
                "WHERE guild_id = ? ORDER BY id DESC LIMIT ?",
                (guild_id, limit),
            ).fetchall()
        return [Feedback(*row) for row in rows]

    # -- export and import (`newsbot export`, `newsbot import`) -------------------------------
    def guilds(self) -> list[int]:
        """The servers that have settings."""
        with self._lock:
            rows = self._db.execute("SELECT guild_id FROM server_settings ORDER BY guild_id")
            return [int(row[0]) for row in rows.fetchall()]

    def restore_settings(self, guild_id: int, settings: ServerSettings) -> bool:
        """Save a server's settings unless it has some already (then False: left as they are)."""
        with self._lock:
            found = self._db.execute(
                "SELECT 1 FROM server_settings WHERE guild_id = ?", (guild_id,)
            ).fetchone()
        if found:
            return False
        self.save_settings(guild_id, settings)
        return True

    def feedback_of(self, kb: str) -> list[Feedback]:
        """Every vote on answers from `kb`, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT guild_id, kb, question, answer, vote, created_at FROM answer_feedback "
                "WHERE kb = ? ORDER BY id",
                (kb,),
            ).fetchall()
        return [Feedback(*row) for row in rows]

    def restore_feedback(self, feedback: Feedback) -> bool:
        """Keep a vote as it was given (its time too), unless the same vote is kept already."""
        row = (
            feedback.guild_id,
            feedback.kb,
            feedback.question,
            feedback.answer,
            feedback.vote,
            feedback.created_at,
        )
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                found = self._db.execute(
                    "SELECT 1 FROM answer_feedback WHERE guild_id = ? AND kb = ? AND question = ? "
                    "AND answer = ? AND vote = ? AND created_at = ?",
                    row,
                ).fetchone()
                if not found:
                    self._db.execute(
                        "INSERT INTO answer_feedback (guild_id, kb, question, answer, vote, "
                        "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                        row,
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return not found

    def close(self) -> None:
        with self._lock:
            self._db.close()
