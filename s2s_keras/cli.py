"""The `s2s-keras` command line: demo, models, train, evaluate, translate, transcribe, average, export, serve.

Every subcommand has `--help` with examples. Errors print one line
(`s2s-keras: error: ...`) and exit with status 2, never a traceback.
"""

import argparse
import io
import os
import sys
import time

# The demo's promise at its default size; `s2s-keras demo` at that size exits 1 below it.
DEMO_TARGET_ACCURACY = 0.95
DEMO_EPOCHS, DEMO_TRAIN_SIZE = 3, 30000
# Sentences per batch for `evaluate` and `translate`, as `evaluation.evaluate`'s default: 64 per search loop on
# 2 cores, 1.12x the sentences/s of batches of 64 (docs/tuning.md). Speech keeps 64 utterances.
TRANSLATION_BATCH, TRANSCRIPTION_EVALUATION_BATCH = 128, 64
READ_AHEAD_BATCHES = 16  # `translate` sorts this many batches' sentences by length at a time
RECIPE = "default: the model's recipe"
# The `train` flags a recipe fills in when they are not given (`training.settings.RECIPE_FIELDS`).
RECIPE_FLAGS = ("tokenizer", "vocab_size", "tokens_per_batch", "max_length", "bucket_width", "learning_rate",
                "warmup_steps", "label_smoothing", "dtype_policy", "keep")

EXAMPLES = {
    "demo": """examples:
  s2s-keras demo                              # about 2 minutes on 2 CPU cores
  s2s-keras demo --output /tmp/dates --epochs 1 --train-size 5000
  s2s-keras demo --export saved_models/dates  # also export a SavedModel with beam search
""",
    "models": """examples:
  s2s-keras models
  s2s-keras models gru_attention
""",
    "train": """examples:
  s2s-keras train transformer_small --data ../shared/data/tatoeba-spa-eng/train.tsv --columns 1,0 \\
      --valid ../shared/data/tatoeba-spa-eng/valid.tsv --output runs/spa-eng --time-budget 30
  s2s-keras train gru_attention --data task:dates --tokenizer char --output runs/dates --epochs 3
  s2s-keras train lstm_luong --data corpus.de.gz,corpus.en.gz --valid dev.de,dev.en --output runs/de-en --patience 3
  s2s-keras train gru_attention --data tfds:ted_hrlr_translate/pt_to_en --tfds-keys pt,en --output runs/pt-en
  s2s-keras train transformer_small --data train.tsv --output runs/big --strategy mirrored --save-every 500
  s2s-keras train transformer_small --data train.tsv --output runs/plain --recipe none --vocab-size 8000
  TF_CONFIG='{"cluster": {"worker": ["h1:2222", "h2:2222"]}, "task": {"type": "worker", "index": 0}}' \\
      s2s-keras train gru_attention --data train.tsv --output /shared/runs/mw --strategy multi-worker
  s2s-keras train las --data audio/train --valid audio/valid --output runs/digits --time-budget 30
A speech model (las, speech_transformer) trains on audio folders: WAV files and a transcripts.tsv of lines
file.wav<TAB>transcript (`s2s_keras.data.write_audio_folder` writes one).
Settings not given come from the model's recipe (`s2s-keras models MODEL` prints it); each flag overrides one
of them, and OUTPUT/run.json records every setting and where it came from. With --valid, model.keras holds
the epoch with the lowest validation loss (--keep last: the last weights), each epoch reports BLEU and chrF
on --bleu-sample validation sources, and OUTPUT/training_curves.png draws them.
Run the same command again to resume an interrupted run: it continues from the last backup (each epoch,
or every --save-every batches) with the settings it recorded and the same data order.
""",
    "evaluate": """examples:
  s2s-keras evaluate runs/spa-eng --data test.tsv --columns 1,0 --beam-size 5
  s2s-keras evaluate runs/spa-eng --data test.tsv --columns 1,0 --beam-size 5 --precision int8
  s2s-keras evaluate runs/spa-eng --ensemble runs/spa-eng-seed1 --data test.tsv --columns 1,0 --beam-size 5
  s2s-keras evaluate saved_models/dates --data task:dates
  s2s-keras evaluate runs/digits --data audio/test --beam-size 5      # a speech run: WER and CER
""",
    "transcribe": """examples:
  s2s-keras transcribe runs/digits one.wav two.wav --beam-size 5
  s2s-keras transcribe saved_models/digits recordings/*.wav
""",
    "translate": """examples:
  s2s-keras translate saved_models/dates "3. März 2021" "le 4 avril 1999"
  s2s-keras translate runs/spa-eng --beam-size 5 --file sentences.txt > translations.txt
  echo "¿Dónde está la biblioteca?" | s2s-keras translate runs/spa-eng
  s2s-keras translate runs/spa-eng "¿Dónde está la biblioteca?" --prefix "Where's"   # continue a given start
""",
    "export": """examples:
  s2s-keras export runs/spa-eng saved_models/spa-eng --beam-size 5 --length-penalty 0.6
  s2s-keras export runs/spa-eng saved_models/spa-eng --beam-size 5 --precision int8   # a smaller export
""",
    "average": """examples:
  s2s-keras average runs/spa-eng --last 5     # writes runs/spa-eng/model_avg5.keras
  s2s-keras export runs/spa-eng saved_models/spa-eng --model model_avg5.keras
""",
    "serve": """examples:
  s2s-keras serve saved_models/dates --port 8501
  curl -d '{"instances": ["3 mars 2021"]}' http://127.0.0.1:8501/v1/models/dates:predict
""",
}


