"""Posting lists and query latency read from a Lucene impact index, in bulk on the Java side.

Whole-vocabulary statistics
---------------------------
Every term of the ``contents`` field with its document frequency (df, the posting-list
length) and Lucene's ``totalTermFreq``. Anserini's ``JsonVectorCollection`` repeats a term
``impact`` times, so for an impact index ``totalTermFreq`` is the term's **total impact**
(sum of its impacts over the collection); the tests check both against the exported
vectors.

How the walk stays on the Java side (what was weighed, in the Anserini 1.7.1 fat jar):

* ``io.anserini.util.ExtractTopDfTerms -index I -output F -k N [-field contents]`` walks
  every term in Java but writes only ``term<TAB>df<TAB>...``: no ``totalTermFreq``.
* Lucene's ``org.apache.lucene.misc.HighFreqTerms`` (df and totalTermFreq together) is
  not in the fat jar (no ``lucene-misc``).
* A ``TermsEnum`` loop, or Pyserini's ``LuceneIndexReader.terms()``, costs several
  Python-to-Java calls per term; those crossings dominate.
* What is used: Anserini's ``IndexReaderUtils.getTerms(reader)`` iterator (``contents``
  field; each ``IndexTerm`` carries term, df and totalTermFreq), drained on the Java side
  by Guava's ``Lists.newArrayList(iterator)`` and serialised by Jackson's
  ``ObjectMapper.writeValueAsString`` (both in the fat jar): two Java calls for the whole
  vocabulary and one JSON parse in Python (about 1 MB per 20,000 terms).
  That iterator peeks ahead inside ``hasNext()`` and seeks back, so it breaks when
  ``hasNext()`` is called twice in a row (Lucene then reads past a term block): wrappers
  such as Guava's ``Iterators.limit`` do exactly that, so the vocabulary is not chunked.

Latency
-------
:class:`LatencyProbe` times Lucene's top-k evaluation of each query on one thread: the
query is built beforehand exactly as ``SimpleImpactSearcher`` builds it (Anserini's
``BagOfWordsQueryGenerator`` over ``contents`` with the index's impact similarity), and
only ``IndexSearcher.search(query, k)`` is inside the timer, one Java call returning one
``TopDocs`` object, so hit conversion in Python is never timed.

>>> terms = read_index_terms("indexes/full")                   # doctest: +SKIP
>>> terms.num_terms, int(terms.df.sum()), terms.df_of(["web", "no-such-term"])   # doctest: +SKIP
(12674, 290311, array([412,   0]))
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from esplade_eval._io import Closing
from esplade_eval.artifacts import INDEX_MANIFEST, index_documents, is_sharded_index
from esplade_eval.lucene.index import check_index, opening_index, shard_paths, verify_index

FIELD = "contents"  # the field Anserini's impact indexes (and IndexReaderUtils.getTerms) use


def index_size_bytes(index: str | os.PathLike) -> int:
    """Bytes of the Lucene files in ``index`` (our index manifest and locks excluded; a sharded
    index: the sum over its shards)."""
    skip = {INDEX_MANIFEST, "write.lock"}
    return sum(p.stat().st_size for shard in shard_paths(index) for p in Path(shard).iterdir()
               if p.is_file() and p.name not in skip)


@dataclass
class IndexTerms:
    """Every term of an impact index with its df and total impact (numpy arrays, term order).

    ``num_docs`` is Lucene's document count; Anserini skips documents whose vector is empty,
    so it can be smaller than the exported collection (see :attr:`collection_documents`).
    """

    index: Path
    terms: list[str]
    df: np.ndarray  # int64, posting-list length per term
    total_impact: np.ndarray  # int64, Lucene totalTermFreq = sum of impacts
    num_docs: int
    size_bytes: int
    seconds: float = 0.0
    collection_documents: int | None = None  # documents in the exported collection, when recorded
    _lookup: dict[str, int] | None = field(default=None, repr=False)

    @property
    def num_terms(self) -> int:
        return len(self.terms)

    @property
    def documents(self) -> int:
        """Documents of the collection (empty vectors included) when known, else Lucene's count."""
        return self.collection_documents if self.collection_documents is not None else self.num_docs

    def position(self) -> dict[str, int]:
        """``{term: row}`` (built once)."""
        if self._lookup is None:
            self._lookup = {t: i for i, t in enumerate(self.terms)}
        return self._lookup

    def df_of(self, terms: Iterable[str]) -> np.ndarray:
        """Document frequency of each term, 0 for terms the index lacks."""
        pos = self.position()
        return np.array([self.df[pos[t]] if t in pos else 0 for t in terms], dtype=np.int64)

    def write_tsv(self, path: str | os.PathLike) -> None:
        """Every term as ``term<TAB>df<TAB>total_impact`` (a header first), atomically."""
        from esplade_eval._io import atomic_file

        with atomic_file(path) as fh:
            fh.write("term\tdf\ttotal_impact\n")
            for t, d, c in zip(self.terms, self.df.tolist(), self.total_impact.tolist()):
                fh.write(f"{t}\t{d}\t{c}\n")

    def as_dict(self) -> dict[str, tuple[int, int]]:
        """``{term: (df, total impact)}``: for tests and small indexes."""
        return {t: (int(d), int(c)) for t, d, c in zip(self.terms, self.df.tolist(), self.total_impact.tolist())}


