"""Our Transformer decoding against CTranslate2's, side by side on the same CPU, in one run.

The peer (`../shared/peers/opennmt-tf/run.sh transformer_small STEPS` with `PEER_CT2=1`) trains OpenNMT-tf's
Transformer of the same size (d 256, 3 + 3 layers, 8 heads, d_ff 512) on Tatoeba spa→eng and exports it to
CTranslate2. This script times, one after the other on this machine: CTranslate2 decoding that export (the
peer's own protocol, in its virtual environment: float32 and int8, with the protocol's 2 threads per op and
with ours, 2 translators of 1 thread each), our Translator on a trained
run of `transformer_small` in each precision, with the same protocol and the command line's threads per op,
and CTranslate2 again (the ratios use its best round and threading): the distinct Spanish sources of
test.tsv, beam 4, length penalty 0.6, at most 80 tokens; sentences/s in batches of 32 per worker (sorted by
length, as CTranslate2 sorts them: its 2 translators each decode a batch of 32, our Translator a batch of 32
per search loop), p50 / p99 of one sentence at a time over the first 200 sources; BLEU against all
references; `--xla` precisions again with `jit_compile=True`, timed once every shape is compiled;
`--early-stopping` precisions again with CTranslate2's stopping rule (a source ends once its best-ranked
hypothesis has ended: `BeamSearch(early_stopping=True)`; ours otherwise runs the exact search). It prints
each row and our figures divided by CTranslate2's.

    .venv/bin/python bench/ctranslate2.py --run runs/spa-eng [--peer-work /tmp/opennmt-tf-peer-work]
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from s2s_keras.cpu_threads import decoding_intra_op_threads, use_intra_op_threads  # noqa: E402
from s2s_keras.decoding import BeamSearch  # noqa: E402
from s2s_keras.evaluation import evaluate, group_references, translate_all  # noqa: E402
from s2s_keras.models import inference_copy  # noqa: E402
from s2s_keras.training.precision import matmul_peak  # noqa: E402
from s2s_keras.training.run_folder import load_run  # noqa: E402
from s2s_keras.translator import Translator  # noqa: E402

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "tatoeba-spa-eng")
BEAM, LENGTH_PENALTY, MAX_TOKENS, BATCH, LATENCY_SENTENCES = 4, 0.6, 80, 32, 200

# The peer's protocol (run.sh, PEER_CT2=1), run in its own virtual environment.
PEER_DECODE = r'''
import collections, statistics, sys, time
import ctranslate2, pyonmttok, sacrebleu
test, model_dir = sys.argv[1], sys.argv[2]
refs = collections.OrderedDict()
for line in open(test, encoding="utf-8"):
    english, spanish = line.rstrip("\n").split("\t")[:2]
    refs.setdefault(spanish, []).append(english)
sources = list(refs)
src_tok = pyonmttok.Tokenizer("none", sp_model_path="sp_es")
tgt_tok = pyonmttok.Tokenizer("none", sp_model_path="sp_en")
tokens = [src_tok.tokenize(s)[0] for s in sources]
width = max(len(r) for r in refs.values())
ref_streams = [[r[i] if i < len(r) else r[0] for r in refs.values()] for i in range(width)]
for compute_type, inter, intra in [(c, *threads) for threads in ((1, 2), (2, 1)) for c in ("float32", "int8")]:
    tr = ctranslate2.Translator(model_dir, device="cpu", compute_type=compute_type, inter_threads=inter,
                                intra_threads=intra)
    opts = dict(beam_size=4, length_penalty=0.6, max_decoding_length=80)
    tr.translate_batch(tokens[:32], max_batch_size=32, **opts)
    start = time.perf_counter()
    out = tr.translate_batch(tokens, max_batch_size=32, **opts)
    rate = len(tokens) / (time.perf_counter() - start)
    times = []
    for t in tokens[:200]:
        start = time.perf_counter()
        tr.translate_batch([t], **opts)
        times.append(1000 * (time.perf_counter() - start))
    times.sort()
    bleu = sacrebleu.corpus_bleu([tgt_tok.detokenize(o.hypotheses[0]) for o in out], ref_streams).score
    print(f"{compute_type},{inter}x{intra} {rate:.1f} {statistics.median(times):.1f} "
          f"{times[int(0.99 * (len(times) - 1))]:.1f} {bleu:.1f}")
'''


def peer_rows(work, venv):
    """CTranslate2's `{"compute_type,INTERxINTRA": (sentences/s, p50 ms, p99 ms, BLEU)}`, decoding the peer's
    export with its protocol's threads (1 translator × 2 threads) and with ours (2 translators × 1 thread)."""
    output = subprocess.run([os.path.join(venv, "bin", "python"), "-c", PEER_DECODE,
                             os.path.abspath(os.path.join(DATA, "test.tsv")), "ct2_transformer_small"],
                            cwd=work, check=True, capture_output=True, text=True).stdout
    rows = {}
    for line in output.splitlines():
        compute_type, *values = line.split()
        rows[compute_type] = tuple(float(v) for v in values)
    return rows


def print_peer(rows, when):
    for kind, (rate, p50, p99, bleu) in rows.items():
        compute_type, threads = kind.split(",")
        inter, intra = threads.split("x")
        print(f"| CTranslate2 3.24 (OpenNMT-tf export), {inter} translator(s) × {intra} thread(s), {when} ours | "
              f"{compute_type} | {rate:.1f} | {p50:.1f} | "
              f"{p99:.1f} | {bleu:.1f} |", flush=True)


