"""Pre-training throughput (real tokens/s) of the tiny preset, against named baselines.

Variants, measured in the same process on the same texts and batches (bundled general +
titles corpora, batch 64, max length 64, 15% whole-word masking):

* ``esplade``: this toolkit's step: length-sorted batches (little padding) and the MLM
  head run only at the predicted positions (first piece of each masked word), 10k-word head.
* ``esplade-naive``: the same model, batches padded to max length and the head run at
  every position (full ``(batch, length, vocab)`` logits, loss at the predicted positions).
* ``hf-bert-mlm`` (the named baseline): Hugging Face ``BertForMaskedLM`` at the same size
  with its tied 30,522-WordPiece head, padded to max length, full logits and the standard
  labels tensor (-100 elsewhere), i.e. the textbook ``Trainer`` MLM step.

Throughput counts real (non-padding) input tokens per second of training step (forward,
backward, AdamW); data preparation is excluded. The machine is shared: numbers vary with
load, the ratio less so (variants alternate in rounds).

    .venv/bin/python benchmarks/pretrain.py --steps 20 --threads 2
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20, help="timed steps per variant and round")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--vocab-size", type=int, default=10000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args(argv)

    import torch
    import torch.nn.functional as F
    from transformers import BertConfig, BertForMaskedLM

    from esplade_eval._io import write_json
    from esplade_eval.data.corpora import load_corpus
    from esplade_eval.model.esplade import EspladeForMaskedLM
    from esplade_eval.train import common
    from esplade_eval.train.mlm import batch_order, chunk_texts, mask_batch, mlm_forward, tokenize_examples
    from esplade_eval.train.vocab import build_vocab

    torch.set_num_threads(args.threads)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    common.quiet_transformers()
    texts = [t for name in ("general", "titles") for t in load_corpus(name).train]
    vocab = build_vocab(texts, args.vocab_size, 2)
    tok = common.load_input_tokenizer()
    rng = np.random.default_rng(0)
    sample = [texts[i] for i in rng.choice(len(texts), size=6000, replace=False)]
    examples = tokenize_examples(tok, chunk_texts(sample, 40), {w: i for i, w in enumerate(vocab)}, args.max_length)
    lengths = np.array([len(e.ids) for e in examples])
    need = args.steps * args.rounds + 3
    batches = [b for b in batch_order(lengths, args.batch_size, rng) if len(b) == args.batch_size][:need]
    prepared = [tuple(t.to(device) for t in mask_batch([examples[i] for i in b], rng, 0.15, tok.mask_token_id,
                                                       tok.pad_token_id, len(tok)))
                for b in batches]

    def padded(ids, att):
        pad = args.max_length - ids.shape[1]
        return F.pad(ids, (0, pad), value=tok.pad_token_id), F.pad(att, (0, pad), value=0)

    common.seed_everything(0)
    cfg = common.model_config("tiny", len(vocab), len(tok))
    esplade = EspladeForMaskedLM(cfg).train().to(device)
    naive = EspladeForMaskedLM(cfg).train().to(device)
    bert = BertForMaskedLM(BertConfig(vocab_size=len(tok), **common.PRESETS["tiny"])).train().to(device)

    def step_esplade(model, opt, batch):
        ids, att, rows, cols, labels = batch
        loss, _ = mlm_forward(model, ids, att, rows, cols, labels)
        return loss

    def step_naive(model, opt, batch):
        ids, att, rows, cols, labels = batch
        ids, att = padded(ids, att)
        logits = model(input_ids=ids, attention_mask=att).logits
        return F.cross_entropy(logits[rows, cols], labels)

    def step_bert(model, opt, batch):
        ids, att, rows, cols, _ = batch
        ids, att = padded(ids, att)
        wp_labels = torch.full_like(ids, -100)
        wp_labels[rows, cols] = ids[rows, cols]  # WordPiece target at the same positions
        return model(input_ids=ids, attention_mask=att, labels=wp_labels).loss

    variants = {"esplade": (esplade, step_esplade), "esplade-naive": (naive, step_naive),
                "hf-bert-mlm": (bert, step_bert)}
    opts = {k: torch.optim.AdamW(m.parameters(), lr=1e-4) for k, (m, _) in variants.items()}
    totals = {k: [0.0, 0] for k in variants}

    def run(name, chunk, timed):
        model, fn = variants[name]
        opt = opts[name]
        t = time.perf_counter()
        tokens = 0
        for batch in chunk:
            loss = fn(model, opt, batch)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            tokens += int(batch[1].sum())
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        if timed:
            totals[name][0] += time.perf_counter() - t
            totals[name][1] += tokens

    for name in variants:  # warm-up
        run(name, prepared[:3], timed=False)
    for r in range(args.rounds):
        chunk = prepared[3 + r * args.steps: 3 + (r + 1) * args.steps]
        for name in variants:
            run(name, chunk, timed=True)
    results = {k: {"tokens_per_s": v[1] / v[0], "seconds": v[0], "tokens": v[1]} for k, v in totals.items()}
    base = results["hf-bert-mlm"]["tokens_per_s"]
    out = {"results": results,
           "ratio_vs_hf_bert_mlm": results["esplade"]["tokens_per_s"] / base,
           "ratio_vs_esplade_naive": results["esplade"]["tokens_per_s"] / results["esplade-naive"]["tokens_per_s"],
           "setup": {"steps": args.steps, "rounds": args.rounds, "batch_size": args.batch_size,
                     "max_length": args.max_length, "output_vocab": len(vocab), "threads": args.threads,
                     "device": device,
                     "torch": torch.__version__, "platform": platform.platform(), "cpu_count": os.cpu_count(),
                     "mean_real_tokens_per_batch": float(np.mean([int(b[1].sum()) for b in prepared]))}}
    print(f"device {device}, {args.threads} threads, batch {args.batch_size}, max length {args.max_length}, "
          f"output vocabulary {len(vocab)}")
    for k, v in results.items():
        print(f"{k:14s} {v['tokens_per_s']:>10,.0f} tokens/s  ({v['tokens']:,} tokens in {v['seconds']:.1f} s)")
    print(f"esplade vs hf-bert-mlm (named baseline): {out['ratio_vs_hf_bert_mlm']:.2f}x; "
          f"vs esplade-naive: {out['ratio_vs_esplade_naive']:.2f}x")
    if args.json:
        write_json(args.json, out)
    return out


if __name__ == "__main__":
    main()
