"""Training ESPLADE models: output vocabulary, MLM pre-training, retrieval fine-tuning.

Modules (torch is imported lazily by each):

* :mod:`.vocab`: the expanded output vocabulary (most frequent normalised whole words).
* :mod:`.common`: presets, seeding, devices, the learning-rate schedule, checkpoint writing.
* :mod:`.pretrain`: whole-word-masking MLM pre-training over the output vocabulary.
* :mod:`.finetune`: contrastive fine-tuning with FLOPS regularisation, dev validation.
* :mod:`.evaluation`: exact sparse retrieval (quantised brute-force dot product) + ir_measures.
* :mod:`.study`: the tiny four-arm study (pre-trained vs random vs SPLADE-tiny).
"""
