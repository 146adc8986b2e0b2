"""The bench's results as text for a terminal, and as Markdown for the README."""

from __future__ import annotations

from typing import Any


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def _rows(result: dict[str, Any]) -> list[tuple[str, str]]:
    growth = result.get("growth", {})
    rows = [
        (
            "raw encode (sentence-transformers), chunks/s",
            _fmt(result.get("raw_encode_chunks_per_s"), 1),
        ),
        ("newsbot ingest, chunks/s", _fmt(result.get("ingest_chunks_per_s"), 1)),
        ("ingest / raw", _fmt(result.get("ingest_ratio"))),
        (
            "ingest, default backend / torch (batch by batch)",
            _fmt(result.get("ingest_speedup_vs_torch")),
        ),
        ("onnx-int8 / torch throughput", _fmt(result.get("onnx_speedup"))),
        (
            "  / torch at 64 a batch (the old default)",
            _fmt(result.get("onnx_speedup_vs_torch_batch_64")),
        ),
        (
            "onnx-int8 vs torch, mean (min) cosine",
            f"{_fmt(result.get('onnx_mean_cosine'), 4)} ({_fmt(result.get('onnx_min_cosine'), 4)})",
        ),
    ]
    for step in growth.values():
        query = step["query"]
        rows.append(
            (
                f"query p50 / p95 at {step['chunks']:,} chunks, ms",
                f"{_fmt(query['p50_ms'], 1)} / {_fmt(query['p95_ms'], 1)}",
            )
        )
        served = step.get("query_server")
        if served:
            rows.append(
                (
                    "  the same through a `chroma run` server, ms",
                    f"{_fmt(served['p50_ms'], 1)} / {_fmt(served['p95_ms'], 1)}",
                )
            )
    if "query_p95_ms_100k_onnx" in result:
        rows.append(
            (
                "  the same, largest store, onnx-int8 backend, ms",
                f"{_fmt(result['query_p50_ms_100k_onnx'], 1)} / "
                f"{_fmt(result['query_p95_ms_100k_onnx'], 1)}",
            )
        )
    parts = result.get("query_parts_p50_ms_100k")
    if parts:
        rows.append(
            (
                "  where a query on the largest store goes (p50 ms)",
                ", ".join(f"{k} {v:.1f}" for k, v in parts.items()),
            )
        )
    rows += [
        ("newsbot --help, s", _fmt(result.get("help_s"))),
        (
            "cold newsbot ask (the 10k store, default onnx backend), s",
            _fmt(result.get("cold_ask_s"), 1),
        ),
    ]
    cold = result.get("cold_ask_parts_s")
    if cold:
        rows.append(("  parts, s", ", ".join(f"{k} {v:.2f}" for k, v in cold.items())))
    if "cold_ask_s_torch" in result:
        rows.append(("cold newsbot ask, torch backend, s", _fmt(result["cold_ask_s_torch"], 1)))
    if "cold_ask_s_onnx" in result:
        rows.append(("cold newsbot ask, onnx-int8 backend, s", _fmt(result["cold_ask_s_onnx"], 1)))
    rows += [
        ("peak memory, ingest, MB", _fmt(result.get("peak_rss_mb_ingest"), 0)),
        ("  by quarter of the ingest, MB", _fmt(result.get("rss_mb_by_quarter_of_ingest"))),
        (
            "peak memory, bot process on the largest store, MB",
            _fmt(result.get("peak_rss_mb_100k"), 0),
        ),
    ]
    sizes = {label: step["chunks"] for label, step in growth.items()}
    for key, what in (("rss", "query process memory"), ("disk", "store on disk")):
        by_size = result.get(f"{key}_mb_per_1k_passages_by_size") or {}
        if by_size:
            rows.append(
                (
                    f"{what} per 1,000 passages, MB",
                    ", ".join(
                        f"{_fmt(mb)} at {sizes.get(label, 0):,}" for label, mb in by_size.items()
                    ),
                )
            )
        marginal = result.get(f"{key}_mb_per_1k_passages_marginal")
        if marginal is not None:
            rows.append(("  each 1,000 more (two largest sizes), MB", _fmt(marginal)))
    return rows


def render_text(result: dict[str, Any]) -> str:
    rows = _rows(result)
    width = max(len(name) for name, _ in rows) + 2
    lines = [f"{name:<{width}}{value}" for name, value in rows]
    lines.append("")
    lines.append("goals:")
    for goal in result.get("goals", []):
        mark = {True: "met", False: "NOT met", None: "not measured"}[goal["met"]]
        lines.append(f"  {goal['what']}: {_fmt(goal['measured'], 3)} (goal {goal['goal']}) {mark}")
    machine = result.get("machine", {})
    lines.append(
        f"\nmachine: {machine.get('cores')} cores, {machine.get('cpu_model')}, load "
        f"{machine.get('load_average_at_start')} -> {machine.get('load_average_at_end')}; "
        f"{result.get('seconds')} s"
    )
    if result.get("plot"):
        lines.append(f"plot: {result['plot']}")
    return "\n".join(lines)


def render_markdown(result: dict[str, Any]) -> str:
    lines = ["| measure | figure |", "|---|---|"]
    lines += [f"| {name.strip()} | {value} |" for name, value in _rows(result)]
    lines += ["", "| goal | measured | met |", "|---|---|---|"]
    for goal in result.get("goals", []):
        met = {True: "yes", False: "**no**", None: "-"}[goal["met"]]
        lines.append(f"| {goal['what']} {goal['goal']} | {_fmt(goal['measured'], 3)} | {met} |")
    return "\n".join(lines)
