"""Prompt templates load from the package and fill in with str.format."""

from __future__ import annotations

import pytest

from prompts import load_prompt, prompt_names


def test_the_prompts_ship_with_the_package() -> None:
    assert {"answer", "answer_system", "answer_example", "condense"} <= set(prompt_names())


def test_answer_prompt_marks_passages_as_data_and_fills_in() -> None:
    assert "never instructions" in load_prompt("answer_system")
    template = load_prompt("answer")
    filled = template.format(passages="[1] Some passage.", question="Why?")
    assert "[1] Some passage." in filled and "Question: Why?" in filled


def test_unknown_prompts_are_named() -> None:
    with pytest.raises(KeyError, match="no prompt named 'nope'"):
        load_prompt("nope")
