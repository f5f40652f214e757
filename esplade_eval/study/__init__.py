"""The pre-training study as data, and the flow it drives (``esplade-eval study CONFIG``).

* :mod:`.config`, :mod:`.schema`, :mod:`.expand`: the TOML config, validated up front
  (``file: key: problem``), its grid expanded into named arms;
* :mod:`.collection`: the study's collection (any registry spec, or a subset);
* :mod:`.plan`, :mod:`.cache`, :mod:`.runners`, :mod:`.driver`: stages keyed by a hash of
  what produced them, run or reused, resumable; :mod:`.estimate`: ``--dry-run``;
* :mod:`.stats`, :mod:`.findings`, :mod:`.analysis`: statistics over seeds, comparisons
  through :mod:`esplade_eval.evaluate`, the findings' verdicts;
* :mod:`.render`, :mod:`.report`, :mod:`.plots`: the results folder;
* :mod:`.tune`: the fine-tuning recipe chosen on dev (``--tune``);
* :mod:`.flow`, :mod:`.grid`, :mod:`.demo`: one checkpoint through every pruning level,
  checkpoints x levels, the demo.
"""
