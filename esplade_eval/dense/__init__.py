"""Dense retrieval with faiss: indexes of embeddings, kept with a manifest, searched exactly
(flat inner product) or approximately (HNSW, IVF) with their recall against flat."""
