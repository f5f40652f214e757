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
from esplade_eval.artifacts import INDEX_MANIFEST, index_documents
from esplade_eval.lucene.index import check_index, opening_index, verify_index

FIELD = "contents"  # the field Anserini's impact indexes (and IndexReaderUtils.getTerms) use


def index_size_bytes(index: str | os.PathLike) -> int:
    """Bytes of the Lucene files in ``index`` (our index manifest and locks excluded)."""
    skip = {INDEX_MANIFEST, "write.lock"}
    return sum(p.stat().st_size for p in Path(index).iterdir() if p.is_file() and p.name not in skip)


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
    """Read every term's df and total impact from ``index`` in a few Java calls (see module doc)."""
    from esplade_eval.lucene.java import start

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


def _has_field(autoclass, reader) -> bool:
    # an index whose documents were all empty has no "contents" terms at all; getTerms would throw
    return autoclass("org.apache.lucene.index.MultiTerms").getTerms(reader, FIELD) is not None


class LatencyProbe(Closing):
    """Single-threaded, warm timing of top-``k`` impact queries on one index.

    >>> with LatencyProbe("indexes/full") as probe:                       # doctest: +SKIP
    ...     times = probe.time({"q1": {"web": 120, "semantic": 80}}, k=1000, passes=5)
    >>> times["q1"].shape                                                  # doctest: +SKIP
    (5,)
    """

    def __init__(self, index: str | os.PathLike):
        from esplade_eval.lucene.java import start

        index = check_index(index)
        autoclass = start()
        self._HashMap = autoclass("java.util.HashMap")
        self._Float = autoclass("java.lang.Float")
        with opening_index(index):
            self._impact = autoclass("io.anserini.search.SimpleImpactSearcher")(str(index))
            self._reader = autoclass("io.anserini.index.IndexReaderUtils").getReader(str(index))
        verify_index(index, self._reader)
        self._generator = autoclass("io.anserini.search.query.BagOfWordsQueryGenerator")()
        # no executor: Lucene evaluates the query on the calling thread only
        self._searcher = autoclass("org.apache.lucene.search.IndexSearcher")(self._reader)
        self._searcher.setSimilarity(self._impact.get_similarity())
        self.index = index

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
        search = self._searcher.search
        clock = time.perf_counter_ns
        k = int(k)
        for _ in range(warmup):
            for jq in built:
                if jq is not None:
                    search(jq, k)
            if progress is not None:
                progress(len(qids))
        out = np.zeros((len(qids), passes), dtype=np.float64)
        for r in range(passes):
            for i, jq in enumerate(built):
                if jq is None:
                    continue
                t0 = clock()
                search(jq, k)
                out[i, r] = (clock() - t0) * 1e-9
            if progress is not None:
                progress(len(qids))
        return {q: out[i] for i, q in enumerate(qids)}

    def close(self) -> None:
        self._reader.close()
        self._impact.close()
