"""Past one machine on Ray: distributed export, sharded index builds, merged search over shards.

Impact scores use no collection statistics, so nothing here approximates: a collection
encoded shard by shard on a pool of workers is byte for byte the single-process export, a
sharded index searched shard by shard and merged by (-score, docid) gives the single
index's run, and posting-list lengths add up across shards.

Ray is imported lazily, by these modules only, and only by the verbs that are asked to use
it (``export --ray``, ``index --ray``, ``search --ray``); the sharded-index logic itself
lives in :mod:`esplade_eval.lucene.shards` and runs without Ray.
"""
