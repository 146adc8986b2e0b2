"""Which bot message answered what, so that replying to an answer continues its conversation."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from retrieval.types import Turn

__all__ = ["ConversationLog"]


@dataclass(frozen=True)
class _Answered:
    turn: Turn
    follows: int | None  # id of the answer message this one was a follow-up to


class ConversationLog:
    """A bounded, in-memory map from answer message ids to the turn they answered.

    A reply names the message it answers, so following `follows` links from the replied-to
    answer rebuilds the conversation as the user sees it in the reply chain. Kept in memory on
    purpose: Discord delivers a server's messages to one shard, so one process sees a whole
    chain; after a restart a reply simply starts a fresh conversation.
    """

    def __init__(self, *, max_messages: int = 5000, max_turns: int = 8) -> None:
        self.max_messages = max_messages
        self.max_turns = max_turns
        self._answers: OrderedDict[int, _Answered] = OrderedDict()

    def __contains__(self, message_id: object) -> bool:
        return message_id in self._answers

    def __len__(self) -> int:
        return len(self._answers)

    def remember(self, message_ids: Iterable[int], turn: Turn, *, follows: int | None) -> None:
        """Record that the messages `message_ids` (one answer, maybe split) answered `turn`."""
        answered = _Answered(turn, follows)
        for message_id in message_ids:
            self._answers[message_id] = answered
            self._answers.move_to_end(message_id)
        while len(self._answers) > self.max_messages:
            self._answers.popitem(last=False)

    def history(self, message_id: int | None) -> list[Turn]:
        """The turns up to and including the answer `message_id`, oldest first ([] if unknown)."""
        turns: list[Turn] = []
        seen: set[int] = set()
        while message_id is not None and message_id not in seen and len(turns) < self.max_turns:
            answered = self._answers.get(message_id)
            if answered is None:
                break
            seen.add(message_id)
            turns.append(answered.turn)
            message_id = answered.follows
        return turns[::-1]
