"""mkdocs hook: the generated reference pages are rendered from the code at every build.

``docs/cli.md`` (from the argparse parsers) and ``docs/study-config.md`` (from the study
schema) are committed so that they read on GitHub too; a build always renders what the
code says now, and ``tests/test_docs.py`` fails while a committed copy is stale
(``make docs`` rewrites both).
"""

from __future__ import annotations


def _generated() -> dict:
    from esplade_eval.cli.reference import cli_markdown
    from esplade_eval.study.reference import config_markdown

    return {"cli.md": cli_markdown, "study-config.md": config_markdown}


def on_page_markdown(markdown, page, config, files):
    make = _generated().get(page.file.src_uri)
    return make() if make else markdown
