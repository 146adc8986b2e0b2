"""What `newsbot export` and `newsbot import` cost (issue 17): the file's size with and without
vectors, and the time to export, to import with the file's vectors, and to import embedding
again — against the time the same articles took to ingest. One run, one machine.

    python benchmarks/export_import.py [--articles 300] [--json]

BBC articles from ../shared/data, ingested into an embedded store in a temporary folder on
the configured model (default: onnx), exported, imported into fresh embedded stores.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BBC = ROOT.parent / "shared" / "data" / "bbc_news.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from retrieval.build import build_service, load_embeddings
    from retrieval.config import Settings
    from retrieval.ingest.articles import article_from_dict

    with BBC.open(encoding="utf-8") as lines:
        records = [json.loads(line) for _, line in zip(range(args.articles), lines, strict=False)]
    articles = [article_from_dict(r) for r in records]
    result: dict[str, float] = {"articles": len(articles)}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)

        def service(name: str):  # type: ignore[no-untyped-def]
            settings = Settings(_env_file=None, data_dir=root / name)  # type: ignore[call-arg]
            return build_service(settings, embeddings=embeddings)

        embeddings = load_embeddings(Settings(_env_file=None, data_dir=root / "models"))  # type: ignore[call-arg]
        embeddings.encode(["warm up"])
        source = service("source")
        started = time.perf_counter()
        source.add_many(articles)
        result["ingest_s"] = time.perf_counter() - started
        result["chunks"] = source.store.count_chunks("default")
        for name, vectors in (("vectors", True), ("no_vectors", False)):
            started = time.perf_counter()
            source.export_kb(root / f"{name}.nbk", vectors=vectors)
            result[f"export_{name}_s"] = time.perf_counter() - started
            result[f"file_{name}_mb"] = (root / f"{name}.nbk").stat().st_size / 1e6
        for name in ("vectors", "no_vectors"):
            target = service(f"import-{name}")
            started = time.perf_counter()
            report = target.import_kb(root / f"{name}.nbk")
            result[f"import_{name}_s"] = time.perf_counter() - started
            assert report.added["article"] == len(source.list()), report.summary()
            target.close()
        source.close()
    result = {k: round(v, 2) for k, v in result.items()}
    if args.json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        print(f"{key:<24}{value:>10}")


if __name__ == "__main__":
    main()
