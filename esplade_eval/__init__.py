"""esplade_eval: learned sparse retrieval (SPLADE / Expanded-SPLADE) from checkpoint to
Lucene impact index to significance-tested comparison tables.

The package root stays import-light on purpose: torch, transformers and the JVM are only
imported by the layers that need them (``model``, ``train``, ``lucene``).
"""

__version__ = "0.1.0"

from esplade_eval.errors import EspladeError, InputError  # noqa: E402

__all__ = ["EspladeError", "InputError", "__version__"]
