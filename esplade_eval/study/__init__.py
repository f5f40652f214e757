"""The pre-training study as data, and the flow it drives (``esplade-eval study CONFIG``).

* :mod:`.config`, :mod:`.schema`, :mod:`.checks`, :mod:`.expand`: the TOML config, validated
  up front (``file: key: problem``), its grid expanded into named arms;
* :mod:`.collection`: the study's collection (any registry spec, or a subset);
* :mod:`.engine`, :mod:`.stages` (one module per stage kind), :mod:`.cache`: the one engine,
  stages keyed by their kind, params, inputs and VERSION, run or reused, resumable;
  :mod:`.plan`, :mod:`.planning`, :mod:`.systems` (the reference systems' registry),
  :mod:`.driver`: the study's stages; :mod:`.estimate`: ``--dry-run``;
* :mod:`.stats`, :mod:`.findings`, :mod:`.analysis`: statistics over seeds, comparisons
  through :mod:`esplade_eval.evaluate`, the findings' verdicts;
* :mod:`.render`, :mod:`.report`, :mod:`.plots`: the results folder;
* :mod:`.tune`: the fine-tuning recipe chosen on dev (``--tune``);
* :mod:`.flow`, :mod:`.flowstages`, :mod:`.grid`, :mod:`.demo`: one checkpoint through every
  pruning level, as a stage of the engine; checkpoints x levels; the demo.
"""
