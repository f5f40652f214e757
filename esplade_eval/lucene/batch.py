"""Batch top-k search inside the JVM: hits come back in bulk, never one by one.

Why this exists. Anserini's searchers (``SimpleImpactSearcher``, ``SimpleSearcher``,
``SearchCollection``: everything Pyserini calls) build every hit by loading its stored
Lucene document to read the id, a decompression of a stored-fields block per hit (about
20 µs), and through pyjnius each hit then costs bridge crossings per attribute read. For
873 queries x 1,000 hits that was ~30 s around well under a second of Lucene work. Here,
per query, Lucene is called once (``IndexSearcher.search``: top hits by score, ties by
Lucene document number) and Jackson (inside Anserini's fat jar) serialises the whole
``TopDocs`` into one string, ``[[doc,score],...]``; document numbers become ids through
a table read once per index from the ``id`` doc values. Nothing is compiled: only classes
of the jar are used, configured from Python.

Ranking, identical to what the in-process searchers returned (tested byte for byte):

* hits are ordered by (-score, id), ids compared as strings (Lucene compares their UTF-8
  bytes: the same order);
* a tie at the cut-off is resolved by fetching deeper (:mod:`~esplade_eval.lucene.ties`):
  ``k + tie_margin(k)`` hits are fetched and, while the k-th and the last of them tie, twice as many, so the top ``k``
  never depends on the order of documents inside the index;
* on an index written by Lucene 9, scores are then adjusted exactly as Anserini's
  ``ScoreTiesAdjusterReranker`` adjusts them (rounded to 1e-4, then ``1e-6 * i``
  subtracted in float32 from the i-th repeat of a score), because that is what Anserini's
  searchers, hence Pyserini and this toolkit's earlier runs, return; on an older index
  Anserini leaves scores alone, and so does this module.

Threads: pyjnius releases the GIL inside Java calls, so ``threads`` Python threads run
Lucene and Jackson concurrently, while the calling thread turns their strings into ranked
hits, a chunk of queries at a time (a few numpy calls per chunk, not per hit). Workers
call only methods of objects created beforehand and shared (one ``IndexSearcher``, one
``ObjectMapper``, both thread-safe in Java): pyjnius keeps one method object per class,
bound to the last instance used, so every thread must use the same instance.
"""

from __future__ import annotations

import base64
import logging
import os
import queue
import re
import threading
from itertools import islice
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from esplade_eval._io import Closing
from esplade_eval.lucene.index import check_index, opening_index, verify_index
from esplade_eval.lucene.ties import anserini_tie_scores, tie_margin

log = logging.getLogger(__name__)

ID_FIELD = "id"  # Anserini's Constants.ID
# a FieldDoc of the id table: {"doc":12,"fields":[12,{"bytes":"ZDE...","length":13,"offset":0,...
_ID_HIT = re.compile(r'"doc":(\d+),"fields":\[\d+,\{"bytes":"([^"]*)","length":(\d+),"offset":(\d+)')
ID_PAGE = 65536  # documents per page of the id table (bounded JVM and Python memory)
CHUNK = 64  # queries post-processed together

Hits = list[tuple[str, float]]
Ranked = tuple[list[str], list[float]]


def heap_for_index(index: str | os.PathLike) -> str:
    """A JVM heap (``-Xmx``) for searching ``index``: 256 MiB + half the index size, at most 4 GiB.

    Lucene reads postings, doc values and term dictionaries through memory-mapped files,
    outside the heap; what lives on the heap is the JVM's classes (Anserini's jar loads
    many), per-segment structures and live-document bits growing with the index, a page
    of the id table (``ID_PAGE`` documents) and a ``TopDocs`` and its JSON per thread. On
    the demo's index (1 MB) this gives 256 MiB; the whole process then peaks near 150 MiB.
    """
    from esplade_eval.lucene.postings import index_size_bytes

    mib = 256 + index_size_bytes(index) // (2 * 2 ** 20)
    return f"{min(mib, 4096)}m"


QUICK_JIT_BELOW = 256 * 2 ** 20  # index bytes under which the JVM compiles with C1 only


