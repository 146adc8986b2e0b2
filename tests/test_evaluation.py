"""Eval metrics: gold matching on token runs, and the figures computed from outcomes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import retrieval.build
from bot.cli import Context, main
from retrieval.evaluation.run import (
    EvalQuestion,
    Outcome,
    contains_answer,
    details,
    lead_sentence,
    summarise,
)
from retrieval.index.embeddings import SentenceEmbeddings
from retrieval.service import NewsService


@pytest.mark.parametrize(
    ("text", "gold", "expected"),
    [
        ("inflation hit 58 % in May", "58%", True),
        ("inflation hit 58% in May", "58 %", True),
        ("in 2024 it rose", "2", False),
        ("Tampa, Florida hosted it", "tampa florida", True),
        ("Florida, Tampa", "Tampa, Florida", False),
        ("anything", "", False),
        ("The S-400 system", "S 400", True),
    ],
)
def test_contains_answer_matches_contiguous_token_runs(
    text: str, gold: str, expected: bool
) -> None:
    assert contains_answer(text, gold) is expected


def outcome(answerable: bool, passages: list[str], answer: str, abstained: bool) -> Outcome:
    q = EvalQuestion("q", "?", ["gold"] if answerable else ["none"], answerable)
    return Outcome(q, passages, answer, abstained, latency_ms=10.0)


def test_summarise_computes_every_figure() -> None:
    outcomes = [
        outcome(True, ["gold here", "x"], "gold", False),  # hit@1, correct
        outcome(True, ["x", "y", "z", "w", "gold"], "x", False),  # hit@10 at rank 5, wrong
        outcome(True, ["x"], "", True),  # miss, false abstention
        outcome(False, ["x"], "", True),  # right abstention
        outcome(False, ["x"], "x", False),  # missed abstention
    ]
    report = summarise(outcomes)
    assert report["retrieval_hit@1"] == pytest.approx(1 / 3, abs=1e-4)
    assert report["retrieval_hit@4"] == pytest.approx(1 / 3, abs=1e-4)
    assert report["retrieval_hit@10"] == pytest.approx(2 / 3, abs=1e-4)
    assert report["mrr@10"] == pytest.approx((1 + 1 / 5) / 3, abs=1e-4)
    assert report["answer_accuracy"] == pytest.approx(1 / 3, abs=1e-4)
    assert report["abstain_precision"] == 0.5
    assert report["false_abstain_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert report["unanswerable_abstain_rate"] == 0.5
    assert report["latency_p50_ms"] == report["latency_p95_ms"] == 10.0


def test_lead_accuracy_judges_only_the_text_before_the_first_marker() -> None:
    assert lead_sentence("Ford cut it. [1] Gold too. [2]") == "Ford cut it. "
    assert lead_sentence("no markers: gold") == "no markers: gold"
    outcomes = [
        outcome(True, ["gold"], "The gold answer. [1] More. [2]", False),  # lead right
        outcome(True, ["gold"], "Off topic. [1] But gold here. [2]", False),  # only later
        outcome(True, ["gold"], "gold", True),  # abstained: never counted
        outcome(False, ["x"], "gold [1]", False),  # unanswerable: not in the figure
    ]
    report = summarise(outcomes)
    assert report["answer_accuracy"] == pytest.approx(2 / 3, abs=1e-4)
    assert report["lead_accuracy"] == pytest.approx(1 / 3, abs=1e-4)
    rows = details(outcomes)
    assert rows[1] == {
        "id": "q",
        "question": "?",
        "answers": ["gold"],
        "answerable": True,
        "gold_rank": 1,
        "answer": "Off topic. [1] But gold here. [2]",
        "abstained": False,
        "correct": True,
        "lead_correct": False,
    }
    assert [r["lead_correct"] for r in rows] == [True, False, False, False]
    assert [r["gold_rank"] for r in rows] == [1, 1, 1, None]


def test_eval_command_runs_and_caches_the_corpus(
    embeddings: SentenceEmbeddings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # `newsbot eval` builds its own stores (never the user's) on the embedder the settings
    # name: the run's one loaded model is handed in at the one factory it calls. (The real
    # model, as the figures asserted are what the answerer makes of its vectors.)
    monkeypatch.setattr(retrieval.build, "load_embeddings", lambda settings: embeddings)
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        "\n".join(
            json.dumps(r)
            for r in [
                {
                    "id": "a",
                    "title": "Strike",
                    "text": "Dock workers in Rotterdam won a 6% pay rise.",
                },
                {
                    "id": "b",
                    "title": "Vote",
                    "text": "The council voted 7 to 2 to close the library.",
                },
            ]
        )
    )
    questions = tmp_path / "questions.jsonl"
    questions.write_text(
        "\n".join(
            json.dumps(r)
            for r in [
                {
                    "id": "1",
                    "question": "What pay rise did dock workers win?",
                    "answers": ["6%"],
                    "answerable": True,
                },
                {
                    "id": "2",
                    "question": "How did the council vote on the library?",
                    "answers": ["7 to 2"],
                    "answerable": True,
                },
                {
                    "id": "3",
                    "question": "Who won the Tour de France?",
                    "answers": ["Pogacar"],
                    "answerable": False,
                },
            ]
        )
    )
    args = ["eval", str(questions), "--corpus", str(corpus), "--json", "--baseline"]
    rows_path = tmp_path / "details.jsonl"
    first = CliRunner().invoke(main, [*args, "--details", str(rows_path)], obj=Context())
    assert first.exit_code == 0, first.output
    report = json.loads(first.output)
    rows = [json.loads(line) for line in rows_path.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["1", "2", "3"]
    assert rows[0]["gold_rank"] == 1 and rows[0]["correct"] and rows[0]["lead_correct"]
    assert rows[2]["answerable"] is False and rows[2]["abstained"] is True
    for key in (
        "retrieval_hit@1",
        "retrieval_hit@4",
        "retrieval_hit@10",
        "mrr@10",
        "answer_accuracy",
        "lead_accuracy",
        "abstain_precision",
        "false_abstain_rate",
        "unanswerable_abstain_rate",
        "latency_p50_ms",
        "latency_p95_ms",
    ):
        assert key in report and key in report["baseline"]
    assert report["retrieval_hit@1"] == 1.0 and report["answer_accuracy"] == 1.0
    assert report["unanswerable_abstain_rate"] == 1.0
    assert report["index_cached"] is False
    second = CliRunner().invoke(main, args, obj=Context())
    assert json.loads(second.output)["index_cached"] is True


def test_a_question_rows_date_is_the_day_it_was_asked(tmp_path: Path) -> None:
    from datetime import date

    from retrieval.evaluation.run import load_questions

    path = tmp_path / "q.jsonl"
    rows = [
        {"id": "1", "question": "Who won this week?", "answers": ["x"], "date": "2025-01-10"},
        {"id": "2", "question": "Who won this week?", "answers": ["x"]},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    assert [q.asked_on for q in load_questions(path)] == [date(2025, 1, 10), None]


@pytest.mark.parametrize(
    ("row", "asked"),
    [
        ({"id": "20240906_12"}, (2024, 9, 6)),
        ({"id": "20240105_3_nota"}, (2024, 1, 5)),
        ({"id": "20240105_3", "date": "2024-02-01"}, (2024, 2, 1)),  # a date field wins
        ({"id": "20241301_4"}, None),  # no 13th month
        ({"id": "20240230_4"}, None),  # no 30 February
        ({"id": "rgb-12"}, None),
        ({"id": "20240906"}, None),  # the day must be followed by `_`
        ({}, None),  # the line number stands in for the id
    ],
)
def test_a_realtime_qa_id_gives_the_day_asked(
    tmp_path: Path, row: dict[str, str], asked: tuple[int, int, int] | None
) -> None:
    from datetime import date

    from retrieval.evaluation.run import load_questions

    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps({**row, "question": "Who won this week?", "answers": ["x"]}))
    [question] = load_questions(path)
    assert question.asked_on == (date(*asked) if asked else None)


def test_eval_refuses_a_bad_questions_file(fake_service: NewsService, tmp_path: Path) -> None:
    bad = tmp_path / "q.jsonl"
    bad.write_text('{"answers": []}\n')
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"text": "x"}\n')
    result = CliRunner().invoke(
        main, ["eval", str(bad), "--corpus", str(corpus)], obj=Context(_service=fake_service)
    )
    assert result.exit_code == 1
    assert "q.jsonl:1: expected a JSON object with 'question'" in result.output


def test_two_processes_building_one_cached_store_build_it_once(tmp_path: Path) -> None:
    """The second eval of a corpus waits for the first one's build and uses it, instead of
    clearing the folder under it (two evals of one set at once used to clobber each other)."""
    code = (
        "import sys, time\nfrom pathlib import Path\n"
        "from retrieval.evaluation.run import cached_build\n"
        "def build(folder):\n"
        "    (folder / 'part').write_text('x')\n"
        "    time.sleep(1.0)\n"
        "    with open(sys.argv[2], 'a') as log:\n"
        "        log.write('built\\n')\n"
        "    assert (folder / 'part').exists()  # nobody cleared it meanwhile\n"
        "print(cached_build(Path(sys.argv[1]), build))\n"
    )
    store, log = tmp_path / "cache" / "abc", tmp_path / "builds.log"
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(store), str(log)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outcomes = [run.communicate(timeout=60) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outcomes
    assert sorted(out.strip() for out, _ in outcomes) == ["False", "True"]
    assert log.read_text() == "built\n"
    assert (store / "complete").exists() and (store / "part").exists()
