"""Topics and qrels by name from ir_datasets, read from its local cache only.

``--qrels irds:vaswani`` (or ``irds_qrels("vaswani")``) reads a dataset that ir_datasets
has already stored on this machine (``$IR_DATASETS_HOME``, default ``~/.ir_datasets``).
This toolkit never downloads at run time: the call runs with every outgoing network
connection refused, so a dataset that is not cached is a clear error naming the dataset and
the cache folder, not a download. ir_datasets itself is optional
(``pip install 'esplade_eval[irds]'``); without it ``irds:`` names are an error that says so.
"""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path
from typing import Iterator

from esplade_eval.errors import EspladeError


def cache_home() -> Path:
    """Where ir_datasets keeps its files (its own rule: ``$IR_DATASETS_HOME`` or ``~/.ir_datasets``)."""
    return Path(os.environ.get("IR_DATASETS_HOME", Path.home() / ".ir_datasets"))


class _NoNetwork(OSError):
    pass


@contextlib.contextmanager
def _no_network() -> Iterator[None]:
    """Refuse every outgoing connection and name lookup while ir_datasets runs (it would
    download what is missing)."""
    connect, lookup = socket.socket.connect, socket.getaddrinfo

    def refuse(*args, **kwargs):
        raise _NoNetwork(f"network access refused (esplade_eval reads ir_datasets' local cache only): {args[-1]}")

    import logging

    quiet = logging.root.manager.disable
    socket.socket.connect, socket.getaddrinfo = refuse, refuse
    logging.disable(logging.WARNING)  # ir_datasets logs every refused retry; the error below says it once
    try:
        yield
    finally:
        socket.socket.connect, socket.getaddrinfo = connect, lookup
        logging.disable(quiet)


def _dataset(name: str):
    try:
        import ir_datasets
    except ImportError:
        raise EspladeError(f"irds:{name}: ir_datasets is not installed (optional: pip install "
                           "'esplade_eval[irds]'); or give a qrels/topics file") from None
    try:
        return ir_datasets.load(name)
    except KeyError:
        raise EspladeError(f"irds:{name}: ir_datasets has no dataset of that name") from None


def _read(name: str, what: str, iterate):
    ds = _dataset(name)
    if not getattr(ds, f"has_{what}")():
        raise EspladeError(f"irds:{name}: the dataset has no {what}")
    try:
        with _no_network():
            return iterate(getattr(ds, f"{what}_iter")())
    except Exception as exc:  # ir_datasets wraps the refused download in its own errors
        if _caused_by_network(exc):
            raise EspladeError(f"irds:{name}: its {what} are not in ir_datasets' local cache ({cache_home()}); "
                               "nothing is downloaded at run time: fetch them once with ir_datasets where a "
                               "network is allowed, or give a file") from None
        raise


def _caused_by_network(exc: BaseException | None) -> bool:
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, _NoNetwork) or "network access refused" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def irds_qrels(name: str) -> dict[str, dict[str, int]]:
    """``{qid: {docid: grade}}`` of a locally cached ir_datasets dataset; a repeated pair is an error."""
    def collect(items):
        out: dict[str, dict[str, int]] = {}
        for q in items:
            docs = out.setdefault(str(q.query_id), {})
            if str(q.doc_id) in docs:
                raise EspladeError(f"irds:{name}: duplicate judgment for query {q.query_id!r}, document {q.doc_id!r}")
            docs[str(q.doc_id)] = int(q.relevance)
        return out

    return _read(name, "qrels", collect)


def irds_topics(name: str) -> dict[str, str]:
    """``{qid: text}`` of a locally cached ir_datasets dataset (the query's ``text`` field, else its first)."""
    def collect(items):
        out: dict[str, str] = {}
        for q in items:
            text = getattr(q, "text", None)
            out[str(q.query_id)] = str(text if text is not None else q[1])
        return out

    return _read(name, "queries", collect)


PREFIX = "irds:"


def resolve(value, what: str):
    """``value`` as given (a path, None), or for ``irds:NAME`` the dataset's ``what``
    (``"qrels"`` or ``"topics"``) read from ir_datasets' local cache: how every verb reads
    its ``--qrels`` and ``--topics``."""
    if isinstance(value, str) and value.startswith(PREFIX):
        return (irds_qrels if what == "qrels" else irds_topics)(value[len(PREFIX):])
    return value