def quick_jit_options(index: str | os.PathLike) -> list[str]:
    """JVM options for a process that only searches ``index``: C1 only (``-XX:TieredStopAtLevel=1``) when small.

    On a small index each query is a fraction of a millisecond of Lucene, and the
    optimising C2 compiler costs more CPU than it saves: for the demo's 873 queries x
    1,000 hits the process took 7.0 s of CPU with C2 and 4.4 s with C1 only (at 4x the
    queries, 17.8 s vs 13.5 s). On a large index Lucene's hot loops dominate and deserve
    C2. Only for a JVM that does nothing else: C1 code would also slow (and distort) the
    latency the ``cost`` stage measures later in the same process (the demo, the grid).
    """
    from esplade_eval.lucene.postings import index_size_bytes

    return ["-XX:TieredStopAtLevel=1"] if index_size_bytes(index) < QUICK_JIT_BELOW else []


class BatchSearcher(Closing):
    """Top-``k`` search of many Lucene queries on one index, results read in bulk.

    ``similarity``: ``"impact"`` (Anserini's ``ImpactSimilarity``: the score is the dot
    product of query and document impacts) or ``"bm25"`` (Lucene's ``BM25Similarity(k1, b)``,
    Anserini's defaults). Queries are Java ``Query`` objects built by the caller (see
    :func:`esplade_eval.lucene.search.impact_queries` and :mod:`esplade_eval.lucene.bm25`).
    ``heap`` (``-Xmx``): explicit, else ``$ESPLADE_EVAL_JAVA_HEAP``, else
    :func:`heap_for_index`; it applies, with :func:`quick_jit_options` when ``quick_jit``,
    if this process has not started its JVM yet.
    """

    def __init__(self, index: str | os.PathLike, similarity: str = "impact", heap: str | None = None,
                 k1: float = 0.9, b: float = 0.4, quick_jit: bool = False):
        from esplade_eval.lucene.java import choose_heap, start

        self.index = check_index(index)
        self.heap = choose_heap(heap, heap_for_index(self.index))
        self.autoclass = autoclass = start(heap=self.heap, options=quick_jit_options(self.index) if quick_jit else ())
        if similarity == "impact":
            sim = autoclass("io.anserini.search.similarity.ImpactSimilarity")()
        elif similarity == "bm25":
            sim = autoclass("org.apache.lucene.search.similarities.BM25Similarity")(float(k1), float(b))
        else:
            raise ValueError(f"similarity must be 'impact' or 'bm25', got {similarity!r}")
        with opening_index(self.index):
            self._reader = autoclass("io.anserini.index.IndexReaderUtils").getReader(str(self.index))
        verify_index(self.index, self._reader)  # a flipped bit is an error, never a silent result
        self._searcher = autoclass("org.apache.lucene.search.IndexSearcher")(self._reader)
        self._searcher.setSimilarity(sim)
        self._mapper = _mapper(autoclass)
        # Anserini's own test (SimpleImpactSearcher, SearchCollection): Lucene 9 indexes break
        # score ties by docid and get their tied scores adjusted; older ones neither
        self.lucene9 = "lucene.version=9" in str(self._reader.toString())
        self._ids: np.ndarray | None = None  # Lucene document number -> id (object array)
        self._rank: np.ndarray | None = None  # Lucene document number -> rank of its id in string order

    # -- the id table ---------------------------------------------------------------------------
    def load_ids(self) -> np.ndarray:
        """Lucene document number -> id, read once (``None`` for deleted documents)."""
        if self._ids is None:
            max_doc = int(self._reader.maxDoc())
            ids = np.full(max_doc, None, dtype=object)
            for doc, docid in (self._ids_from_doc_values() if self.lucene9 else self._ids_from_stored_fields()):
                ids[doc] = docid
            live = np.flatnonzero(ids != None)  # noqa: E711 (element-wise)
            order = live[np.argsort(ids[live].astype(str), kind="stable")]  # code points = UTF-8 byte order
            rank = np.full(max_doc, -1, dtype=np.int64)
            rank[order] = np.arange(order.size, dtype=np.int64)
            self._ids, self._rank = ids, rank
        return self._ids

    def _ids_from_doc_values(self) -> Iterator[tuple[int, str]]:
        """Every live document's id from the ``id`` doc values, ``ID_PAGE`` documents per Java call.

        A match-all search sorted by document number (each page starts where the last one
        ended: Lucene skips straight there) and then by id (so each hit carries its id, a
        ``BytesRef`` that Jackson writes in base64).
        """
        autoclass = self.autoclass
        SortField = autoclass("org.apache.lucene.search.SortField")
        sort_type = autoclass("org.apache.lucene.search.SortField$Type")
        sort = autoclass("org.apache.lucene.search.Sort")(SortField.FIELD_DOC, SortField(ID_FIELD, sort_type.STRING_VAL))
        match_all = autoclass("org.apache.lucene.search.MatchAllDocsQuery")()
        FieldDoc, Integer = autoclass("org.apache.lucene.search.FieldDoc"), autoclass("java.lang.Integer")
        BytesRef = autoclass("org.apache.lucene.util.BytesRef")
        after = None
        while True:
            if after is None:
                top = self._searcher.search(match_all, ID_PAGE, sort)
            else:
                top = self._searcher.searchAfter(after, match_all, ID_PAGE, sort)
            rows = _ID_HIT.findall(self._mapper.writeValueAsString(top))
            for doc, b64, length, offset in rows:
                raw = base64.b64decode(b64)
                yield int(doc), raw[int(offset):int(offset) + int(length)].decode("utf-8")
            if len(rows) < ID_PAGE:
                return
            last = int(rows[-1][0])
            after = FieldDoc(last, float("nan"), [Integer(last), BytesRef()])

    def _ids_from_stored_fields(self) -> Iterator[tuple[int, str]]:
        """For indexes older than Lucene 9, whose doc values Anserini avoids: one stored document per call."""
        live = self.autoclass("org.apache.lucene.index.MultiBits").getLiveDocs(self._reader)
        stored = self._reader.storedFields()
        for doc in range(int(self._reader.maxDoc())):
            if live is None or live.get(doc):
                yield doc, stored.document(doc).get(ID_FIELD)

    # -- search ---------------------------------------------------------------------------------
    def _text(self, query, n: int) -> str | None:
        """Lucene's top ``n`` serialised: ``{"scoreDocs":[[doc,score],...],"totalHits":{...}}``."""
        return None if query is None else self._mapper.writeValueAsString(self._searcher.search(query, n))

    def _top(self, query, n: int, text: str | None = None) -> tuple[list[int], list[float]]:
        """Document numbers and scores of Lucene's top ``n`` (by score, then document number)."""
        text = self._text(query, n) if text is None else text
        start = -1 if text is None else text.find("[[")
        if start < 0:
            return [], []
        parts = text[start + 2:text.index("]]", start)].replace("],[", ",").split(",")
        return list(map(int, parts[0::2])), list(map(float, parts[1::2]))

    def _whole_tie(self, query, k: int, n: int, docs: list[int], scores: list[float]):
        """Fetch deeper (2n, 4n, ...) while the k-th hit ties with the last one fetched."""
        while len(docs) >= n and scores[k - 1] == scores[-1]:
            n *= 2
            docs, scores = self._top(query, n)
        return docs, scores

    def _rank_chunk(self, batch: Sequence[tuple[object, str | None]], k: int, n: int,
                    adjust_ties: bool = True) -> list[Ranked]:
        """Ranked top ``k`` (ids, scores) of each ``(query, serialised top n)``: a few numpy calls in all."""
        docs: list[int] = []
        scores: list[float] = []
        counts: list[int] = []
        for query, text in batch:
            d, s = self._whole_tie(query, k, n, *self._top(query, n, text))
            docs.extend(d)
            scores.extend(s)
            counts.append(len(d))
        if not docs:
            return [([], []) for _ in batch]
        doc = np.array(docs, dtype=np.int64)
        # Jackson writes a float's shortest decimal; decimal -> double -> float32 gives that float
        # back exactly (double rounding is harmless when 53 >= 2 x 24 + 2 bits)
        score = np.array(scores, dtype=np.float64).astype(np.float32)
        qidx = np.repeat(np.arange(len(batch)), counts)
        order = np.lexsort((self._rank[doc], -score, qidx))
        start = np.cumsum(counts) - counts
        keep = order[np.arange(order.size) - start[qidx] < k]  # qidx is sorted: the same per position
        doc, score, q = doc[keep], score[keep], qidx[keep]
        if self.lucene9 and adjust_ties:
            first = np.ones(q.size, dtype=bool)
            first[1:] = q[1:] != q[:-1]
            score = anserini_tie_scores(score, first)
        ids, values = self._ids[doc].tolist(), score.tolist()
        out, pos = [], 0
        for c in counts:
            m = min(c, k)
            out.append((ids[pos:pos + m], values[pos:pos + m]))
            pos += m
        return out

    def run(self, queries: Iterable[tuple[str, object]], k: int, threads: int = 1, total: int | None = None,
            progress: bool | None = None, desc: str = "search",
            adjust_ties: bool = True) -> Iterator[tuple[str, list[str], list[float]]]:
        """``(qid, ids, scores)`` for every ``(qid, Java query or None)``, in input order, top ``k``.

        ``threads`` worker threads search and serialise concurrently; ``progress`` shows
        queries done / total on stderr (None: only on a terminal). ``adjust_ties=False`` keeps
        Lucene's raw scores (same ranking): a shard's hits, merged with other shards' before
        the adjustment, which depends on a hit's rank in the final list
        (:mod:`esplade_eval.lucene.shards`).
        """
        from esplade_eval._progress import bar as progress_bar

        _check_k(k)
        self.load_ids()
        items = list(queries)
        n = k + tie_margin(k)
        texts = _in_threads([q for _, q in items], lambda q: self._text(q, n), threads)
        bar = progress_bar(total=total or len(items), desc=desc, unit="q", enabled=progress, leave=False)
        try:
            for first in range(0, len(items), CHUNK):
                chunk = items[first:first + CHUNK]
                ranked = self._rank_chunk([(q, t) for (_, q), t in zip(chunk, islice(texts, len(chunk)))], k, n,
                                          adjust_ties)
                for (qid, _), (ids, values) in zip(chunk, ranked):
                    bar.update(1)
                    yield qid, ids, values
        finally:
            texts.close()
            bar.close()

    def ranked(self, query, k: int) -> Ranked:
        """Top ``k`` (ids, scores) of one query by (-score, id), as :meth:`run` ranks them."""
        _check_k(k)
        self.load_ids()
        n = k + tie_margin(k)
        return self._rank_chunk([(query, self._text(query, n))], k, n)[0]

    def close(self) -> None:
        self._reader.close()


