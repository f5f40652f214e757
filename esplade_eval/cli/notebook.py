"""``esplade-eval notebook``: execute a notebook headless with parameters into an executed copy.

Example (the comparison notebook on the demo's runs; the copy goes to the git-ignored artifacts)::

    esplade-eval notebook notebooks/compare_runs.ipynb --output artifacts/demo/compare/compare_runs.ipynb \\
        -p runs "bm25=runs/bm25.txt full=runs/full.txt"
"""

from esplade_eval import guard
from esplade_eval.cli._args import positive_int
from esplade_eval.guard import declare_paths


def register(sub):
    p = sub.add_parser("notebook", help="execute a notebook headless with parameters (papermill-style)",
                       description="Run a notebook in a fresh kernel: values given with -p go into a cell tagged "
                                   "'injected-parameters' after the cell tagged 'parameters' (papermill's "
                                   "convention); the executed copy, outputs and figures included, is written to "
                                   "--output (never over or beside the source notebook).")
    p.add_argument("notebook", help="the notebook to run, e.g. notebooks/compare_runs.ipynb")
    p.add_argument("--output", required=True, help="where the executed copy goes")
    p.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="a parameter (string value), repeatable")
    p.add_argument("--cwd", default=None, help="the kernel's working folder (default: the current one)")
    p.add_argument("--timeout", type=positive_int, default=600, help="seconds per cell (default 600)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing executed copy")
    declare_paths(p, inputs=["notebook"], outputs={"output": guard.NOTEBOOK}, names=["parameter", "cwd"])
    p.set_defaults(func=run)


def run(args):
    from esplade_eval.evaluate.notebook import image_outputs, run_notebook

    params = dict(args.parameter)
    out = run_notebook(args.notebook, args.output, params, cwd=args.cwd, timeout=args.timeout,
                       overwrite=args.overwrite)
    import nbformat

    print(f"executed copy -> {out} ({image_outputs(nbformat.read(out, as_version=4))} images)")
    return 0
