"""``esplade-eval check-run`` and ``package-run``: TREC run submission checks and packaging."""

import sys

from esplade_eval import guard
from esplade_eval.cli._args import positive_int
from esplade_eval.guard import declare_paths


def _add_check_args(p) -> None:
    p.add_argument("run", metavar="RUN", help="TREC run 'qid Q0 docid rank score tag' (.gz read transparently)")
    known = p.add_mutually_exclusive_group()
    known.add_argument("--topics", help="qid<TAB>text topics: query ids must be among them")
    known.add_argument("--qrels", help="TREC qrels: query ids must be among the judged ones")
    p.add_argument("--max-hits", type=positive_int, metavar="N", help="at most N hits per query")


def register(sub):
    p = sub.add_parser("check-run", help="validate a TREC run, listing every problem with its line",
                       description="Validate a TREC run for submission: six columns, Q0, one run tag, unique "
                                   "documents per query, ranks 1,2,3,... per query, scores non-increasing, known "
                                   "query ids (--topics/--qrels), at most --max-hits hits. Every problem is listed "
                                   "as PATH:LINE: message; the exit status is 1 when there is any.")
    _add_check_args(p)
    declare_paths(p, inputs=["run", "topics", "qrels"])
    p.set_defaults(func=check)

    p = sub.add_parser("package-run", help="check a TREC run, then write it gzipped for submission",
                       description="Run the check-run checks; only when they pass, write the run gzipped "
                                   "(atomically: no partial file under the final name).")
    _add_check_args(p)
    p.add_argument("--out", required=True, help="output file, ending in .gz")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    declare_paths(p, inputs=["run", "topics", "qrels"], outputs={"out": guard.RUN})
    p.set_defaults(func=package)


def _known(args):
    from esplade_eval.evaluate.checkrun import known_queries

    return known_queries(args.topics, args.qrels)


def _print(result) -> None:
    for message in result.messages():
        print(message)
    if result.missing:
        shown = ", ".join(result.missing[:10]) + (" …" if len(result.missing) > 10 else "")
        print(f"note: {len(result.missing)} known queries have no hits: {shown}", file=sys.stderr)
    print(result.summary(), file=sys.stderr)


def check(args):
    from esplade_eval.evaluate.checkrun import check_run

    result = check_run(args.run, _known(args), args.max_hits)
    _print(result)
    return 0 if result.ok else 1


def package(args):
    from esplade_eval.evaluate.checkrun import check_run, package_run

    known = _known(args)
    result = check_run(args.run, known, args.max_hits)
    if not result.ok:
        _print(result)
        print(f"esplade-eval package-run: not written: {args.out}", file=sys.stderr)
        return 1
    package_run(args.run, args.out, known, args.max_hits, overwrite=args.overwrite)
    print(f"{result.summary()}\nwritten: {args.out}")
    return 0
