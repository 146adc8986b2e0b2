"""The bot process of the soak (benchmarks/soak.py): the real `newsbot discord` command, with
discord.py's Discord URLs pointed at the soak's fake Discord on 127.0.0.1 and a monitor on
the bot's event loop. Kept here rather than in the bot, so the bot's code carries nothing
of it.

Environment (set by soak.py; the bot's own settings come as usual, NEWSBOT_* and
DISCORD_TOKEN):

- SOAK_FAKE_DISCORD: the fake's root URL, http://127.0.0.1:PORT (required; loopback only).
- SOAK_STATS: a file to which the monitor appends one JSON line every SOAK_STATS_S seconds
  (default 1): the process id, the asyncio task count, the thread count, the resident
  memory, and the event loop's longest block since the last line — measured as the
  overshoot of a 50 ms sleep, so a callback that holds the loop for 300 ms shows as ~300 ms.
  Beside it, `<SOAK_STATS>.blocks`: for each block of the loop over 100 ms, where the loop's
  thread was once it had been held that long (a watchdog thread looks every 20 ms).

    SOAK_FAKE_DISCORD=http://127.0.0.1:PORT python benchmarks/soak_bot.py
"""

from __future__ import annotations

import asyncio
import faulthandler
import json
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TICK_S = 0.05  # the monitor's sleep: how finely a block of the loop is seen


def _rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Watchdog:
    """A thread that, when the loop has not ticked for BLOCK_S, writes down the loop
    thread's stack: what held it."""

    BLOCK_S = 0.1

    def __init__(self, path: Path) -> None:
        self.path = path
        self.beat = time.monotonic()
        self.loop_thread = threading.get_ident()
        threading.Thread(target=self._watch, name="soak-watchdog", daemon=True).start()

    def _watch(self) -> None:
        seen = 0.0
        while True:
            time.sleep(0.02)
            beat = self.beat
            if time.monotonic() - beat > self.BLOCK_S + TICK_S and beat != seen:
                seen = beat
                frame = sys._current_frames().get(self.loop_thread)
                stack = "".join(traceback.format_stack(frame)) if frame else "?"
                with self.path.open("a", encoding="utf-8") as out:
                    out.write(f"--- {time.time():.3f} pid {os.getpid()}\n{stack}")


async def monitor(path: Path, every_s: float) -> None:
    """Sleep TICK_S again and again; the time past it is how long something held the loop."""
    loop = asyncio.get_running_loop()
    watchdog = Watchdog(path.with_name(path.name + ".blocks"))
    worst = 0.0
    over_100ms = 0
    ticks = 0
    last = loop.time()
    with path.open("a", encoding="utf-8") as out:
        while True:
            started = loop.time()
            await asyncio.sleep(TICK_S)
            watchdog.beat = time.monotonic()
            lag = loop.time() - started - TICK_S
            worst = max(worst, lag)
            over_100ms += lag > 0.1
            ticks += 1
            if loop.time() - last >= every_s:
                record = {
                    "t": time.time(),
                    "pid": os.getpid(),
                    "tasks": len(asyncio.all_tasks()),
                    "threads": threading.active_count(),
                    "rss_kb": _rss_kb(),
                    "loop_block_max_ms": round(worst * 1000, 1),
                    "blocks_over_100ms": over_100ms,
                    "ticks": ticks,
                }
                out.write(json.dumps(record) + "\n")
                out.flush()
                worst, over_100ms, ticks, last = 0.0, 0, 0, loop.time()


def point_at_fake(root: str) -> None:
    """Every URL discord.py builds for REST, the gateway and the CDN: the fake's."""
    import yarl
    from discord.asset import Asset
    from discord.gateway import DiscordWebSocket
    from discord.http import Route

    if urlsplit(root).hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"SOAK_FAKE_DISCORD must be a loopback URL, not {root!r}")
    Route.BASE = f"{root}/api/v10"  # type: ignore[misc]
    Asset.BASE = root  # type: ignore[misc]
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(f"{root.replace('http', 'ws', 1)}/ws")


def install_monitor(path: Path, every_s: float) -> None:
    """Start `monitor` on the bot's own loop, once the bot is set up."""
    from bot.discord_bot.app import NewsBot

    setup_hook = NewsBot.setup_hook
    running: list[asyncio.Task[None]] = []

    async def setup_hook_and_monitor(self: NewsBot) -> None:
        await setup_hook(self)
        running.append(asyncio.get_running_loop().create_task(monitor(path, every_s)))

    NewsBot.setup_hook = setup_hook_and_monitor  # type: ignore[method-assign]


def main() -> None:
    root = os.environ.get("SOAK_FAKE_DISCORD")
    if not root:
        raise SystemExit("set SOAK_FAKE_DISCORD to the fake Discord's URL (benchmarks/soak.py)")
    point_at_fake(root)
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # a stack dump, for a hang
    if stats := os.environ.get("SOAK_STATS"):
        install_monitor(Path(stats), float(os.environ.get("SOAK_STATS_S", "1")))
    from bot.cli import main as newsbot

    newsbot(["discord"], prog_name="newsbot")


if __name__ == "__main__":
    main()
