"""Limits on what members do: at most `limit` per key (a user, or a server) in any sliding
window of `window_s` seconds — questions per minute, and adds (articles and feed follows) per
hour, each for a member and for their whole server."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = ["AddLimit", "LimitReached", "RateLimiter"]


class RateLimiter:
    """Keyed by one id: a user's (counted wherever they ask among this process's shards;
    several bot processes, each a range of shards, count apart), or a server's (on one shard,
    so exact). Forgetting an idle key loses nothing but its count."""

    def __init__(
        self, limit: int, *, window_s: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._asked: dict[int, deque[float]] = {}
        self._told: dict[int, float] = {}  # user -> when the limit they were told of lifts

    def acquire(self, user_id: int) -> float:
        """Count one question and return 0.0, or, over the limit, count nothing and return the
        seconds until the user may ask again. A limit of 0 means no limit."""
        if wait_s := self.wait_s(user_id):
            return wait_s
        if self.limit <= 0:
            return 0.0
        now = self._clock()
        self._asked.setdefault(user_id, deque()).append(now)
        if len(self._asked) > 10_000:
            self._forget_idle(now)
        return 0.0

    def wait_s(self, user_id: int) -> float:
        """The seconds until `user_id` may go on (0.0: at once), counting nothing."""
        if self.limit <= 0:
            return 0.0
        now = self._clock()
        asked = self._asked.get(user_id)
        if not asked:
            return 0.0
        while asked and asked[0] <= now - self.window_s:
            asked.popleft()
        return asked[0] + self.window_s - now if len(asked) >= self.limit else 0.0

    def first_refusal(self, user_id: int, wait_s: float) -> bool:
        """Whether a refusal of `user_id`, who must wait `wait_s`, is the first since they
        hit the limit: only that one gets a notice (the rest a reaction), so a flood of
        questions is not answered by a flood of notices."""
        now = self._clock()
        if now < self._told.get(user_id, 0.0):
            return False
        self._told[user_id] = now + wait_s
        if len(self._told) > 10_000:
            self._told = {u: t for u, t in self._told.items() if t > now}
        return True

    def _forget_idle(self, now: float) -> None:
        """Drop users with nothing in the window, so the map stays as small as the active set."""
        idle = [
            u for u, times in self._asked.items() if not times or times[-1] <= now - self.window_s
        ]
        for user_id in idle:
            del self._asked[user_id]


@dataclass(frozen=True)
class LimitReached:
    """An add refused: whose limit it was (the member's or the whole server's), that limit, and
    the seconds until the oldest add it counts leaves the window."""

    scope: Literal["user", "server"]
    limit: int
    wait_s: float


class AddLimit:
    """Adds — /add_article and /follow_feed alike, each of which makes the bot fetch — per
    member (wherever they add) and per server, in a sliding hour. Both limits are looked at
    before either counts, so an add refused by one is not charged to the other."""

    def __init__(
        self,
        per_user: int,
        per_server: int,
        *,
        window_s: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.users = RateLimiter(per_user, window_s=window_s, clock=clock)
        self.servers = RateLimiter(per_server, window_s=window_s, clock=clock)

    def acquire(self, user_id: int, guild_id: int) -> LimitReached | None:
        """Count one add and return None, or count nothing and say which limit was reached."""
        if wait_s := self.users.wait_s(user_id):
            return LimitReached("user", self.users.limit, wait_s)
        if wait_s := self.servers.wait_s(guild_id):
            return LimitReached("server", self.servers.limit, wait_s)
        self.users.acquire(user_id)
        self.servers.acquire(guild_id)
        return None