def read_index_terms(index: str | os.PathLike) -> IndexTerms:
    """Read every term's df and total impact from ``index`` in a few Java calls (see module doc).

    A sharded index gives the sums over its shards (:func:`sum_index_terms`).
    """
    from esplade_eval.lucene.java import start

    if is_sharded_index(index):
        return sum_index_terms(Path(index), [read_index_terms(p) for p in shard_paths(index)])
    index = check_index(index)
    autoclass = start()
    utils = autoclass("io.anserini.index.IndexReaderUtils")
    lists = autoclass("com.google.common.collect.Lists")
    mapper = autoclass("com.fasterxml.jackson.databind.ObjectMapper")()
    started = time.perf_counter()
    with opening_index(index):
        reader = utils.getReader(str(index))
    try:
        verify_index(index, reader)
        num_docs = int(reader.numDocs())
        terms: list[str] = []
        dfs: list[int] = []
        totals: list[int] = []
        with opening_index(index):  # postings are read lazily: a corrupt term dictionary fails here
            rows = json.loads(mapper.writeValueAsString(lists.newArrayList(utils.getTerms(reader)))) \
                if _has_field(autoclass, reader) else []
        for row in rows:
            terms.append(row["term"])
            dfs.append(row["df"])
            totals.append(row["totalTF"])
    finally:
        reader.close()
    return IndexTerms(index=index, terms=terms, df=np.asarray(dfs, dtype=np.int64),
                      total_impact=np.asarray(totals, dtype=np.int64), num_docs=num_docs,
                      size_bytes=index_size_bytes(index), seconds=time.perf_counter() - started,
                      collection_documents=index_documents(index))


def sum_index_terms(index: Path, shards: list[IndexTerms]) -> IndexTerms:
    """One index's terms from its shards': df and total impact summed per term, terms in Lucene's order.

    Impact indexes keep no collection statistics, so a term's posting list over the whole
    collection is the concatenation of its shards' lists: these sums are exactly what a
    single index of the same documents holds (the tests compare term by term). Lucene orders
    terms by their UTF-8 bytes, which is Python's order of ``str`` (code points).
    """
    every = np.array([t for s in shards for t in s.terms], dtype=object)
    terms, inverse = np.unique(every, return_inverse=True) if every.size else (every, np.zeros(0, dtype=np.int64))
    df = np.zeros(len(terms), dtype=np.int64)
    total = np.zeros(len(terms), dtype=np.int64)
    np.add.at(df, inverse, np.concatenate([s.df for s in shards]) if shards else df[:0])
    np.add.at(total, inverse, np.concatenate([s.total_impact for s in shards]) if shards else total[:0])
    return IndexTerms(index=index, terms=terms.tolist(), df=df, total_impact=total,
                      num_docs=sum(s.num_docs for s in shards), size_bytes=sum(s.size_bytes for s in shards),
                      seconds=sum(s.seconds for s in shards), collection_documents=index_documents(index))


def _has_field(autoclass, reader) -> bool:
    # an index whose documents were all empty has no "contents" terms at all; getTerms would throw
    return autoclass("org.apache.lucene.index.MultiTerms").getTerms(reader, FIELD) is not None