def _mapper(autoclass):
    """Jackson's ``ObjectMapper``, properties in alphabetical order, a ``ScoreDoc`` as ``[doc,score]``.

    Per-type configuration overrides do what annotations would (shape ARRAY, ``shardIndex``
    ignored: about 15 bytes a hit), so no Java class has to be written; a ``FieldDoc`` (the
    id table) keeps the object shape.
    """
    mapper = autoclass("com.fasterxml.jackson.databind.ObjectMapper")()
    mapper.configure(autoclass("com.fasterxml.jackson.databind.MapperFeature").SORT_PROPERTIES_ALPHABETICALLY, True)
    override = mapper.configOverride(autoclass("java.lang.Class").forName("org.apache.lucene.search.ScoreDoc"))
    override.setFormat(autoclass("com.fasterxml.jackson.annotation.JsonFormat$Value").forShape(
        autoclass("com.fasterxml.jackson.annotation.JsonFormat$Shape").ARRAY))
    override.setIgnorals(autoclass("com.fasterxml.jackson.annotation.JsonIgnoreProperties$Value")
                         .forIgnoredProperties("shardIndex"))
    return mapper


def _check_k(k: int) -> None:
    if int(k) != k or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")


def _in_threads(items: list, fn: Callable, threads: int) -> Iterator:
    """``fn(item)`` for every item, in order, computed by ``threads`` threads attached to the JVM.

    Worker ``w`` takes items ``w, w + threads, ...`` and hands results over through its own
    bounded queue, so order is kept and at most ``threads * 64`` results wait in memory.
    An exception in a worker is re-raised here; closing the generator stops the workers.
    """
    if threads <= 1 or len(items) < 2:
        for item in items:
            yield fn(item)
        return
    n = min(threads, len(items))
    outs = [queue.Queue(maxsize=64) for _ in range(n)]
    stop = threading.Event()

    def worker(w: int) -> None:
        import jnius

        try:
            for i in range(w, len(items), n):
                try:
                    value = (True, fn(items[i]))
                except BaseException as exc:  # re-raised by the consumer
                    value = (False, exc)
                while not stop.is_set():
                    try:
                        outs[w].put(value, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set() or not value[0]:
                    return
        finally:
            jnius.detach()

    workers = [threading.Thread(target=worker, args=(w,), name=f"esplade-search-{w}", daemon=True) for w in range(n)]
    for t in workers:
        t.start()
    try:
        for i in range(len(items)):
            ok, value = outs[i % n].get()
            if not ok:
                raise value
            yield value
    finally:
        stop.set()
        for t in workers:
            t.join()
