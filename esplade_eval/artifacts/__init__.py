"""The artifacts on disk, in one place: where each lives, what it is called, what it records.

Every other module asks this package for a path, a name or a manifest, and the one
compatibility check lives here, so a change to the layout is made once. One job a module:
what artifacts are called (:mod:`~esplade_eval.artifacts.names`, with the command line's
``NAME=PATH`` rule), where a flow puts them (:mod:`~esplade_eval.artifacts.layout`), what
they record (:mod:`~esplade_eval.artifacts.manifests`, shard metadata included) and the
encoding check (:mod:`~esplade_eval.artifacts.encodings`); every public name is exported here.

A flow folder (``esplade-eval flow --out OUT``, :class:`FlowLayout`)::

    OUT/data/                          the prepared collection (esplade_eval.data.prepared)
    OUT/vectors/<level>/               an export level folder (below)
    OUT/indexes/<level>/               a Lucene impact index with its index manifest
    OUT/runs/run.<split>.<level>.txt   a TREC run, tagged esplade_<level>
    OUT/plots/

An export level folder (``esplade-eval export --out OUT`` writes ``OUT/<level>/``)::

    manifest.json                      the export manifest (what produced the vectors)
    collection/docs00000.jsonl ...     the Anserini JsonVectorCollection
    queries.<name>.jsonl               pre-encoded queries (Pyserini's format), every line
                                       carrying its encoding under "encoding"

An index folder holds Lucene's files and ``esplade_eval.json``, the index manifest (what
indexing counted, and a copy of the export manifest). A sharded index
(``esplade-eval index --shards N``, :mod:`esplade_eval.lucene.shards`) is what every verb
accepts as "an index" too::

    INDEX/esplade_eval.json            format esplade_eval/sharded-index/1: the shards, counts,
                                       the export manifest
    INDEX/shard-000/ ...               a complete Lucene impact index with its own index manifest

**Encoding**: what must agree between queries and documents for an impact score to mean
anything (checkpoint content hash, max length, vocabulary size, quantisation), plus what
names an artifact (pruning, the corpus' SHA-256). :func:`encoding` builds it,
:func:`encoding_of` reads it from an export manifest, and :func:`mismatches` /
:func:`check_compatible` compare two, field by field: the search refuses queries and the
flow rebuilds an artifact with that one comparison.

>>> run_file("test", "d8-q4"), run_tag("d8-q4"), topics_name("data/topics.test.tsv")
('run.test.d8-q4.txt', 'esplade_d8-q4', 'test')
>>> FlowLayout("out").run("test", "full").as_posix()
'out/runs/run.test.full.txt'
>>> split_named("bm25=runs/a.txt"), split_named("runs/a.txt")
(('bm25', 'runs/a.txt'), (None, 'runs/a.txt'))
"""

from esplade_eval.artifacts.encodings import (
    ENCODING_FIELDS,
    FIELD_LABELS,
    LEVEL_FIELDS,
    QUERY_ENCODING,
    QUERY_FIELDS,
    check_compatible,
    encoding,
    encoding_of,
    mismatches,
    query_encoding,
    read_encoding,
)
from esplade_eval.artifacts.layout import FlowLayout
from esplade_eval.artifacts.manifests import (
    EXPORT_FORMAT,
    EXPORT_MANIFEST_FIELDS,
    SHARDED_INDEX_FORMAT,
    check_export_manifest,
    find_export_manifest,
    index_documents,
    index_export_manifest,
    index_shards,
    is_sharded_index,
    level_collection,
    new_export_manifest,
    read_export_manifest,
    read_index_manifest,
    write_export_manifest,
    write_index_manifest,
)
from esplade_eval.artifacts.names import (
    COLLECTION_DIR,
    EXPORT_MANIFEST,
    INDEX_MANIFEST,
    RUN_SUFFIXES,
    default_run,
    named,
    queries_file,
    queries_name,
    run_file,
    run_name,
    run_tag,
    shard_file_name,
    shard_name,
    split_named,
    topics_name,
)

__all__ = [
    "COLLECTION_DIR", "ENCODING_FIELDS", "EXPORT_FORMAT", "EXPORT_MANIFEST", "EXPORT_MANIFEST_FIELDS",
    "FIELD_LABELS", "INDEX_MANIFEST", "LEVEL_FIELDS", "QUERY_ENCODING", "QUERY_FIELDS", "RUN_SUFFIXES",
    "SHARDED_INDEX_FORMAT", "FlowLayout", "check_compatible", "check_export_manifest", "default_run", "encoding",
    "encoding_of", "find_export_manifest", "index_documents", "index_export_manifest", "index_shards",
    "is_sharded_index", "level_collection", "mismatches", "named", "new_export_manifest", "queries_file",
    "queries_name", "query_encoding", "read_encoding", "read_export_manifest", "read_index_manifest", "run_file",
    "run_name", "run_tag", "shard_file_name", "shard_name", "split_named", "topics_name", "write_export_manifest",
    "write_index_manifest",
]
