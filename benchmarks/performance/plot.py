"""How cost grows: ingest time, query latency, and memory and disk against the number of
chunks, as a PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def scaling_points(result: dict[str, Any]) -> dict[str, list[float]]:
    """The series the plot draws (also useful without matplotlib)."""
    growth = result["growth"]
    labels = list(growth)
    served = [step for step in growth.values() if "query_server" in step]
    measured = [step for step in served if step["query_server"].get("server_peak_rss_mb")]
    chunks = [float(growth[label]["chunks"]) for label in labels]
    store_s = [float(growth[label]["store_write_s"]) for label in labels]
    # Embedding is what ingest spends beyond the store side, at the rate measured for the
    # corpus; it grows linearly with the chunks.
    ingested = float(result["ingest_stored_chunks"])
    embed_per_chunk = max(0.0, result["ingest_s"] - _store_s_at(growth, ingested)) / ingested
    return {
        "chunks": chunks,
        "store_write_s": store_s,
        "projected_ingest_s": [
            s + n * embed_per_chunk for n, s in zip(chunks, store_s, strict=True)
        ],
        "measured_ingest_chunks": [ingested],
        "measured_ingest_s": [float(result["ingest_s"])],
        "query_p50_ms": [float(growth[label]["query"]["p50_ms"]) for label in labels],
        "query_p95_ms": [float(growth[label]["query"]["p95_ms"]) for label in labels],
        # the same questions through a `chroma run` server (runs before it have none)
        "server_chunks": [float(step["chunks"]) for step in served],
        "server_query_p50_ms": [float(step["query_server"]["p50_ms"]) for step in served],
        "server_query_p95_ms": [float(step["query_server"]["p95_ms"]) for step in served],
        # the asking process's and the server's peak memory, and the store folder's size
        "rss_mb": [float(growth[label]["query"]["peak_rss_mb"]) for label in labels],
        "server_rss_chunks": [float(step["chunks"]) for step in measured],
        "server_rss_mb": [float(step["query_server"]["server_peak_rss_mb"]) for step in measured],
        "disk_mb": [float(growth[label]["disk_mb"]) for label in labels],
    }


def _store_s_at(growth: dict[str, Any], chunks: float) -> float:
    """The store-side time at `chunks`, interpolated between the measured sizes."""
    points = sorted((float(g["chunks"]), float(g["store_write_s"])) for g in growth.values())
    previous = (0.0, 0.0)
    for n, seconds in points:
        if chunks <= n:
            share = (chunks - previous[0]) / max(n - previous[0], 1.0)
            return previous[1] + share * (seconds - previous[1])
        previous = (n, seconds)
    return points[-1][1] * chunks / points[-1][0]


def plot_scaling(result: dict[str, Any], path: Path) -> Path | None:
    """Write the plot; None (and no file) when matplotlib is not installed (`make bench`
    installs it)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    points = scaling_points(result)
    figure, (left, right, third) = plt.subplots(1, 3, figsize=(16, 4.4), dpi=110)
    left.plot(points["chunks"], points["projected_ingest_s"], "o--", label="ingest (projected)")
    left.plot(points["chunks"], points["store_write_s"], "s-", label="store side only (measured)")
    left.plot(
        points["measured_ingest_chunks"],
        points["measured_ingest_s"],
        "*",
        markersize=14,
        label="newsbot ingest (measured)",
    )
    left.set(xscale="log", yscale="log", xlabel="chunks", ylabel="seconds", title="Ingest time")
    left.legend(fontsize=8)
    right.plot(points["chunks"], points["query_p50_ms"], "o-", label="p50, embedded")
    right.plot(points["chunks"], points["query_p95_ms"], "s-", label="p95, embedded")
    if points["server_chunks"]:
        right.plot(
            points["server_chunks"], points["server_query_p50_ms"], "o--", label="p50, server"
        )
        right.plot(
            points["server_chunks"], points["server_query_p95_ms"], "s--", label="p95, server"
        )
    if "query_p95_ms_100k_onnx" in result:
        right.plot(
            [float(result["growth"]["100k"]["chunks"])],  # (measured at 100k only)
            [result["query_p95_ms_100k_onnx"]],
            "D",
            label="p95, onnx-int8 backend",
        )
    right.axhline(60, color="grey", linestyle=":", label="goal: p95 60 ms at 100k")
    right.set(
        xscale="log",
        xlabel="chunks",
        ylabel="ms",
        title="Query (retrieve + answer): embedded, and via chroma run",
    )
    right.set_ylim(bottom=0)
    right.legend(fontsize=8)
    third.plot(points["chunks"], points["rss_mb"], "o-", label="query process, peak memory")
    if points["server_rss_chunks"]:
        third.plot(
            points["server_rss_chunks"],
            points["server_rss_mb"],
            "o--",
            label="chroma run, peak memory",
        )
    third.plot(points["chunks"], points["disk_mb"], "s-", label="store folder on disk")
    largest = list(result["growth"])[-1]
    third.set(
        xscale="log",
        yscale="log",
        xlabel="chunks",
        ylabel="MB",
        title=f"Memory and disk: {result.get('rss_mb_per_1k_passages', 0):.1f} and "
        f"{result.get('disk_mb_per_1k_passages', 0):.1f} MB per 1,000 passages at {largest}",
    )
    third.title.set_fontsize(9)
    third.legend(fontsize=8)
    info = result.get("machine", {})
    figure.suptitle(
        f"newsbot on {info.get('cores')} cores ({info.get('cpu_model')}); load average "
        f"{info.get('load_average_at_start', ['?'])[0]} at start, "
        f"{info.get('load_average_at_end', ['?'])[0]} at end"
        + (" — quick run (a tenth of the size)" if result.get("quick") else ""),
        fontsize=9,
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path
