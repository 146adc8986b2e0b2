"""Where passages live and how they are found: the Chroma store, the BM25 index, the embedding
backends, and the hybrid retriever (a LangChain `BaseRetriever`)."""