def _positive_int(text):
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _non_negative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text}")
    return value


def _positive_float(text):
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _port(text):
    value = int(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 1 to 65535, got {text}")
    return value


def _pair(text):
    parts = text.split(",")
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"expected two comma-separated values, got {text!r}")
    return tuple(parts)


def _columns(text):
    try:
        return tuple(int(p) for p in _pair(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected two column numbers like 1,0, got {text!r}") from None


def _override(text):
    """`KEY=VALUE` → `(key, value)`: a Python literal, true/false, or else the bare string (`--set`'s type)."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    import ast

    if value.lower() in ("true", "false"):  # --set bidirectional=false
        return key, value.lower() == "true"
    try:
        value = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        pass  # a bare string such as general
    return key, value


def _add_search_flags(parser):
    parser.add_argument("--beam-size", type=_positive_int, default=None, help="beam search width (default: greedy)")
    parser.add_argument("--length-penalty", type=float, default=0.6,
                        help="GNMT length penalty alpha, beam only (default 0.6; 0: none)")
    parser.add_argument("--max-length", type=_positive_int, default=100, help="most output tokens")
    parser.add_argument("--early-stopping", action="store_true",
                        help="beam only: stop once the best hypothesis has ended, not every beam (faster; exact "
                             "without a length penalty)")


def _add_precision_flag(parser):
    # models.precision.INFERENCE_PRECISIONS, written out: `--help` must not wait for Keras to import
    parser.add_argument("--precision", choices=("float32", "mixed_bfloat16", "bfloat16", "bfloat16_logits", "int8"),
                        default=None,
                        help="run a training run's model in this precision (default: as trained, with the "
                             "weights of a mixed_bfloat16 Transformer rounded to bfloat16 once: the same "
                             "outputs, faster): float32; "
                             "mixed_bfloat16 (bfloat16 arithmetic, fast on CPUs with AMX or AVX-512 BF16); bfloat16 "
                             "(the same arithmetic with bfloat16 weights: no casts, a smaller export); "
                             "bfloat16_logits (bfloat16 with the output projection in bfloat16 too: the fastest, "
                             "translations may differ a little); int8 "
                             "(int8 weights in every Dense and Embedding layer: a smaller export)")


def _add_threads_flag(parser):
    parser.add_argument("--intra-op-threads", type=_non_negative_int, default=None, metavar="N",
                        help="threads each TensorFlow op may use (default: 1 on a machine with at most 2 cores, "
                             "where it decodes faster with the same outputs, else TensorFlow's default; "
                             "0: TensorFlow's default, every core)")


def _add_ensemble_flag(parser):
    parser.add_argument("--ensemble", action="append", default=None, metavar="RUN",
                        help="another training run decoded together with the first as one model (the mean of "
                             "their log-probabilities; repeat for more); it must use the same tokenizers")


def make_parser():
    parser = argparse.ArgumentParser(prog="s2s-keras", description="Sequence-to-sequence models for Keras 3.")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name, help_text, description=None):
        return sub.add_parser(name, help=help_text, description=description or help_text, epilog=EXAMPLES[name],
                              formatter_class=argparse.RawDescriptionHelpFormatter)

    demo = add("demo", "train gru_attention to normalise dates and show what it learned")
    demo.add_argument("--output", default="outputs/demo", help="folder for the model and the attention plot")
    demo.add_argument("--epochs", type=_positive_int, default=DEMO_EPOCHS, help=f"training epochs (default {DEMO_EPOCHS})")
    demo.add_argument("--train-size", type=_positive_int, default=DEMO_TRAIN_SIZE,
                      help=f"generated training pairs (default {DEMO_TRAIN_SIZE})")
    demo.add_argument("--test-size", type=_positive_int, default=1000, help="held-out pairs (default 1000)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument("--export", default=None, help="also export a SavedModel (beam 4) to this model folder")

    models = add("models", "list the registered models; with a name, its defaults and training recipe")
    models.add_argument("name", nargs="?", help="show one model's overrides, defaults and training recipe")

    train = add("train", "train a model on a TSV file, parallel files, a TFDS dataset or an embedded task")
    train.add_argument("model", help="a registered model name (see `s2s-keras models`)")
    train.add_argument("--data", required=True, help="TSV file, SOURCE,TARGET files, tfds:NAME or task:NAME")
    train.add_argument("--valid", help="validation data, in the same forms (enables the best-epoch model, "
                                       "validation BLEU/chrF and --patience)")
    train.add_argument("--output", required=True, help="the run folder (resumed when it exists)")
    train.add_argument("--recipe", choices=("model", "none"), default="model",
                       help="model (default): every setting below that is not given comes from the model's recipe "
                            "(`s2s-keras models NAME`); none: the plain settings")
    train.add_argument("--columns", type=_columns, default=(0, 1), help="TSV source,target columns (default 0,1)")
    train.add_argument("--tfds-keys", type=_pair, default=None, help="TFDS source,target feature names")
    train.add_argument("--tokenizer", choices=["wordpiece", "sentencepiece", "char"], default=None, help=RECIPE)
    train.add_argument("--vocab-size", type=_positive_int, default=None, help=f"subwords per side; {RECIPE}")
    train.add_argument("--lower", action="store_true", help="lower-case the text")
    train.add_argument("--epochs", type=_positive_int, default=None,
                       help="most epochs (default 10, or with --time-budget as many as the budget allows)")
    train.add_argument("--time-budget", type=float, default=None, help="stop after this many minutes of training")
    train.add_argument("--batch-size", type=_positive_int, default=None,
                       help="pairs per batch (default: --tokens-per-batch decides)")
    train.add_argument("--tokens-per-batch", type=_positive_int, default=None, help=f"padded tokens per batch; {RECIPE}")
    train.add_argument("--max-length", type=_positive_int, default=None,
                       help=f"most tokens per side, longer pairs are dropped and counted; {RECIPE}")
    train.add_argument("--bucket-width", type=_non_negative_int, default=None,
                       help=f"length buckets every N tokens (1: one per length; 0: buckets 25%% apart); {RECIPE}")
    train.add_argument("--learning-rate", type=float, default=None, help=f"Adam's (peak) learning rate; {RECIPE}")
    train.add_argument("--warmup-steps", type=_non_negative_int, default=None,
                       help="warm up linearly to --learning-rate over N steps, then inverse square-root decay "
                            f"(0: a constant rate); {RECIPE}")
    train.add_argument("--label-smoothing", type=float, default=None, help=RECIPE)
    train.add_argument("--set", type=_override, action="append", default=[], metavar="KEY=VALUE",
                       help="a model override over the recipe's, e.g. --set units=256 (repeatable)")
    # training.precision.DTYPE_POLICIES, written out: `--help` must not wait for Keras to import
    train.add_argument("--dtype-policy", choices=("auto", "float32", "mixed_bfloat16", "mixed_float16"), default=None,
                       help="auto: mixed_bfloat16 where this machine's bfloat16 matmuls are >= 1.5x float32 "
                            "(measured once, cached), a GPU's supported mixed policy, else float32; "
                            "mixed_float16: GPUs (loss scaling). Variables, logits and loss stay float32. " + RECIPE)
    train.add_argument("--keep", choices=("best", "last"), default=None,
                       help="best: with --valid, model.keras holds the epoch with the lowest validation loss; "
                            f"last: the last weights; {RECIPE}")
    train.add_argument("--patience", type=_positive_int, default=None,
                       help="stop when the validation loss has not improved for N epochs (default: never)")
    train.add_argument("--bleu-sample", type=_non_negative_int, default=200,
                       help="validation sources scored (greedy BLEU and chrF) at each epoch end (default 200; 0: none)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--task-size", type=_positive_int, default=20000, help="pairs generated for task: data")
    train.add_argument("--jit-compile", action="store_true", help="compile the training step with XLA")
    train.add_argument("--strategy", choices=["mirrored", "multi-worker"], default=None,
                       help="tf.distribute strategy: mirrored (this machine's GPUs or CPUs) or multi-worker "
                            "(cluster from TF_CONFIG)")
    train.add_argument("--save-every", type=_positive_int, default=None,
                       help="also back up the training state every N batches (default: each epoch)")
    train.add_argument("--deterministic", action="store_true",
                       help="deterministic ops: a resumed run ends bit-identical to an uninterrupted one")

    evaluate = add("evaluate", "score a model with sacreBLEU (BLEU, chrF, TER) on a test set, or a speech model with "
                   "WER and CER on an audio folder",
                   "A source that occurs on several lines is translated once and scored against all of its "
                   "references (multi-reference BLEU, as docs/benchmarks.md scores Tatoeba). A speech run or export "
                   "is scored with jiwer's WER and CER on --data AUDIO_FOLDER.")
    evaluate.add_argument("path", help="a training run folder or an exported model folder")
    evaluate.add_argument("--data", required=True, help="test data: TSV file, SOURCE,TARGET files or task:NAME")
    evaluate.add_argument("--columns", type=_columns, default=(0, 1))
    evaluate.add_argument("--limit", type=_positive_int, default=None, help="score only the first N distinct sources")
    evaluate.add_argument("--batch-size", type=_positive_int, default=None,
                          help=f"sentences per batch (default {TRANSLATION_BATCH}), or utterances (default "
                               f"{TRANSCRIPTION_EVALUATION_BATCH})")
    _add_search_flags(evaluate)
    _add_precision_flag(evaluate)
    _add_ensemble_flag(evaluate)
    _add_threads_flag(evaluate)

    translate = add("translate", "translate sentences given as arguments, in a file, or on stdin")
    translate.add_argument("path", help="a training run folder or an exported model folder")
    translate.add_argument("sentences", nargs="*", help="sentences to translate (else --file or stdin)")
    translate.add_argument("--file", help="a file with one sentence per line")
    translate.add_argument("--batch-size", type=_positive_int, default=TRANSLATION_BATCH)
    translate.add_argument("--prefix", default=None,
                           help="every translation starts with this text and the search continues it")
    _add_search_flags(translate)
    _add_precision_flag(translate)
    _add_ensemble_flag(translate)
    _add_threads_flag(translate)

    transcribe = add("transcribe", "transcribe WAV files with a speech run or a speech export")
    transcribe.add_argument("path", help="a speech training run folder or an exported speech model folder")
    transcribe.add_argument("files", nargs="+", help="WAV files (mono or first channel, at the model's sample rate)")
    transcribe.add_argument("--batch-size", type=_positive_int, default=16)
    _add_search_flags(transcribe)

    average = add("average", "average the last N epoch checkpoints of a run into a new model")
    average.add_argument("run", help="the training run folder")
    average.add_argument("--last", type=_positive_int, default=5, help="checkpoints to average (default 5)")
    average.add_argument("--output", default=None, help="the .keras file to write (default RUN/model_avgN.keras)")

    export = add("export", "export a training run as a string-to-string SavedModel (TF Serving layout)")
    export.add_argument("run", help="the training run folder")
    export.add_argument("--model", default=None, help="a .keras file inside the run to export (default model.keras)")
    export.add_argument("target", help="the model folder, e.g. saved_models/NAME (a new version is added)")
    export.add_argument("--jit-compile", action="store_true", help="compile the encoder and search with XLA "
                        "(lower single-sentence latency, slower on batches)")
    _add_search_flags(export)
    _add_precision_flag(export)
    _add_ensemble_flag(export)
    _add_threads_flag(export)  # an export keeps the search loops its Translator was made with

    serve = add("serve", "serve an exported model over TF Serving's REST API")
    serve.add_argument("path", help="the exported model folder, e.g. saved_models/NAME")
    serve.add_argument("--port", type=_port, default=8501)
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    serve.add_argument("--name", default=None, help="model name in URLs (default: the folder's name)")
    serve.add_argument("--max-batch", type=_positive_int, default=64)
    serve.add_argument("--max-body-bytes", type=_positive_int, default=1 << 20)
    serve.add_argument("--max-input-chars", type=_positive_int, default=1000, help="longer inputs get 400")
    serve.add_argument("--max-concurrent", type=_positive_int, default=2, help="requests translated at once")
    serve.add_argument("--max-queued", type=_non_negative_int, default=32,
                       help="requests waiting for a turn; beyond them the server answers 503 with Retry-After")
    serve.add_argument("--read-timeout", type=_positive_float, default=30.0,
                       help="seconds a request's headers and body may take to arrive; then the connection closes")
    _add_threads_flag(serve)
    return parser


def _search(args):
    from s2s_keras.decoding import BeamSearch, GreedySearch

    if args.beam_size:
        return BeamSearch(beam_size=args.beam_size, length_penalty=args.length_penalty, max_length=args.max_length,
                          early_stopping=args.early_stopping)
    return GreedySearch(max_length=args.max_length)


def _open_translator(args):
    """A Translator from a run folder, or the loaded export from an export folder."""
    from s2s_keras.training.run_folder import MODEL_FILE

    if os.path.exists(os.path.join(args.path, MODEL_FILE)):
        from s2s_keras.translator import Translator

        model, source_tokenizer, target_tokenizer = _load_runs(args.path, args)
        return Translator(model, source_tokenizer, target_tokenizer, search=_search(args))
    from s2s_keras import export

    if args.ensemble:
        raise ValueError("--ensemble combines training runs; an export cannot be ensembled.")
    for flag, value in (("--beam-size", args.beam_size), ("--precision", args.precision)):
        if value:
            print(f"s2s-keras: note: an export carries its own search and precision; {flag} is ignored",
                  file=sys.stderr)
    return export.load(args.path)


def _load_runs(path, args, model_file=None):
    """The run's model (an `Ensemble` with the `--ensemble` runs) in `--precision`, and its tokenizers."""
    from s2s_keras.training.run_folder import load_run

    model, source_tokenizer, target_tokenizer = load_run(path, model_file=model_file)
    if not args.ensemble:
        return _in_precision(model, args), source_tokenizer, target_tokenizer
    from s2s_keras.models import Ensemble

    members = [_in_precision(model, args)]
    for other in args.ensemble:
        other_model, other_source, other_target = load_run(other)
        if other_source.tokens != source_tokenizer.tokens or other_target.tokens != target_tokenizer.tokens:
            raise ValueError(f"{other!r} was trained with other tokenizers than {path!r}: ensemble runs that share "
                             "them (copy the first run's tokenizers/ folder into a new run folder before training).")
        members.append(_in_precision(other_model, args))
    return Ensemble(members), source_tokenizer, target_tokenizer


def _in_precision(model, args):
    """The model in `--precision`, or by default in the fastest precision that gives its own outputs."""
    from s2s_keras.models.precision import fastest_exact_precision, inference_copy

    precision = args.precision or fastest_exact_precision(model)
    return model if precision is None else inference_copy(model, precision)


def _read_sentences(args):
    """The sentences from the arguments, `--file` or stdin; invalid UTF-8 becomes U+FFFD, as in the Translator.

    Only "\\n" (or "\\r\\n") ends a line: a lone "\\r" stays inside its sentence, so output line N
    always answers input line N.
    """
    if args.sentences:  # bytes that are not UTF-8 arrive as lone surrogates (PEP 383)
        return [s.encode("utf-8", "surrogateescape").decode("utf-8", "replace") for s in args.sentences]
    if args.file:
        if not os.path.isfile(args.file):
            raise ValueError(f"No such file: {args.file!r}")
        with open(args.file, encoding="utf-8", errors="replace", newline="\n") as f:
            return [_strip_line_end(line) for line in f]
    stdin = sys.stdin
    if hasattr(stdin, "buffer"):
        stdin = io.TextIOWrapper(stdin.buffer, encoding="utf-8", errors="replace", newline="\n")
    return [_strip_line_end(line) for line in stdin]


def _strip_line_end(line):
    line = line[:-1] if line.endswith("\n") else line
    return line[:-1] if line.endswith("\r") else line


def _run_demo(args):
    from s2s_keras.demo import run_date_demo

    extra = {"export_to": args.export} if args.export else {}
    result = run_date_demo(args.output, num_train=args.train_size, num_test=args.test_size,
                           epochs=args.epochs, seed=args.seed, **extra)
    default_size = (args.epochs, args.train_size) == (DEMO_EPOCHS, DEMO_TRAIN_SIZE)
    if default_size and result["accuracy"] < DEMO_TARGET_ACCURACY:
        print(f"s2s-keras: the demo reached {result['accuracy']:.1%}, below the {DEMO_TARGET_ACCURACY:.0%} it "
              "reaches at its default size: something is wrong.", file=sys.stderr)
        return 1
    return 0


def _run_models(args):
    from s2s_keras.models import get_recipe, list_models, model_defaults, model_source_kind

    for name in [args.name] if args.name else list_models():
        defaults = model_defaults(name)
        print(name + ("  (speech: reads waveforms, trains on audio folders)" if model_source_kind(name) == "audio"
                      else ""))
        if args.name:
            print("  builder defaults (--set KEY=VALUE):")
            for key, value in defaults.items():
                print(f"    {key} = {value!r}")
            recipe = get_recipe(name)
            print(f"  training recipe (`s2s-keras train` uses it for every flag not given; {recipe.note}):")
            for key, value in recipe.settings().items():
                print(f"    {key} = {value!r}")
            for rule in recipe.corpus_rules:
                print(f"    on at most {rule.max_pairs:,} training pairs: {rule.changes!r} ({rule.note})")
    return 0


def train_settings(args):
    """The `TrainSettings` of parsed `train` arguments: only the recipe settings given on the command line are set.

    `bench/quality.py` builds its runs with this too, so the benchmark trains what the command trains.
    """
    from s2s_keras.training.settings import TrainSettings

    given = {key: getattr(args, key) for key in RECIPE_FLAGS if getattr(args, key) is not None}
    for key in ("bucket_width", "warmup_steps"):  # 0: buckets 25% apart, a constant learning rate
        if given.get(key) == 0:
            given[key] = None
    return TrainSettings(
        model=args.model, data=args.data, output=args.output, valid=args.valid, recipe=args.recipe,
        columns=args.columns, tfds_keys=args.tfds_keys, lower=args.lower, epochs=args.epochs,
        time_budget=args.time_budget, batch_size=args.batch_size, overrides=dict(args.set), seed=args.seed,
        task_size=args.task_size, jit_compile=args.jit_compile, strategy=args.strategy, save_every=args.save_every,
        deterministic=args.deterministic, patience=args.patience, bleu_sample=args.bleu_sample, **given,
    )


def _run_train(args):
    from s2s_keras.models import model_source_kind

    if model_source_kind(args.model) == "audio":
        return _run_train_speech(args)
    from s2s_keras.training.run import train

    train(train_settings(args))  # prints what it saved, or that the run had finished before
    return 0


def _run_train_speech(args):
    from s2s_keras.data import load_audio_folder
    from s2s_keras.models import get_recipe
    from s2s_keras.training.speech import train_speech

    if not args.valid:
        raise ValueError("A speech model needs --valid AUDIO_FOLDER (it keeps the epoch with the lowest validation loss).")
    given = {key: getattr(args, key) for key in ("tokenizer", "vocab_size", "learning_rate", "label_smoothing",
                                                 "dtype_policy", "keep") if getattr(args, key) is not None}
    recipe = get_recipe(args.model).replace(**given)
    rate = dict(args.set).get("sample_rate", 8000)  # the builders' default
    train_speech(args.model, load_audio_folder(args.data, rate), load_audio_folder(args.valid, rate), args.output,
                 epochs=args.epochs or 30, minutes=args.time_budget, overrides=dict(args.set), recipe=recipe,
                 seed=args.seed)
    print(f"Saved the speech run to {args.output}")
    return 0


def _speech_path(path):
    """Whether `path` is a speech training run or a speech export."""
    from s2s_keras.export import versions
    from s2s_keras.export_metadata_file import read_metadata
    from s2s_keras.training.speech import is_speech_run

    if is_speech_run(path):
        return True
    if not os.path.exists(os.path.join(path, "saved_model.pb")):  # a model folder: its newest version
        found = versions(path)
        if not found:
            return False
        path = os.path.join(path, str(found[-1]))
    return read_metadata(path).get("kind") == "speech"


def _open_transcriber(args):
    """A Transcriber from a speech run folder, or the loaded export from an export folder."""
    from s2s_keras.training.speech import is_speech_run, load_speech_run

    if is_speech_run(args.path):
        from s2s_keras.transcriber import Transcriber

        model, tokenizer = load_speech_run(args.path)
        return Transcriber(model, tokenizer, search=_search(args))
    from s2s_keras import export

    if args.beam_size:
        print("s2s-keras: note: an export carries its own search; --beam-size is ignored", file=sys.stderr)
    served = export.load(args.path)
    if getattr(served, "kind", "text") != "speech":
        raise ValueError(f"{args.path!r} is a translation model: use `s2s-keras translate`.")
    return served


def _run_transcribe(args):
    transcriber = _open_transcriber(args)
    for start in range(0, len(args.files), args.batch_size):
        for line in transcriber(args.files[start : start + args.batch_size]):
            print(line, flush=False)
    sys.stdout.flush()
    return 0


def _warm_up(decoder, first):
    """Decodes `first` once before the timed pass: the first call traces the search graph (seconds), which the
    speed `evaluate` prints leaves out."""
    from s2s_keras.quiet_import import TOKENIZER_NOISE, dropped_stderr_lines

    started = time.perf_counter()
    with dropped_stderr_lines(TOKENIZER_NOISE):
        decoder(first)
    print(f"Search ready in {time.perf_counter() - started:.1f} s (traced once per process)", file=sys.stderr)


def _evaluate_speech(args):
    from s2s_keras.data import load_audio_folder
    from s2s_keras.speech_metrics import score_transcripts

    transcriber = _open_transcriber(args)
    sample_rate = getattr(transcriber, "sample_rate", None) or 8000
    waveforms, references = load_audio_folder(args.data, sample_rate)
    if args.limit:
        waveforms, references = waveforms[: args.limit], references[: args.limit]
    if waveforms:
        _warm_up(transcriber, waveforms[:1])
    start, hypotheses = time.perf_counter(), []
    batch_size = args.batch_size or TRANSCRIPTION_EVALUATION_BATCH
    for i in range(0, len(waveforms), batch_size):
        hypotheses += transcriber(waveforms[i : i + batch_size])
    seconds = time.perf_counter() - start
    audio_seconds = sum(len(w) for w in waveforms) / sample_rate
    print(f"{len(waveforms)} utterances, {audio_seconds / 60:.1f} minutes of audio")
    print(score_transcripts(hypotheses, references).summary())
    print(f"real-time factor {seconds / audio_seconds:.4f} (seconds of compute per second of audio)")
    return 0


def _run_evaluate(args):
    if _speech_path(args.path):
        return _evaluate_speech(args)
    from s2s_keras.data import open_source
    from s2s_keras.evaluation import evaluate, group_references, translate_all

    translator = _open_translator(args)
    pairs, skipped = [], 0
    for source, target in open_source(args.data, args.columns, split="test", task_size=args.limit or 1000,
                                      seed=12345).as_numpy_iterator():
        source, target = source.decode("utf-8", "replace"), target.decode("utf-8", "replace")
        if not source.strip() or not target.strip():  # a blank line, or no reference to score against
            skipped += 1
            continue
        pairs.append((source, target))
    if skipped:
        print(f"Skipped {skipped} line(s) with an empty source or reference, as training does.", file=sys.stderr)
    if not pairs:
        raise ValueError(f"No pair with a source and a reference in {args.data!r} to score.")
    sources, references = group_references(pairs)
    if args.limit:
        sources, references = sources[: args.limit], references[: args.limit]
    _warm_up(lambda first: translate_all(translator, first), sources[:1])  # the graph `evaluate` runs
    result = evaluate(translator, sources, references, args.batch_size or TRANSLATION_BATCH, progress=True)
    print(f"{len(sources)} sources, {sum(len(r) for r in references)} references")
    print(result.summary())
    return 0


def _run_translate(args):
    from s2s_keras.evaluation import translate_all
    from s2s_keras.quiet_import import TOKENIZER_NOISE, dropped_stderr_lines

    translator = _open_translator(args)
    sentences = _read_sentences(args)
    # Read ahead as CTranslate2 does: each chunk of batches is sorted by length (less padding) and decoded
    # with every search loop busy (`translate_all`), then printed in the input's order.
    chunk = args.batch_size * READ_AHEAD_BATCHES
    for start in range(0, len(sentences), chunk):
        part = sentences[start : start + chunk]
        with dropped_stderr_lines(TOKENIZER_NOISE):  # other lines written meanwhile still reach stderr, after it
            if args.prefix is None:
                lines = translate_all(translator, part, args.batch_size)
            else:
                lines = [line for first in range(0, len(part), args.batch_size)
                         for line in translator(part[first : first + args.batch_size], prefixes=args.prefix)]
        for line in lines:
            print(line.replace("\r", " ").replace("\n", " "), flush=False)  # one output line per input line
        sys.stdout.flush()
        if len(sentences) > chunk:
            print(f"\rtranslated {start + len(part)}/{len(sentences)}", end="", file=sys.stderr, flush=True)
    if len(sentences) > chunk:
        print(file=sys.stderr)
    return 0


def _run_export(args):
    from s2s_keras import export
    from s2s_keras.training.run_folder import load_run
    from s2s_keras.training.speech import is_speech_run, load_speech_run
    from s2s_keras.translator import Translator

    if is_speech_run(args.run):
        from s2s_keras.transcriber import Transcriber

        model, tokenizer = load_speech_run(args.run)
        print(export.save(Transcriber(_in_precision(model, args), tokenizer, search=_search(args)), args.target))
        return 0

    model, source_tokenizer, target_tokenizer = _load_runs(args.run, args, model_file=args.model)
    translator = Translator(model, source_tokenizer, target_tokenizer, search=_search(args),
                            jit_compile=args.jit_compile)
    print(export.save(translator, args.target))
    return 0


def _run_average(args):
    from s2s_keras.training.run_folder import average_run

    path, used = average_run(args.run, last=args.last, target=args.output)
    print(f"Averaged {len(used)} checkpoints ({', '.join(os.path.basename(p) for p in used)}) into {path}")
    return 0


def _run_serve(args):
    from s2s_keras.serving import serve

    serve(args.path, host=args.host, port=args.port, name=args.name, max_batch=args.max_batch,
          max_body_bytes=args.max_body_bytes, max_input_chars=args.max_input_chars,
          max_concurrent=args.max_concurrent, max_queued=args.max_queued, read_timeout=args.read_timeout)
    return 0


def _use_decoding_threads(asked):
    """`--intra-op-threads`, or the machine's fastest for decoding; set before TensorFlow runs an op."""
    from s2s_keras.cpu_threads import decoding_intra_op_threads, use_intra_op_threads

    if not use_intra_op_threads(decoding_intra_op_threads() if asked is None else asked) and asked is not None:
        print("s2s-keras: note: TensorFlow already runs in this process; --intra-op-threads is ignored",
              file=sys.stderr)


COMMANDS = {"demo": _run_demo, "models": _run_models, "train": _run_train, "evaluate": _run_evaluate,
            "translate": _run_translate, "transcribe": _run_transcribe, "export": _run_export, "average": _run_average,
            "serve": _run_serve}


def _is_tensorflow_op_error(error):
    """Whether `error` is a `tf.errors.OpError` (bad data met inside a graph), without importing TensorFlow."""
    tensorflow = sys.modules.get("tensorflow")
    return tensorflow is not None and isinstance(error, tensorflow.errors.OpError)


def main(argv=None):
    args = make_parser().parse_args(argv)  # --help and usage errors answer before TensorFlow loads
    from s2s_keras.quiet_import import import_tensorflow_quietly
    import_tensorflow_quietly()
    try:
        if hasattr(args, "intra_op_threads"):
            _use_decoding_threads(args.intra_op_threads)
        return COMMANDS[args.command](args)
    except Exception as error:
        if not isinstance(error, (ValueError, OSError)) and not _is_tensorflow_op_error(error):
            raise  # a bug, not bad input: keep the traceback
        text = getattr(error, "message", None) or str(error)  # an OpError's message without its graph context
        message = text.strip().splitlines()[0] if text.strip() else type(error).__name__
        print(f"s2s-keras: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("s2s-keras: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
