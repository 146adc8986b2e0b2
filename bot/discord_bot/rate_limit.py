"""A limit on questions: at most `limit` per key (a user, or a server) in any sliding window of
`window_s` seconds."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

__all__ = ["RateLimiter"]


class RateLimiter:
    """Keyed by one id: a user's (counted wherever they ask, so it holds under sharding), or a
    server's. Forgetting an idle key loses nothing but its count."""

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
        if self.limit <= 0:
            return 0.0
        now = self._clock()
        asked = self._asked.setdefault(user_id, deque())
        while asked and asked[0] <= now - self.window_s:
            asked.popleft()
        if len(asked) >= self.limit:
            return asked[0] + self.window_s - now
        asked.append(now)
        if len(self._asked) > 10_000:
            self._forget_idle(now)
        return 0.0

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
        for user_id in [u for u, times in self._asked.items() if times[-1] <= now - self.window_s]:
            del self._asked[user_id]
