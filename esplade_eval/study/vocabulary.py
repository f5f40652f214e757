"""The ``vocabulary`` section of a study's results: the output vocabulary's size, what it was
built from (declared), and how well it covers every split's queries.

Read from the ``vocab`` stage's record (:mod:`esplade_eval.study.stages.vocab`); ``None`` while
that stage is not complete. The split figures are named as in
:meth:`esplade_eval.train.coverage.Coverage.fields`: ``test_query_token_coverage``,
``test_queries_without_a_word``, and the same for ``train`` and ``dev``.
"""

from __future__ import annotations

COLLECTION_DECLARED = ("the evaluation collection's unlabelled document text (no queries, no judgments) is in the "
                       "vocabulary")


def vocabulary(plan, store) -> dict | None:
    """The section (see the module docstring) from the plan's ``vocab`` stage, or None."""
    from esplade_eval.study.stages import outputs

    stages = plan.of_kind("vocab")
    record = store.record(stages[0]) if stages else None
    return section(outputs("vocab", record)) if record else None


def section(out) -> dict:
    """The section of a ``vocab`` stage's :class:`~esplade_eval.study.stages.vocab.Outputs`."""
    sources = out.sources or ["corpora"]
    found = {"size": out.size, "min_count": out.min_count,
             "sources": {"corpora": list(out.corpora) if "corpora" in sources else [],
                         "collection_text": "collection" in sources,
                         "collection": out.collection_text,
                         "declared": _declared(out, sources)}}
    coverage = out.coverage or {}
    for split in sorted(coverage, key=lambda s: (s != "test", s)):
        cov = coverage[split]
        found[f"{split}_query_token_coverage"] = cov["share"]
        found[f"{split}_queries_without_a_word"] = cov["queries_without_a_word"]
    found["coverage"] = {split: {k: cov[k] for k in ("share", "tokens", "covered_tokens", "queries",
                                                      "queries_without_a_word", "missing", "warning")}
                         for split, cov in coverage.items()}
    return found


def _declared(out, sources) -> str:
    parts = []
    if "corpora" in sources:
        parts.append("the pre-training corpora " + ", ".join(out.corpora))
    if "collection" in sources:
        parts.append(COLLECTION_DECLARED)
    return "; ".join(parts)


def vocabulary_sentence(section: dict | None, split: str = "test") -> str:
    """One or two lines of the summary: size, sources, the split's coverage."""
    if not section:
        return ""
    text = f"Output vocabulary: {section['size']:,} words from {section['sources']['declared']}."
    share = section.get(f"{split}_query_token_coverage")
    if share is not None:
        text += (f" It covers {100 * share:.1f}% of the {split} query tokens; "
                 f"{section[f'{split}_queries_without_a_word']} {split} queries have no word in it.")
        others = [f"{s} {100 * c['share']:.1f}%" for s, c in section["coverage"].items()
                  if s != split and c["share"] is not None]
        text += f" (Other splits: {', '.join(others)}.)" if others else ""
    under = [s for s, c in section["coverage"].items() if c.get("warning")]
    return text + (f" **Warning**: query token coverage under 90% in {', '.join(under)} (results.json "
                   "`vocabulary.coverage`)." if under else "")
