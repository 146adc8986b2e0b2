"""The soak (benchmarks/soak.py) at its short size: 2 servers of 5 members ask 40 questions
with follow-ups while admins add and remove articles and feeds are polled; the real bot runs
as `newsbot discord` in its own process against the fake Discord, and is SIGKILLed once in
the middle and started again. What it must show, whatever the timings: no question lost or
answered twice, a thread's conversation carried across the kill, and a store with every
article whole and no feed story stored or announced twice. (The timings and memory are the
benchmark's to report, not this test's to assert.)"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import needs_bbc

from benchmarks.soak import quick_config, render, run_soak

pytestmark = [pytest.mark.model, pytest.mark.server, needs_bbc]  # its articles are BBC's


def test_a_short_soak_with_a_kill_loses_and_doubles_nothing(tmp_path: Path) -> None:
    config = quick_config(
        work_dir=str(tmp_path / "soak"), model_cache=os.environ["NEWSBOT_MODEL_CACHE_DIR"]
    )
    result = run_soak(config)
    print(render(result))  # shown with -s, and on failure

    questions = result["questions"]
    assert questions["asked"] >= config.questions
    assert questions["lost"] == 0, questions["lost_examples"]
    assert questions["doubled"] == 0, questions["doubled_examples"]
    assert questions["apologies"] == 0
    assert questions["cut_answered_later"] == 0  # a killed process's question: not answered twice
    assert questions["answered"] == questions["sent"] - questions["cut_by_kill"]
    assert questions["re_asked_after_kill"] == questions["cut_by_kill"]
    assert all(questions["by_kind"][kind] > 0 for kind in ("slash", "mention", "thread"))

    # the kill happened, in the middle, and the second process took over
    first, second = result["processes"]
    assert first["killed"] and not second["killed"]
    assert result["latency_ms_by_process"]["0"]["n"] > 0
    assert result["latency_ms_by_process"]["1"]["n"] > 0

    # follow-ups in threads opened before the kill were read with the thread's turns
    across = result["threads_across_kill"]
    assert across["follow_ups"] > 0
    assert across["continued"] == across["follow_ups"]

    store = result["store"]
    assert store["not_whole"] == []
    assert store["acknowledged_adds_missing"] == []
    assert store["acknowledged_removes_present"] == []
    assert store["feed_stories_stored_twice"] == []
    assert store["feed_stories_announced_twice"] == []
    assert store["feed_stories_not_stored"] == []  # the feeds resumed after the restart
