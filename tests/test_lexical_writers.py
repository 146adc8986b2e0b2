"""The lexical index shares its SQLite file with the feeds' and the servers' records, written
by other connections (other threads while a poll runs, other processes): its writes wait for
theirs instead of failing."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from retrieval.index.lexical import LexicalIndex


def test_index_writes_wait_for_another_connection_writing_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "lexical.sqlite3"
    index = LexicalIndex(path)
    other = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
    other.execute("CREATE TABLE IF NOT EXISTS records (x)")
    stop = threading.Event()

    def write_records() -> None:
        while not stop.is_set():
            other.execute("INSERT INTO records VALUES (1)")
            stop.wait(0.001)

    writer = threading.Thread(target=write_records)
    writer.start()
    try:
        # each add replaces the rows of an article already there: a read, then writes
        for i in range(200):
            index.add_rows("kb", [(f"c{i}", f"a{i % 7}", "the bridge reopened on Monday")])
    finally:
        stop.set()
        writer.join()
        other.close()
    assert index.count("kb") == 7
    index.close()
