"""Run a notebook headless with parameters, papermill-style, into an executed copy.

The notebook's cell tagged ``parameters`` holds the defaults; the values given here go into
a new cell tagged ``injected-parameters`` right after it (papermill's convention, so the same
notebook also runs under papermill). The executed copy, with every output (tables, images),
is written atomically to ``output``, never over the source notebook and never into the
source's own folder, so the repository keeps its output-free notebook. A failing cell still
writes the copy (its traceback is in it) and raises an error naming the cell.

Needs ``nbclient``, ``nbformat`` and ``ipykernel`` (``pip install 'esplade_eval[notebook]'``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from esplade_eval.errors import EspladeError

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"


def _libs():
    try:
        import nbclient
        import nbformat
    except ImportError:
        raise EspladeError("running notebooks needs nbclient, nbformat and ipykernel "
                           "(pip install 'esplade_eval[notebook]')") from None
    return nbclient, nbformat


def inject_parameters(nb, params: Mapping[str, object]):
    """Insert the ``injected-parameters`` cell after the ``parameters`` cell (in place); returns ``nb``.

    Only names the parameters cell assigns may be given: a typo is an error, not a silent
    no-op.
    """
    _, nbformat = _libs()
    cells = [i for i, c in enumerate(nb.cells) if PARAMETERS_TAG in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise EspladeError(f"the notebook needs exactly one cell tagged {PARAMETERS_TAG!r}, found {len(cells)}")
    known = _assigned_names(nb.cells[cells[0]].source)
    unknown = sorted(set(params) - known)
    if unknown:
        raise EspladeError(f"unknown notebook parameter(s) {unknown}; the parameters cell defines {sorted(known)}")
    nb.cells = [c for c in nb.cells if INJECTED_TAG not in c.get("metadata", {}).get("tags", [])]
    if params:
        source = "# Parameters given for this run\n" + "".join(f"{k} = {v!r}\n" for k, v in params.items())
        cell = nbformat.v4.new_code_cell(source, metadata={"tags": [INJECTED_TAG]})
        nb.cells.insert(cells[0] + 1, cell)
    return nb


def _assigned_names(source: str) -> set[str]:
    import ast

    names = set()
    for node in ast.parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def run_notebook(source: str | os.PathLike, output: str | os.PathLike, params: Mapping[str, object] | None = None,
                 cwd: str | os.PathLike | None = None, timeout: int = 600, overwrite: bool = False) -> Path:
    """Execute ``source`` with ``params`` in a fresh ``python3`` kernel started in ``cwd``
    (default: the current folder) and write the executed copy to ``output``."""
    nbclient, nbformat = _libs()
    from esplade_eval._io import atomic_file

    source, output = Path(source), Path(output)
    if not source.is_file():
        raise EspladeError(f"{source}: notebook not found")
    if output.resolve() == source.resolve() or output.resolve().parent == source.resolve().parent:
        raise EspladeError(f"{output}: the executed copy must not go beside or over the source notebook "
                           f"({source.parent}); write it outside the repository's notebooks")
    if output.exists() and not overwrite:
        raise FileExistsError(f"{output}: already exists (pass overwrite / --overwrite to replace it)")
    nb = inject_parameters(nbformat.read(source, as_version=4), dict(params or {}))
    client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                     resources={"metadata": {"path": str(Path(cwd or os.getcwd()).resolve())}})
    failure = None
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as exc:
        failure = exc
    with atomic_file(output) as fh:
        nbformat.write(nb, fh)
    if failure is not None:
        first = str(failure).strip().splitlines()
        raise EspladeError(f"{source}: a cell failed ({first[-1] if first else failure}); "
                           f"the executed copy with its traceback is in {output}")
    return output


def image_outputs(nb) -> int:
    """How many ``image/png`` outputs an executed notebook holds (a check without screenshots)."""
    return sum(1 for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {}))
