"""``ascent learn reranker``: a cross-encoder reranker trained from the packaged MiniLM on
Jeopardy clues with hard negatives mined by our own hybrid search, evaluated with the RAG
harness and published as ``reranker-jeopardy``, the reranker retrieval loads by default."""
