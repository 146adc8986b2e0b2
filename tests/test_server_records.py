"""Discord servers' settings and answer votes, in the store's SQLite file."""

from __future__ import annotations

from pathlib import Path

from retrieval.index.server_records import ServerRecords
from retrieval.types import Feedback, ServerSettings


def test_settings_survive_reopening_and_each_server_has_its_own(tmp_path: Path) -> None:
    path = tmp_path / "lexical.sqlite3"
    records = ServerRecords(path)
    assert records.settings(1) == ServerSettings()
    records.save_settings(
        1, ServerSettings(ask_channel_id=5, threads=True, channel_kbs={7: "sport"})
    )
    records.close()
    reopened = ServerRecords(path)
    assert reopened.settings(1) == ServerSettings(5, True, {7: "sport"})
    assert reopened.settings(2) == ServerSettings()


def test_votes_are_kept_per_server_newest_first_without_who_voted(tmp_path: Path) -> None:
    records = ServerRecords(tmp_path / "lexical.sqlite3")
    for n, vote in enumerate((1, -1, 1)):
        records.add_feedback(Feedback(1, "guild-1", f"q{n}", f"a{n}", vote))
    records.add_feedback(Feedback(2, "guild-2", "elsewhere", "a", 1))
    latest = records.feedback(1, limit=2)
    assert [(f.question, f.vote) for f in latest] == [("q2", 1), ("q1", -1)]
    assert all(f.created_at for f in latest)
    assert set(Feedback.__dataclass_fields__) == {
        "guild_id",
        "kb",
        "question",
        "answer",
        "vote",
        "created_at",
    }
