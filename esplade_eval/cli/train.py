"""``esplade-eval vocab | pretrain | finetune``: build and train ESPLADE models (the study: ``cli/study.py``)."""

from __future__ import annotations

from esplade_eval import guard
from esplade_eval.cli._args import (
    define_device_arg,
    define_progress_args,
    define_seed_arg,
    define_threads_arg,
    fraction,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    progress_of,
)
from esplade_eval.errors import EspladeError
from esplade_eval.guard import declare_paths


def _device_args(p):
    define_seed_arg(p, "random seed (same seed + inputs = same checkpoint on CPU)")
    define_threads_arg(p, "torch CPU threads")
    define_device_arg(p)
    define_progress_args(p)
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")


def _eval_doc_args(p):
    g = p.add_mutually_exclusive_group()
    g.add_argument("--exclude-eval-docs", nargs="+", metavar="CORPUS", default=["semanlink"],
                   help="evaluation documents to keep out of the training texts: a corpus .jsonl, a collection "
                        "folder, a text file or a bundled corpus name; a text equal to one after normalisation "
                        "is dropped and counted (default: semanlink, the bundled evaluation collection's titles)")
    g.add_argument("--allow-eval-docs", action="store_true",
                   help="keep evaluation documents in the training texts (recorded as allowed)")


def register(sub):
    _register_vocab(sub)
    _register_pretrain(sub)
    _register_finetune(sub)


def _register_vocab(sub):
    p = sub.add_parser("vocab", help="build an ESPLADE output vocabulary (most frequent whole words)",
                       description="The N most frequent normalised whole words (NFKC, lowercase, runs of "
                                   "Unicode letters/digits), ordered by count desc then word asc; no special "
                                   "entries. Writes DIR/output_vocab.txt and DIR/output_vocab.json.")
    p.add_argument("--corpus", nargs="+", required=True,
                   help="text files (one text per line) or bundled corpora: general, titles, wiki, lee, "
                        "semanlink, films")
    p.add_argument("--size", type=positive_int, required=True, help="number of words to keep")
    p.add_argument("--min-count", type=positive_int, default=1, help="drop words seen fewer times")
    p.add_argument("--include-heldout", action="store_true",
                   help="count held-out texts too (default: training parts only, as pretrain does)")
    _eval_doc_args(p)
    p.add_argument("--out", required=True, help="output folder")
    declare_paths(p, inputs=["corpus", "exclude_eval_docs"], outputs={"out": guard.VOCAB})
    p.set_defaults(func=run_vocab)


def _register_pretrain(sub):
    p = sub.add_parser("pretrain", help="MLM pre-training of an ESPLADE model (whole-word masking)",
                       description="Whole-word-masking MLM pre-training over the expanded output vocabulary.")
    p.add_argument("--corpus", nargs="+", default=["general", "titles"],
                   help="bundled corpora (general, titles, wiki, lee, semanlink, films) or text files")
    p.add_argument("--vocab", default=None, help="folder or file with output_vocab.txt (default: build one)")
    p.add_argument("--vocab-size", type=positive_int, default=10000, help="size of the vocabulary built when --vocab is absent")
    p.add_argument("--preset", default="tiny", help="tiny | small | base, or a JSON file of BertConfig fields")
    p.add_argument("--lr", type=positive_float, default=5e-4, help="peak learning rate")
    p.add_argument("--repeats", type=positive_int, default=1,
                   help="times every training text is in the stream: the budget is repeats x epochs passes "
                        "(not allowed with --steps)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--steps", type=positive_int, default=None,
                   help="a fixed number of optimizer steps instead of passes (the stream cycles if needed)")
    g.add_argument("--epochs", type=positive_float, default=1.0, help="passes over the stream (default 1)")
    p.add_argument("--batch-size", type=positive_int, default=64, help="texts per optimizer step")
    p.add_argument("--max-length", type=positive_int, default=64, help="WordPiece tokens per text")
    p.add_argument("--mask-rate", type=fraction, default=0.15, help="fraction of words masked")
    p.add_argument("--warmup", type=non_negative_float, default=0.1, help="warm-up: fraction of steps (<1) or steps")
    p.add_argument("--eval-texts", type=non_negative_int, default=1000, help="held-out texts per arm for MLM accuracy (0: none)")
    p.add_argument("--init-encoder", default=None,
                   help="initialise the WordPiece encoder from a BERT/SPLADE checkpoint (e.g. splade-tiny)")
    p.add_argument("--head-init", choices=["mean", "first", "sum", "sqrtn"], default="mean",
                   help="with --init-encoder: a word's output row from its pieces' rows (default mean)")
    p.add_argument("--align-steps", type=non_negative_int, default=0,
                   help="with --init-encoder: then align the mapped model to that checkpoint's query-document "
                        "scores on the corpora for N steps, before MLM (default 0: none)")
    p.add_argument("--align-lr", type=positive_float, default=1e-4, help="learning rate of the alignment")
    _eval_doc_args(p)
    p.add_argument("--out", required=True, help="checkpoint folder (written atomically)")
    _device_args(p)
    declare_paths(p, inputs=["corpus", "vocab", "preset", "init_encoder", "exclude_eval_docs"],
                  outputs={"out": guard.CHECKPOINT}, names=["device"])
    p.set_defaults(func=run_pretrain)


