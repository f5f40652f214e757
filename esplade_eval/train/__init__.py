"""Training ESPLADE models: output vocabulary, MLM pre-training, retrieval fine-tuning.

Modules (torch is imported lazily by each):

* :mod:`.vocab`: the expanded output vocabulary (most frequent normalised whole words).
* :mod:`.texts`: training texts from the named corpora, evaluation documents kept out.
* :mod:`.common`: presets, seeding, devices, run set-up and records, checkpoint writing.
* :mod:`.loop`: the training loop both trainers share (AdamW, warm-up/decay, autocast,
  clipping, records, best weights).
* :mod:`.pretrain`: whole-word-masking MLM pre-training over the output vocabulary.
* :mod:`.finetune`: contrastive fine-tuning with FLOPS regularisation, dev validation.
* :mod:`.validation`: exact sparse retrieval (quantised brute-force dot product) scored by
  :mod:`esplade_eval.evaluate`, for validation during training.
"""