def our_row(translator, sources, references):
    batch = BATCH * translator.parallel_loops  # a batch of 32 per search loop, as CTranslate2's per translator
    translate_all(translator, sources[:batch], batch_size=batch)  # the graph `evaluate` runs, traced untimed
    translator(sources[:1])  # and the one the latency rows run
    if translator.jit_compile:  # compile every (batch, length) bucket the timed passes meet, outside the timing
        evaluate(translator, sources, references, batch_size=batch)
        for sentence in sources[:LATENCY_SENTENCES]:
            translator([sentence])
    result = evaluate(translator, sources, references, batch_size=batch)  # sorted by length
    times = []
    for sentence in sources[:LATENCY_SENTENCES]:
        start = time.perf_counter()
        translator([sentence])
        times.append(1000 * (time.perf_counter() - start))
    times.sort()
    return len(sources) / result.seconds, statistics.median(times), times[int(0.99 * (len(times) - 1))], result.bleu


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="a trained transformer_small run (spa→eng)")
    parser.add_argument("--peer-work", default="/tmp/opennmt-tf-peer-work", help="run.sh's work folder")
    parser.add_argument("--peer-venv", default="/tmp/opennmt-tf-peer", help="run.sh's virtual environment")
    parser.add_argument("--precisions", nargs="+",
                        default=["float32", "mixed_bfloat16", "bfloat16", "bfloat16_logits", "int8"])
    parser.add_argument("--xla", nargs="*", default=["float32"],
                        help="precisions also timed with jit_compile=True (after compiling every shape met)")
    parser.add_argument("--early-stopping", nargs="*", default=["float32", "bfloat16", "bfloat16_logits"],
                        help="precisions also timed with CTranslate2's stopping rule (early_stopping=True)")
    parser.add_argument("--intra-op-threads", type=int, default=None,
                        help="threads per TensorFlow op (default: what the command line decodes with on this "
                             "machine, `decoding_intra_op_threads()`; 0: TensorFlow's default)")
    args = parser.parse_args()
    threads = decoding_intra_op_threads() if args.intra_op_threads is None else args.intra_op_threads
    use_intra_op_threads(threads)  # before TensorFlow runs an op
    print(f"{os.cpu_count()} CPU cores, {threads or 'all'} thread(s) per op; matmul peaks float32 "
          f"{matmul_peak('float32') / 1e9:.0f}, bfloat16 {matmul_peak('bfloat16') / 1e9:.0f} GFLOP/s", flush=True)
    with open(os.path.join(DATA, "test.tsv"), encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f]
    sources, references = group_references([(row[1], row[0]) for row in rows])
    peer_rounds = [peer_rows(args.peer_work, args.peer_venv)]  # again after ours: the CPU's speed drifts
    print(f"beam {BEAM}, α {LENGTH_PENALTY}, ≤ {MAX_TOKENS} tokens, {len(sources)} distinct sources; batches of "
          f"{BATCH} per worker (translator or search loop), sorted by length; latency over the first "
          f"{LATENCY_SENTENCES}, one at a time\n")
    print("| decoder | precision | sentences/s | p50 ms | p99 ms | BLEU |\n|---|---|---|---|---|---|")
    print_peer(peer_rounds[0], "before")
    model, source_tokenizer, target_tokenizer = load_run(args.run)
    ours = {}
    configurations = ([(p, False, False) for p in args.precisions] + [(p, True, False) for p in args.xla]
                      + [(p, False, True) for p in args.early_stopping])
    for precision, jit, early_stopping in configurations:
        search = BeamSearch(beam_size=BEAM, length_penalty=LENGTH_PENALTY, max_length=MAX_TOKENS + 1,  # + [END]
                            early_stopping=early_stopping)
        translator = Translator(inference_copy(model, precision), source_tokenizer, target_tokenizer, search=search,
                                jit_compile=jit, fastest_precision=False)  # this precision, as given
        label = precision + (" + XLA (warm)" if jit else "") + (" + early stopping" if early_stopping else "")
        ours[label] = our_row(translator, sources, references)
        rate, p50, p99, bleu = ours[label]
        print(f"| s2s_keras Translator | {label} | {rate:.1f} | {p50:.1f} | {p99:.1f} | {bleu:.1f} |", flush=True)
    peer_rounds.append(peer_rows(args.peer_work, args.peer_venv))
    print_peer(peer_rounds[1], "after")
    # each measure against CTranslate2's best: of the two rounds and of its two threadings
    peer = {}
    for rows in peer_rounds:
        for kind, (rate, p50, _, _) in rows.items():
            best_rate, best_p50 = peer.get(kind.split(",")[0], (0.0, float("inf")))
            peer[kind.split(",")[0]] = (max(best_rate, rate), min(best_p50, p50))
    print("\n| ours / CTranslate2 (its best round and threading) | sentences/s | p50 (lower is better) |\n"
          "|---|---|---|")
    fastest = max(ours, key=lambda p: ours[p][0])
    quickest = min(ours, key=lambda p: ours[p][1])
    for label, mine, theirs in (("float32 / float32", ours.get("float32"), peer.get("float32")),
                                ("float32 + early stopping (its stopping rule) / float32",
                                 ours.get("float32 + early stopping"), peer.get("float32")),
                                (f"{fastest} (our highest throughput) / int8", ours[fastest], peer.get("int8")),
                                (f"{quickest} (our lowest p50) / int8", ours[quickest], peer.get("int8"))):
        if mine and theirs:
            print(f"| {label} | {mine[0] / theirs[0]:.2f}× | {mine[1] / theirs[1]:.2f}× |")


if __name__ == "__main__":
    sys.exit(main())