def _register_finetune(sub):
    p = sub.add_parser("finetune", help="contrastive fine-tuning with FLOPS regularisation",
                       description="Fine-tune a SPLADE/ESPLADE checkpoint (or a random ESPLADE model) on "
                                   "(query, title) pairs; validate nDCG@10 on the Semanlink dev split.")
    p.add_argument("--init", required=True, help="checkpoint folder, splade-tiny, or 'random'")
    p.add_argument("--preset", default="tiny", help="model size for --init random")
    p.add_argument("--vocab", default=None, help="output vocabulary for --init random")
    p.add_argument("--train", default="semanlink", help="'semanlink' (train split) or a TSV of query<TAB>document")
    p.add_argument("--collection", default="artifacts/semanlink", help="Semanlink collection folder (built if missing)")
    p.add_argument("--steps", type=positive_int, default=200, help="optimizer steps")
    p.add_argument("--batch-size", type=positive_int, default=32, help="(query, document) pairs per step")
    p.add_argument("--lr", type=positive_float, default=2e-4, help="peak learning rate")
    p.add_argument("--lambda-q", type=non_negative_float, default=3e-4, help="FLOPS weight on queries")
    p.add_argument("--lambda-d", type=non_negative_float, default=1e-4, help="FLOPS weight on documents")
    p.add_argument("--flops-warmup", type=non_negative_int, default=None, help="steps of quadratic lambda warm-up (default: half)")
    p.add_argument("--hard-negatives", type=non_negative_int, default=0, help="BM25 negatives per pair (Pyserini)")
    p.add_argument("--bm25-depth", type=positive_int, default=50,
                   help="BM25 hits per query the hard negatives are drawn from")
    p.add_argument("--train-topk-q", type=positive_int, default=None, help="keep the top-k query weights in training")
    p.add_argument("--train-topk-d", type=positive_int, default=None, help="keep the top-k document weights in training")
    p.add_argument("--eval-every", type=positive_int, default=None, help="validate every N steps (always at the end)")
    p.add_argument("--no-validate", dest="validate", action="store_false", help="skip dev validation")
    p.add_argument("--freeze-head", action="store_true",
                   help="keep the output rows (head weight and bias) as the checkpoint has them; with tied "
                        "embeddings (SPLADE) the input embeddings too")
    p.add_argument("--no-validate-init", dest="validate_init", action="store_false",
                   help="do not validate the initial model (step 0)")
    p.add_argument("--out", required=True, help="checkpoint folder (written atomically)")
    _device_args(p)
    declare_paths(p, inputs=["init", "preset", "vocab", "train", "collection"], outputs={"out": guard.CHECKPOINT},
                  names=["device"])
    p.set_defaults(func=run_finetune)


def run_vocab(args):
    import json

    from esplade_eval.train.vocab import vocab_from_corpora, write_vocab

    vocab, meta = vocab_from_corpora(args.corpus, args.size, args.min_count, args.include_heldout,
                                     args.exclude_eval_docs, args.allow_eval_docs)
    path = write_vocab(args.out, vocab, meta)
    print(json.dumps({"size": len(vocab), "head": vocab[:10], "path": str(path)}, ensure_ascii=False))
    return 0


def run_pretrain(args):
    if args.steps is not None and args.repeats != 1:  # refused before anything is read or trained
        raise EspladeError(f"--steps {args.steps} with --repeats {args.repeats}: a fixed step budget ignores "
                           "repeats; give --epochs (the budget is then repeats x epochs passes) or drop --repeats")
    from esplade_eval.train.pretrain import PretrainConfig, pretrain

    cfg = PretrainConfig(corpora=args.corpus, vocab=args.vocab, vocab_size=args.vocab_size, preset=args.preset,
                         lr=args.lr, repeats=args.repeats, epochs=args.epochs, steps=args.steps,
                         batch_size=args.batch_size, max_length=args.max_length, mask_rate=args.mask_rate,
                         warmup=args.warmup, init_encoder=args.init_encoder, head_init=args.head_init,
                         align_steps=args.align_steps, align_lr=args.align_lr,
                         eval_texts=args.eval_texts,
                         seed=args.seed, threads=args.threads, device=args.device, progress=progress_of(args),
                         exclude_eval_docs=args.exclude_eval_docs, allow_eval_docs=args.allow_eval_docs)
    out = pretrain(cfg, args.out, overwrite=args.overwrite)
    _print_summary(out / "training_state.json", ["steps", "tokens_seen", "passes_per_corpus", "repeats_done",
                                                 "tokens_per_s", "wall_time_s", "heldout_mlm"])
    return 0


def run_finetune(args):
    from esplade_eval.train.finetune import FinetuneConfig, finetune

    cfg = FinetuneConfig(init=args.init, preset=args.preset, vocab=args.vocab, train=args.train,
                         collection=args.collection, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                         lambda_q=args.lambda_q, lambda_d=args.lambda_d, flops_warmup=args.flops_warmup,
                         hard_negatives=args.hard_negatives, bm25_depth=args.bm25_depth,
                         train_topk_q=args.train_topk_q, train_topk_d=args.train_topk_d, eval_every=args.eval_every,
                         validate=args.validate, validate_init=args.validate_init, freeze_head=args.freeze_head,
                         seed=args.seed,
                         threads=args.threads, device=args.device, progress=progress_of(args))
    out = finetune(cfg, args.out, overwrite=args.overwrite)
    _print_summary(out / "finetune_state.json", ["steps", "probe_loss_before", "probe_loss_after", "best",
                                                 "wall_time_s"],
                   {"best": None} if args.validate else {"best": "no validation (--no-validate): the checkpoint "
                                                                 "holds the last step's weights"})
    return 0


def _print_summary(path, keys, instead: dict | None = None):
    """The state's ``keys``; ``instead`` replaces a value by words when it has one."""
    import json

    with open(path, encoding="utf-8") as fh:
        state = json.load(fh)
    print(json.dumps({k: (instead or {}).get(k) or state.get(k) for k in keys}, indent=2))
    print(f"written: {path.parent}")
