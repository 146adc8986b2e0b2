"""`newsbot ask` from a cold process, in its parts: the interpreter's start (from the spawn,
whose time the bench passes in), imports (the CLI and the service), store open (settings,
Chroma, the lexical index), model load (the first encode loads it), the first answer, and
the process's exit (the bench's wall time minus the rest; it ends as `newsbot` does, by
`bot.cli.finish`)."""

from __future__ import annotations

import os
import time

STARTED_AT = time.time()
STARTED = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--question", required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    t0 = time.perf_counter()
    from bot.cli import main as _cli  # noqa: F401  (what `newsbot` imports first)
    from bot.render import render_answer
    from retrieval.build import build_service
    from retrieval.config import Settings

    t1 = time.perf_counter()
    service = build_service(Settings())
    t2 = time.perf_counter()
    service.embeddings.encode(["warm up"])
    t3 = time.perf_counter()
    answer = service.ask(args.question)
    render_answer(answer)
    t4 = time.perf_counter()
    service.close()
    spawned_at = float(os.environ.get("NEWSBOT_BENCH_SPAWNED_AT", STARTED_AT))
    parts = {
        "interpreter_start": STARTED_AT - spawned_at + (t0 - STARTED),
        "imports": t1 - t0,
        "store_open": t2 - t1,
        "model_load": t3 - t2,
        "first_answer": t4 - t3,
    }
    args.out.write_text(
        json.dumps({"parts_s": parts, "in_process_s": t4 - STARTED, "abstained": answer.abstained})
    )


if __name__ == "__main__":
    main()
    from bot.cli import finish

    finish(0)
