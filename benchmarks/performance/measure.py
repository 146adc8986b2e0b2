"""Measuring helpers: percentiles, memory, the machine, and running a probe in a fresh process."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), linear between ranks, as numpy's default."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def rss_mb() -> float:
    """Resident memory of this process now."""
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    """The most resident memory this process has had (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class MemorySampler:
    """Samples resident memory every `interval` seconds on a thread, between start and stop."""

    def __init__(self, interval: float = 0.25) -> None:
        self.interval = interval
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        started = time.perf_counter()
        while not self._stop.is_set():
            self.samples.append((time.perf_counter() - started, rss_mb()))
            self._stop.wait(self.interval)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def by_quarter(self) -> list[float]:
        """Peak memory in each quarter of the sampled time: flat when memory does not grow."""
        if not self.samples:
            return []
        end = self.samples[-1][0] or 1.0
        quarters = [0.0] * 4
        for at, mb in self.samples:
            index = min(3, int(4 * at / end))
            quarters[index] = max(quarters[index], mb)
        return [round(q, 1) for q in quarters]


def machine() -> dict[str, Any]:
    model = platform.processor() or platform.machine()
    memory_gb = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory_gb = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": memory_gb,
        "os": platform.platform(),
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("torch", "sentence-transformers", "onnxruntime", "chromadb", "newsbot"):
        with contextlib.suppress(PackageNotFoundError):
            found[name] = version(name)
    return found


def probe_environment(data_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of a probe process: its own data dir, nothing sent anywhere."""
    env = {
        **os.environ,
        "NEWSBOT_DATA_DIR": str(data_dir),
        "ANONYMIZED_TELEMETRY": "False",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    env.pop("NEWSBOT_CHROMA_URL", None)
    env.update({f"NEWSBOT_{k.upper()}": v for k, v in settings.items()})
    return env


def run_probe(module: str, args: list[str], env: dict[str, str], out: Path) -> dict[str, Any]:
    """Run `python -m benchmarks.performance.<module>` in a fresh process; its JSON result
    (written to `out`) with the process's wall time from spawn to exit."""
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", f"benchmarks.performance.{module}", *args, "--out", str(out)],
        cwd=ROOT,
        env={**env, "NEWSBOT_BENCH_SPAWNED_AT": repr(time.time())},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    wall = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"probe {module} failed:\n{completed.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.read_text("utf-8"))
    result["process_wall_s"] = wall
    return result


def write_result(path: Path, result: dict[str, Any]) -> None:
    path.write_text(json.dumps(result, indent=2), "utf-8")
