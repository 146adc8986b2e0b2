"""The tutorial setup every figure is compared with: LangChain's RecursiveCharacterTextSplitter
(1000 characters, 200 overlap) and Chroma similarity top-k, same embedding model. With no
language model, its "answer" is the top passage, and it never abstains."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from retrieval.types import Article

__all__ = ["TutorialBaseline"]


class TutorialBaseline:
    name = "baseline"

    def __init__(self, embeddings: Any, directory: Path) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
        from langchain_chroma import Chroma

        client = chromadb.PersistentClient(
            path=str(directory), settings=ChromaSettings(anonymized_telemetry=False)
        )
        self._db = Chroma(client=client, collection_name="baseline", embedding_function=embeddings)

    def build(self, articles: Sequence[Article]) -> int:
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
        documents = splitter.create_documents(
            [a.text for a in articles], metadatas=[{"article_id": a.id} for a in articles]
        )
        for offset in range(0, len(documents), 5000):
            self._db.add_documents(documents[offset : offset + 5000])
        return len(documents)

    def search(self, question: str, k: int) -> list[str]:
        return [d.page_content for d in self._db.similarity_search(question, k=k)]
