"""One root for every error a person can cause or fix: `NewsbotError`.

Its message is written for the person who ran newsbot and says what to do; front ends catch
`NewsbotError` once and show the message as one line (the CLI: `error: ...`, exit 1). Whether
the message may also be shown to anyone else — a Discord member — is `public`: messages
about articles and questions are; messages that can name paths, servers or settings are not
(the bot apologises and logs them).
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "ArticleError",
    "BackendError",
    "ExportFileError",
    "ModelConfigError",
    "NewsbotError",
    "QuestionError",
    "StoreError",
]


class NewsbotError(Exception):
    """Something newsbot cannot do as asked; `str(error)` says why and what to do."""

    public: ClassVar[bool] = True


class ArticleError(NewsbotError, ValueError):
    """Input that cannot become an article (a bad file, URL, date or eval set)."""


class ExportFileError(NewsbotError, ValueError):
    """A file `newsbot import` cannot read (not an export, another format version, damaged,
    cut short), or whose vectors are of another model; or one `newsbot export` cannot write."""

    public = False  # (names paths)


class QuestionError(NewsbotError, ValueError):
    """A question that cannot be asked (empty, too long, a bad k)."""


class StoreError(NewsbotError, RuntimeError):
    """The store cannot be opened or used; the message says what to do."""

    public = False


class ModelConfigError(NewsbotError, ValueError):
    """NEWSBOT_LLM (or its options) cannot be used; the message says what to change."""

    public = False


class BackendError(NewsbotError, RuntimeError):
    """The language model did not answer: unreachable, an error status, past the deadline,
    or nothing it wrote was supported. Answers fall back to the extractive answerer."""

    public = False
