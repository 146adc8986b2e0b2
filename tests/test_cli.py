"""The command line, through click's runner, against a real store: on the fake embedder where
what is tested is the command (its output, errors, the chat loop), on the real model where it
is what the answer says."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from loopback_http import closed_port, serve
from test_articles import HTML_PAGE

from bot.cli import Context, main
from retrieval.service import NewsService
from retrieval.types import Article

CITATION_KEYS = {
    "n": int,
    "article_id": str,
    "title": str,
    "source": (str, type(None)),
    "url": (str, type(None)),
    "published_at": (str, type(None)),
    "quote": str,
    "chunk_id": str,
    "verified": bool,  # added by the citation checker (issue 5)
    "date_notes": list,  # relative dates of the quote resolved (issue 8)
    "also_in": list,  # other outlets carrying the cited fact (issue 18)
}
PASSAGE_KEYS = {
    "chunk_id": str,
    "article_id": str,
    "text": str,
    "score": float,
    "also_in": list,  # passages of other articles folded into this one (issue 18)
}
ALSO_IN_KEYS = {"article_id", "title", "source", "url", "published_at", "quote", "chunk_id"}


def assert_ask_json_contract(data: dict[str, Any], articles: dict[str, str]) -> None:
    """`ask --json` exactly as docs/ask-json.md has it: the base fields, `dropped`, `notice`,
    per-citation `verified`, `date_notes` and `also_in`, per-passage `also_in`, and the news
    fields `newest_source`, `time_note`, `timeline` and `disagreement`."""
    assert set(data) == {
        "question",
        "answer",
        "abstained",
        "citations",
        "passages",
        "answerer",
        "timings_ms",
        "dropped",
        "notice",
        "newest_source",
        "time_note",
        "timeline",
        "disagreement",
    }
    assert data["notice"] is None or isinstance(data["notice"], str)
    assert isinstance(data["newest_source"], (str, type(None)))
    assert isinstance(data["time_note"], (str, type(None)))
    assert isinstance(data["timeline"], list)
    assert isinstance(data["disagreement"], (dict, type(None)))
    assert isinstance(data["dropped"], list) and all(isinstance(s, str) for s in data["dropped"])
    assert isinstance(data["question"], str) and isinstance(data["answer"], str)
    assert isinstance(data["abstained"], bool) and isinstance(data["answerer"], str)
    for citation in data["citations"]:
        assert set(citation) == set(CITATION_KEYS)
        for key, kind in CITATION_KEYS.items():
            assert isinstance(citation[key], kind), key
        assert citation["quote"] in articles[citation["article_id"]]
        for other in citation["also_in"]:
            assert set(other) == ALSO_IN_KEYS
            assert other["article_id"] != citation["article_id"]
            assert other["quote"] in articles[other["article_id"]]
    for passage in data["passages"]:
        assert set(passage) == set(PASSAGE_KEYS)
        for key, kind in PASSAGE_KEYS.items():
            assert isinstance(passage[key], kind), key
        for echo in passage["also_in"]:
            assert set(echo) == {"chunk_id", "article_id"}
            assert echo["article_id"] != passage["article_id"]
    assert set(data["timings_ms"]) == {"retrieve", "answer", "total"}
    assert all(isinstance(v, float) for v in data["timings_ms"].values())
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", data["answer"])}
    assert markers == {c["n"] for c in data["citations"]}


def run(service: NewsService, *args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(main, list(args), obj=Context(_service=service), input=input)


def test_ask_json_follows_the_contract(seeded: NewsService, seed_article: Article) -> None:
    result = run(seeded, "ask", "Why did China refuse the meeting?", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert_ask_json_contract(data, {seed_article.id: seed_article.text})
    assert not data["abstained"] and data["answerer"] == "extractive"
    assert len(data["passages"]) == 4


def test_ask_json_abstains_off_topic(seeded: NewsService, seed_article: Article) -> None:
    result = run(seeded, "ask", "Who won the 2022 World Cup?", "--json", "--k", "2")
    data = json.loads(result.output)
    assert_ask_json_contract(data, {seed_article.id: seed_article.text})
    assert data["abstained"] and data["citations"] == [] and len(data["passages"]) == 2


def test_ask_prints_the_answer_and_numbered_sources(seeded: NewsService) -> None:
    result = run(seeded, "ask", "When were the sanctions on Li imposed?")
    assert result.exit_code == 0
    assert "2018" in result.output
    assert "Sources:\n[1] China declines US request" in result.output


def test_ingest_summarises_and_re_ingest_changes_nothing(
    fake_service: NewsService, tmp_path: Path
) -> None:
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "a.txt").write_text("Strike ends\n\nDock workers voted to end the strike.")
    (folder / "b.html").write_text(HTML_PAGE)
    first = run(fake_service, "ingest", str(folder))
    assert first.exit_code == 0, first.output
    assert first.output.startswith("added 2, unchanged 0, failed 0")
    again = run(fake_service, "ingest", str(folder))
    assert again.output.startswith("added 0, unchanged 2, failed 0")
    listing = run(fake_service, "articles")
    assert "Strike ends" in listing.output and "2 article(s)" in listing.output


@pytest.mark.server
def test_ingest_a_url_served_on_loopback(make_service: Any) -> None:
    service = make_service(allow_private_urls=True)
    routes = {"/story": (200, {"Content-Type": "text/html"}, HTML_PAGE.encode())}
    with serve(routes) as base:
        result = run(service, "ingest", f"{base}/story")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("added 1")
    answer = service.ask("What pay rise did the dock workers get?")
    assert "6% pay rise" in answer.answer


def test_remove_and_list(fake_seeded: NewsService, seed_article: Article) -> None:
    assert run(fake_seeded, "remove", seed_article.id).output == f"removed {seed_article.id}\n"
    assert "No articles yet" in run(fake_seeded, "articles").output
    missing = run(fake_seeded, "remove", seed_article.id)
    assert missing.exit_code == 1
    assert (
        missing.output.strip()
        == f"error: no article with id '{seed_article.id}' in knowledge base 'default'"
    )


def bad_inputs(tmp_path: Path) -> list[tuple[list[str], str]]:
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    binary = tmp_path / "photo.txt"
    binary.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01")
    story = tmp_path / "story.txt"
    story.write_text("Harbour reopens\n\nThe harbour reopened last week after repairs.")
    return [
        (["ingest", str(story), "--published-at", "2023-13-01"], "is not a date like 2023-05-29"),
        (["ingest", str(story), "--published-at", "yesterday"], "is not a date like 2023-05-29"),
        (["ingest", str(tmp_path / "missing.txt")], "no such file or folder"),
        (["ingest", str(empty)], "the file is empty"),
        (["ingest", str(binary)], "binary file"),
        (["ingest", f"http://127.0.0.1:{closed_port()}/story"], "could not connect"),
        (["ask", ""], "the question is empty"),
        (["ask", "   "], "the question is empty"),
        (["ask", "x", "--kb", "no/such"], "invalid knowledge base"),
    ]


def test_bad_input_gives_one_line_a_non_zero_exit_and_keeps_the_store(
    make_fake_service: Any, seed_article: Article, tmp_path: Path
) -> None:
    service = make_fake_service(allow_private_urls=True)
    service.add(seed_article)
    before = (service.store.count_chunks("default"), service.list())
    for args, message in bad_inputs(tmp_path):
        result = run(service, *args)
        assert result.exit_code == 1, (args, result.output)
        errors = [line for line in result.output.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and message in errors[0], (args, result.output)
        assert "Traceback" not in result.output
        assert (service.store.count_chunks("default"), service.list()) == before


def test_ingest_published_at_dates_articles_that_carry_no_date(
    service: NewsService, tmp_path: Path
) -> None:
    story = tmp_path / "story.txt"
    story.write_text("Harbour reopens\n\nThe harbour reopened last week after repairs.")
    dated = tmp_path / "dated.json"
    dated.write_text(
        json.dumps({"title": "T", "text": "Dock workers voted.", "published_at": "2024-01-02"})
    )
    result = run(service, "ingest", str(story), str(dated), "--published-at", "2023-05-29")
    assert result.exit_code == 0, result.output
    dates = {a.title: a.published_at for a in service.list()}
    assert dates == {"Harbour reopens": "2023-05-29", "T": "2024-01-02"}
    answer = service.ask("When did the harbour reopen?")
    [citation] = [c for c in answer.citations if c.title == "Harbour reopens"]
    assert [(n.phrase, n.means) for n in citation.date_notes] == [
        ("last week", "the week of 22 May 2023")
    ]


def test_ask_shows_dates_notes_and_how_current_the_answer_is(
    service: NewsService, tmp_path: Path
) -> None:
    story = tmp_path / "story.txt"
    story.write_text("Harbour reopens\n\nThe harbour reopened last week after repairs.")
    run(service, "ingest", str(story), "--published-at", "2023-05-29")
    output = run(service, "ask", "When did the harbour reopen?").output
    assert "Harbour reopens — 2023-05-29" in output
    assert "(“last week” = the week of 22 May 2023)" in output
    assert "(Newest source: 29 May 2023." in output


def test_a_timeline_renders_one_line_per_entry() -> None:
    from bot.render import render_answer
    from retrieval.types import Answer, Citation, TimelineEntry

    quotes = ["The bridge collapsed on Sunday evening, sending cars into the river below it.",
              "Officials revised the death toll."]  # fmt: skip
    citations = [
        Citation(n, f"a{n}", f"T{n}", "Gazette", None, f"2024-03-0{n + 3}", q, f"a{n}:0")
        for n, q in enumerate(quotes, start=1)
    ]
    text = f"3 March 2024: {quotes[0]} [1]\n5 March 2024: {quotes[1]} [2]"
    answer = Answer("q", text, False, citations, [], "extractive", timeline=[
        TimelineEntry("2024-03-03", 1), TimelineEntry("2024-03-05", 2)])  # fmt: skip
    lines = render_answer(answer, width=60).split("\n\nSources:")[0].splitlines()
    assert lines[0].startswith("3 March 2024: The bridge")
    assert lines[1].startswith("  ")  # the first entry goes on, indented
    assert lines[2] == "5 March 2024: Officials revised the death toll. [2]"


def test_chat_follows_up_shows_sources_and_quits(seeded: NewsService) -> None:
    script = "\n".join(
        [
            "Why did China refuse the meeting?",
            "and what did the Pentagon say?",
            "/sources",
            "/nope",
            "/quit",
            "never asked",
        ]
    )
    result = run(seeded, "chat", input=script + "\n")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "citing US restrictions" in out
    assert "Pentagon in a statement" in out
    assert "(1) China declines US request" in out and "[score " in out
    assert "Unknown command /nope" in out
    assert out.count("you> ") == 5  # nothing is read after /quit


def test_chat_loads_the_demo_article_into_an_empty_store(service: NewsService) -> None:
    result = run(service, "chat", input="Who is Li Shangfu?\n")  # then end of input
    assert result.exit_code == 0, result.output
    assert "Loaded the demo article: China declines US request" in result.output
    assert "Chinese counterpart Li Shangfu" in result.output


def test_help_imports_nothing_heavy() -> None:
    code = (
        "import sys; from bot.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'sentence_transformers', 'chromadb', 'langchain_core',"
        " 'transformers', 'discord') if m in sys.modules]\n"
        "print('HEAVY', heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout
    assert "ingest" in out.stdout and "chat" in out.stdout


def test_console_script_reports_user_errors_without_traceback(tmp_path: Path) -> None:
    newsbot = Path(sys.executable).with_name("newsbot")
    if not newsbot.exists():
        pytest.skip("console script not installed")
    result = subprocess.run(
        [str(newsbot), "ingest", str(tmp_path / "missing.json")], capture_output=True, text=True
    )
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: {tmp_path / 'missing.json'}: no such file or folder"


def _python(code: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, **kwargs
    )


def test_console_script_exit_codes_and_output_survive_the_fast_finish(tmp_path: Path) -> None:
    """`newsbot` ends by `finish` (no interpreter teardown): its exit status and all it
    printed are what `sys.exit` would give."""
    newsbot = Path(sys.executable).with_name("newsbot")
    if not newsbot.exists():
        pytest.skip("console script not installed")
    helped = subprocess.run([str(newsbot), "--help"], capture_output=True, text=True)
    assert helped.returncode == 0 and helped.stdout.rstrip().endswith(
        main.get_help(click.Context(main)).rstrip().splitlines()[-1]
    )
    unknown = subprocess.run([str(newsbot), "nosuch"], capture_output=True, text=True)
    assert unknown.returncode == 2 and "No such command 'nosuch'" in unknown.stderr


def test_finish_flushes_runs_atexit_and_keeps_the_status(tmp_path: Path) -> None:
    marker = tmp_path / "atexit"
    code = (
        "import atexit, pathlib, sys\nfrom bot.cli import finish\n"
        f"atexit.register(lambda: pathlib.Path({str(marker)!r}).write_text('ran'))\n"
        "sys.stdout.write('x' * 200000)\nfinish(3)\n"
    )
    done = _python(code)
    assert done.returncode == 3 and len(done.stdout) == 200000
    assert marker.read_text() == "ran"
    said = _python("from bot.cli import finish\nfinish('error: gone')")
    assert said.returncode == 1 and said.stderr == "error: gone\n"


def test_finish_waits_for_a_running_thread(tmp_path: Path) -> None:
    """A non-daemon thread still working is waited for, as the usual exit does."""
    marker = tmp_path / "thread"
    code = (
        "import pathlib, threading, time\nfrom bot.cli import finish\n"
        "def work():\n    time.sleep(0.5)\n"
        f"    pathlib.Path({str(marker)!r}).write_text('done')\n"
        "threading.Thread(target=work).start()\nfinish(0)\n"
    )
    assert _python(code).returncode == 0
    assert marker.read_text() == "done"


def test_finish_on_a_closed_pipe_is_one_status_not_a_traceback() -> None:
    """`newsbot articles | head -1`: the reader has gone when the output is flushed."""
    code = "import sys, time\nfrom bot.cli import finish\nprint('line')\ntime.sleep(1)\nfinish(0)"
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    child = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,  # the line stays in stdout's buffer until `finish` flushes it
    )
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()  # before the child flushes its one buffered line
    assert child.wait(timeout=120) == 120
    assert child.stderr.read() == ""
