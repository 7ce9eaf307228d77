"""How models run on this machine, shared by the embedder (ingestion) and the reranker (retrieval):
thread counts, ONNX export and sessions, padded batches. The lowest layer: no app imports here."""
