"""The terminal chat: questions, follow-ups that use the conversation, and a few commands."""

from __future__ import annotations

import json
from importlib import resources

import click

from retrieval.errors import QuestionError
from retrieval.service import NewsService, article_from_dict
from retrieval.types import Answer, Turn

__all__ = ["load_demo_if_empty", "run_chat"]

CHECKED_HEADER = "Checked against the sources:"
HELP = "Ask a question. /sources shows the passages behind the last answer; /quit leaves."


def load_demo_if_empty(service: NewsService, kb: str) -> str | None:
    """On first run, an empty store gets the demo article, so there is something to ask."""
    if service.list(kb=kb):
        return None
    raw = resources.files("retrieval").joinpath("demo/seed_article.json").read_text("utf-8")
    article = article_from_dict(json.loads(raw), "demo article")
    service.add(article, kb=kb)
    return article.title


def run_chat(service: NewsService, *, kb: str = "default") -> None:
    from bot.render import render_answer, render_passages

    demo = load_demo_if_empty(service, kb)
    if demo:
        click.echo(f"Loaded the demo article: {demo}")
    count = len(service.list(kb=kb))
    click.echo(f"newsbot chat — {count} article(s) in {kb!r}. {HELP}")
    history: list[Turn] = []
    last: Answer | None = None
    while True:
        try:
            line = click.prompt("you", prompt_suffix="> ", default="", show_default=False)
        except (EOFError, click.Abort):
            click.echo()
            return
        line = line.strip()
        if not line:
            continue
        if line in ("/quit", "/exit", "/q"):
            return
        if line == "/help":
            click.echo(HELP)
            continue
        if line == "/sources":
            click.echo(render_passages(last.passages) if last else "Ask something first.")
            continue
        if line.startswith("/"):
            click.echo(f"Unknown command {line.split()[0]}. {HELP}")
            continue
        streamed = False  # whether the model's draft was shown token by token
        try:
            for part in service.stream(line, kb=kb, history=history):
                if isinstance(part, Answer):
                    last = part
                else:
                    streamed = True
                    click.echo(part, nl=False)
        except QuestionError as exc:
            click.echo(f"error: {exc}")
            continue
        assert last is not None
        history.append(Turn(last.standalone_question or line, last.answer))
        if streamed:
            # what streamed is the model's draft; what follows is what its sources support
            click.echo(f"\n\n{CHECKED_HEADER}")
        click.echo(render_answer(last))
        click.echo()