class LatencyProbe(Closing):
    """Single-threaded, warm timing of top-``k`` impact queries on one index, or on a sharded one.

    On a sharded index each query is timed on every shard, one shard after the other, and
    then Lucene's ``TopDocs.merge`` of the shards' top ``k`` is timed; the query's latency
    is the slowest shard plus the merge (:attr:`LATENCY_MODEL`: what a query costs when the
    shards are searched in parallel, each on its own core), and the parts stay available as
    :attr:`shard_seconds` and :attr:`merge_seconds`.

    >>> with LatencyProbe("indexes/full") as probe:                       # doctest: +SKIP
    ...     times = probe.time({"q1": {"web": 120, "semantic": 80}}, k=1000, passes=5)
    >>> times["q1"].shape                                                  # doctest: +SKIP
    (5,)
    """

    LATENCY_MODEL = ("sharded: per query, the slowest shard's single-threaded top-k time (shards timed one after "
                     "another on this machine) plus Lucene's TopDocs.merge of the shards' top k")

    def __init__(self, index: str | os.PathLike):
        from esplade_eval.lucene.java import start

        index = check_index(index, allow_sharded=True)
        autoclass = start()
        self._HashMap = autoclass("java.util.HashMap")
        self._Float = autoclass("java.lang.Float")
        self._generator = autoclass("io.anserini.search.query.BagOfWordsQueryGenerator")()
        self._merge = autoclass("org.apache.lucene.search.TopDocs").merge
        self._shards = []
        for shard in shard_paths(index):
            with opening_index(shard):
                impact = autoclass("io.anserini.search.SimpleImpactSearcher")(str(shard))
                reader = autoclass("io.anserini.index.IndexReaderUtils").getReader(str(shard))
            verify_index(shard, reader)  # every shard's checksums: a flipped bit is an error, never a timing
            # no executor: Lucene evaluates the query on the calling thread only
            searcher = autoclass("org.apache.lucene.search.IndexSearcher")(reader)
            searcher.setSimilarity(impact.get_similarity())
            self._shards.append((impact, reader, searcher))
        self.index = index
        self.shard_seconds: np.ndarray | None = None  # (queries, shards, passes), sharded indexes only
        self.merge_seconds: np.ndarray | None = None  # (queries, passes)

    @property
    def sharded(self) -> bool:
        return len(self._shards) > 1

    def build(self, query: Mapping[str, int]):
        """The Lucene query Anserini builds for ``{term: impact}`` (None when the vector is empty)."""
        jq = self._HashMap()
        for term, weight in query.items():
            if weight > 0:
                jq.put(term, self._Float(float(weight)))
        return self._generator.buildQuery(FIELD, jq) if jq.size() else None

    def time(self, queries: Mapping[str, Mapping[str, int]], k: int = 1000, passes: int = 5,
             warmup: int = 2, progress=None) -> dict[str, np.ndarray]:
        """Seconds per query per timed pass: ``{qid: array(passes)}``.

        ``warmup`` untimed passes over all queries come first (JIT, page cache); each timed
        pass then runs every query once, in order, so a query's repetitions are spread
        over the run rather than back to back. An empty query times as 0. ``progress``, when
        given, is called with the number of queries after each pass (outside the timed calls).
        """
        if passes < 1:
            raise ValueError(f"passes must be >= 1, got {passes}")
        qids = list(queries)
        built = [self.build(queries[q]) for q in qids]
        k = int(k)
        for _ in range(warmup):
            for jq in built:
                if jq is not None:
                    self._timed(jq, k)
            if progress is not None:
                progress(len(qids))
        shards = np.zeros((len(qids), len(self._shards), passes), dtype=np.float64)
        merge = np.zeros((len(qids), passes), dtype=np.float64)
        for r in range(passes):
            for i, jq in enumerate(built):
                if jq is not None:
                    shards[i, :, r], merge[i, r] = self._timed(jq, k)
            if progress is not None:
                progress(len(qids))
        if self.sharded:
            self.shard_seconds, self.merge_seconds = shards, merge
        out = shards.max(axis=1) + merge
        return {q: out[i] for i, q in enumerate(qids)}

    def _timed(self, jq, k: int) -> tuple[list[float], float]:
        """Seconds of ``IndexSearcher.search`` on each shard, and of merging their ``TopDocs`` (0 for one index)."""
        clock = time.perf_counter_ns
        times, tops = [], []
        for _, _, searcher in self._shards:
            # bound right before the call: pyjnius binds one method object per class to the last instance
            search = searcher.search
            t0 = clock()
            top = search(jq, k)
            times.append((clock() - t0) * 1e-9)
            tops.append(top)
        if len(tops) == 1:
            return times, 0.0
        t0 = clock()
        self._merge(k, tops)
        return times, (clock() - t0) * 1e-9

    def close(self) -> None:
        for impact, reader, _ in self._shards:
            reader.close()
            impact.close()
