"""connect_local's choices that need no server: what it does when the server it found stops
between its heartbeat and the client's first call."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from retrieval.errors import StoreError
from retrieval.index import local_server
from retrieval.index.local_server import RECORD_FILE, connect_local


def _record(directory: Path) -> None:
    # pids of this test process: not a Chroma server, so nothing is killed when it is cleared
    (directory / RECORD_FILE).write_text(
        json.dumps({"port": 9, "supervisor_pid": os.getpid(), "chroma_pid": os.getpid()})
    )


def test_a_server_that_stops_after_its_heartbeat_is_passed_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _record(tmp_path)
    heartbeats = iter([True])  # it answers once, then never again

    def refused(record: Any) -> Any:
        raise ValueError("Could not connect to a Chroma server")

    monkeypatch.setattr(local_server, "_answers", lambda record: next(heartbeats, False))
    monkeypatch.setattr(local_server, "_http_client", refused)
    connection = connect_local(tmp_path, serve=False, wait_s=5)
    try:
        assert connection.url is None  # opened embedded
        assert not (tmp_path / RECORD_FILE).exists()  # the stale record is gone
    finally:
        connection.client.close()
        connection.close()


def test_a_server_that_answers_but_refuses_the_client_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _record(tmp_path)

    def refused(record: Any) -> Any:
        raise ValueError("tenant default_tenant not found")

    monkeypatch.setattr(local_server, "_answers", lambda record: True)
    monkeypatch.setattr(local_server, "_http_client", refused)
    with pytest.raises(StoreError, match="tenant default_tenant not found") as caught:
        connect_local(tmp_path, serve=False, wait_s=5)
    assert "\n" not in str(caught.value)
    assert (tmp_path / RECORD_FILE).exists()  # a live server's record is left alone
