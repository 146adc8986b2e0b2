"""The contract docs in docs/ say what the code does: the fields of `ask --json`, the eval
metrics, the commands and options, and the table of settings. No model, no store."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from retrieval.evaluation.run import EvalQuestion, Outcome, abstention_sweep, summarise
from retrieval.settings_doc import REGENERATE, env_name, settings_table
from retrieval.types import (
    AlsoReported,
    Answer,
    Citation,
    DateNote,
    Passage,
    SourcesDiffer,
    TimelineEntry,
)

DOCS = Path(__file__).resolve().parent.parent / "docs"


def documented_names(page: str, heading: str) -> set[str]:
    """The `names` in the first column of the table under `heading` (up to the next heading)."""
    text = (DOCS / page).read_text("utf-8")
    start = text.index(f"\n{heading}\n")
    section = re.split(r"\n#{1,6} ", text[start + len(heading) + 2 :], maxsplit=1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            first_cell = line.split(" | ")[0]
            names.update(re.findall(r"`([^`]+)`", first_cell))
    assert names, f"no table under {heading!r} in docs/{page}"
    return names


def an_answer() -> Answer:
    """An answer with every optional part filled in, built by hand."""
    passage = Passage(
        chunk_id="a1:0",
        article_id="a1",
        text="Officials said 12 people were killed on Sunday.",
        score=0.18,
        start=0,
        end=47,
        title="Bridge collapses",
        source="Gazette",
        url="https://gazette.example/bridge",
        published_at="2024-03-04",
    )
    other = Passage(
        chunk_id="a2:0",
        article_id="a2",
        text="Officials said 12 people were killed on Sunday, local police said.",
        score=0.1,
        start=0,
        end=66,
        title="Bridge falls",
        source="Courier",
    )
    passage = replace(passage, echoes=(other,))
    citation = Citation(
        n=1,
        article_id="a1",
        title="Bridge collapses",
        source="Gazette",
        url="https://gazette.example/bridge",
        published_at="2024-03-04",
        quote=passage.text,
        chunk_id="a1:0",
        date_notes=[DateNote("on Sunday", "3 March 2024", "2024-03-03")],
        also_in=[AlsoReported.of(other, other.text)],
    )
    return Answer(
        question="How many died?",
        answer=f"{passage.text} [1]",
        abstained=False,
        citations=[citation],
        passages=[passage],
        answerer="extractive",
        timings_ms={"retrieve": 1.0, "answer": 2.0, "total": 3.0},
        notice="The articles only partly answer this: they say nothing of 2019.",
        dropped=["An unsupported sentence."],
        timeline=[TimelineEntry("2024-03-03", 1)],
        disagreement=SourcesDiffer("number", ["12", "9"], [1, 1]),
        time_note="Newest source: 4 March 2024.",
        newest_source="2024-03-04",
    )


def test_ask_json_fields_are_the_documented_ones() -> None:
    data = an_answer().to_json()
    assert set(data) == documented_names("ask-json.md", "## The object")
    assert set(data["citations"][0]) == documented_names("ask-json.md", "### citation")
    assert set(data["citations"][0]["date_notes"][0]) == documented_names(
        "ask-json.md", "### date note"
    )
    assert set(data["passages"][0]) == documented_names("ask-json.md", "### passage")
    assert set(data["citations"][0]["also_in"][0]) == documented_names(
        "ask-json.md", "### also reported"
    )
    assert set(data["passages"][0]["also_in"][0]) == documented_names("ask-json.md", "### echo")
    assert set(data["timeline"][0]) == documented_names("ask-json.md", "### timeline entry")
    assert set(data["disagreement"]) == documented_names("ask-json.md", "### sources differ")


def test_eval_metrics_are_the_documented_ones() -> None:
    question = EvalQuestion("q1", "Who?", ["Li"], True)
    report = summarise([Outcome(question, ["Li Shangfu"], "Li Shangfu [1]", False, 5.0)])
    report |= {"index_cached": False, "seconds": 0.0, "abstention_sweep": [], "baseline": {}}
    documented = documented_names("eval.md", "## Metrics")
    missing = set(report) - documented
    assert not missing, f"document these `newsbot eval` keys in docs/eval.md: {missing}"
    assert documented <= set(report), "docs/eval.md lists keys the code does not report"
    sweep = abstention_sweep([(question, 0.5, "Li Shangfu [1]")])
    assert set(sweep[0]) == documented_names("eval.md", "## `--sweep`")


def test_cli_doc_names_every_command_and_option() -> None:
    from bot.cli import main

    text = (DOCS / "cli.md").read_text("utf-8")
    for name, command in main.commands.items():
        heading = re.search(rf"^## `newsbot {name}\b.*$", text, flags=re.MULTILINE)
        assert heading, f"docs/cli.md has no section for `newsbot {name}`"
        section = text[heading.end() :].split("\n## ", 1)[0]
        for param in command.params:
            for option in param.opts:
                if option.startswith("--") and option != "--help":
                    assert f"`{option}" in section, f"`newsbot {name} {option}` in docs/cli.md"


def test_configuration_doc_is_current() -> None:
    page = DOCS / "configuration.md"
    assert page.read_text("utf-8") == settings_table(), (
        f"docs/configuration.md differs from the settings classes; regenerate it: {REGENERATE}"
    )


class ExampleSettings(BaseSettings):
    """Settings to show the generator's rules on."""

    model_config = SettingsConfigDict(env_prefix="EXAMPLE_")

    cache_dir: Path = Field(
        default_factory=lambda: Path.home() / ".cache" / "example", description="Where."
    )
    top_k: int = Field(default=4, ge=1, le=50, description="How many.")
    token: SecretStr | None = Field(
        default=None, validation_alias="EXAMPLE_TOKEN_ALIAS", description="The secret."
    )
    mode: str | None = Field(default=None, description="A | B.")


@pytest.mark.parametrize(
    ("field", "variable"),
    [("top_k", "EXAMPLE_TOP_K"), ("token", "EXAMPLE_TOKEN_ALIAS")],
)
def test_a_variable_is_its_alias_else_prefix_and_name(field: str, variable: str) -> None:
    assert env_name(ExampleSettings, field, ExampleSettings.model_fields[field]) == variable


def test_the_table_shows_types_defaults_and_no_secret() -> None:
    rows = {
        line.split(" | ")[0].strip("| `"): line
        for line in settings_table([ExampleSettings]).splitlines()
        if line.startswith("| `")
    }
    assert (
        rows["EXAMPLE_CACHE_DIR"] == "| `EXAMPLE_CACHE_DIR` | path | `~/.cache/example` | Where. |"
    )
    assert rows["EXAMPLE_TOP_K"] == "| `EXAMPLE_TOP_K` | integer, 1–50 | `4` | How many. |"
    assert rows["EXAMPLE_TOKEN_ALIAS"] == "| `EXAMPLE_TOKEN_ALIAS` | secret | — | The secret. |"
    assert rows["EXAMPLE_MODE"] == "| `EXAMPLE_MODE` | text | unset | A \\| B. |"


def test_the_readme_lists_every_tracking_parameter() -> None:
    from retrieval.index.identity import TRACKING_PARAMETERS, TRACKING_PREFIXES

    readme = (DOCS.parent / "README.md").read_text("utf-8")
    section = readme.split("\n## Articles\n", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"`([^`\s]+)`", section))
    missing = (set(TRACKING_PARAMETERS) | set(TRACKING_PREFIXES)) - listed
    assert not missing, f"README.md, Articles: name the tracking parameters {sorted(missing)}"
