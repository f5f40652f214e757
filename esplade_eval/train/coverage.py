"""How well an expanded output vocabulary covers a split's queries.

An ESPLADE model can only give weight to the words of its output vocabulary: a query word
outside it can match no document term. Queries are split into words exactly as the
vocabulary builder counts them (:func:`esplade_eval.data.corpora.words`: NFKC, lowercase,
runs of Unicode letters/digits), and the report gives

* the share of query tokens (occurrences) in the vocabulary, and the distinct words' counts;
* the number of queries with no word in it (they can retrieve through expansion only),
  their ids, and the queries with no word at all;
* the most frequent missing words;
* a warning when the share is under :data:`WARN_BELOW` (90%).

>>> cov = query_coverage(["graph", "neural", "network"], {"1": "Neural network", "2": "RDF graph", "3": "NLP"})
>>> cov.share, cov.queries_without_a_word, cov.without_a_word, cov.missing
(0.6, 1, ('3',), (('nlp', 1), ('rdf', 1)))
>>> cov.warning
'query token coverage 60.0% (3 of 5 tokens) is under 90%: 1 of 3 queries have no word in the 3-word output vocabulary'
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import Iterable, Mapping

from esplade_eval.data.corpora import words
from esplade_eval.errors import EspladeError

WARN_BELOW = 0.90
TOP_MISSING = 20


@dataclass(frozen=True)
class Coverage:
    """The coverage of one split's queries by one output vocabulary (see the module docstring)."""

    split: str | None
    vocab_size: int
    queries: int
    tokens: int
    covered_tokens: int
    without_a_word: tuple[str, ...]
    empty: tuple[str, ...]
    missing: tuple[tuple[str, int], ...]
    distinct: int = 0
    distinct_covered: int = 0
    threshold: float = WARN_BELOW

    @property
    def share(self) -> float | None:
        """Covered share of the query tokens (None when the queries hold no token)."""
        return self.covered_tokens / self.tokens if self.tokens else None

    @property
    def queries_without_a_word(self) -> int:
        return len(self.without_a_word)

    @property
    def warning(self) -> str | None:
        """A sentence to print when the share is under the threshold, else None."""
        if self.share is None or self.share >= self.threshold:
            return None
        where = f"{self.split} " if self.split else ""
        return (f"{where}query token coverage {100 * self.share:.1f}% ({self.covered_tokens} of {self.tokens} "
                f"tokens) is under {100 * self.threshold:g}%: {self.queries_without_a_word} of {self.queries} "
                f"queries have no word in the {self.vocab_size}-word output vocabulary")

    def fields(self) -> dict:
        """The two numbers a results file records, named by split (``test_query_token_coverage``, ...)."""
        prefix = f"{self.split}_" if self.split else ""
        return {f"{prefix}query_token_coverage": self.share,
                f"{prefix}queries_without_a_word": self.queries_without_a_word}

    def to_dict(self) -> dict:
        out = asdict(self)
        out.update(share=self.share, queries_without_a_word=self.queries_without_a_word, warning=self.warning,
                   missing=[{"word": w, "count": c} for w, c in self.missing])
        return out

    def describe(self) -> list[str]:
        """Lines for a console or a summary: the numbers, the top missing words, the warning."""
        where = f"{self.split} " if self.split else ""
        share = "n/a" if self.share is None else f"{100 * self.share:.1f}%"
        lines = [f"{where}queries: {share} of {self.tokens} tokens in the output vocabulary; "
                 f"{self.queries_without_a_word} of {self.queries} queries without a word in it"]
        if self.missing:
            lines.append("most frequent missing words: " + ", ".join(f"{w} ({c})" for w, c in self.missing))
        if self.warning:
            lines.append(f"warning: {self.warning}")
        return lines


def query_coverage(vocab: Iterable[str], topics: Mapping[str, str], split: str | None = None,
                   threshold: float = WARN_BELOW, top: int = TOP_MISSING) -> Coverage:
    """Coverage of ``topics`` (``{qid: text}``) by ``vocab`` (the output vocabulary's words).

    Query ids in the result are sorted; ``top`` most frequent missing words (count
    descending, then word) are kept.
    """
    if not 0 < threshold <= 1:
        raise EspladeError(f"the coverage threshold must be in (0, 1], got {threshold}")
    vocab = set(vocab)
    if not vocab:
        raise EspladeError("the output vocabulary is empty")
    tokens = covered = 0
    missing: Counter = Counter()
    without, empty = [], []
    for qid in sorted(topics):
        found = words(topics[qid])
        hits = sum(w in vocab for w in found)
        tokens, covered = tokens + len(found), covered + hits
        missing.update(w for w in found if w not in vocab)
        if not hits:
            without.append(qid)
        if not found:
            empty.append(qid)
    ranked = sorted(missing.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    distinct = {w for text in topics.values() for w in words(text)}
    return Coverage(split, len(vocab), len(topics), tokens, covered, tuple(without), tuple(empty), tuple(ranked),
                    len(distinct), len(distinct & vocab), threshold)


def collection_coverage(vocab: Iterable[str], collection, splits: Iterable[str] | None = None,
                        threshold: float = WARN_BELOW) -> dict[str, Coverage]:
    """:func:`query_coverage` of every split of a prepared collection (or the named ``splits``)."""
    vocab = list(vocab)
    chosen = list(collection.splits if splits is None else splits)
    for split in chosen:
        collection.require_split(split, qrels=False)
    return {split: query_coverage(vocab, collection.read_topics(split), split, threshold) for split in chosen}
