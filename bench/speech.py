"""Speech to text on the Free Spoken Digit Dataset: train, then WER/CER, greedy and beam 5, and real-time factor.

Utterances of 1-7 digits of one speaker are built from FSDD's recordings (`data.fsdd_utterances`). Each model
trains with its recipe (`training.train_speech`) for at most `--minutes` of training time, then is scored on two
test sets: the dataset's own split (recording indices 0-4 of the training speakers) and one speaker held out
entirely. The Transcriber with beam 5 is exported, and its real-time factor (seconds of compute per second of
audio) is measured through the export, one utterance at a time and in batches of 32.

    .venv/bin/python bench/speech.py --out /tmp/speech-runs [--models las speech_transformer] [--minutes 30]
        [--set spec_augment=true --set dropout=0.1]   # builder overrides on top of the recipe's
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from s2s_keras import Transcriber, export  # noqa: E402
from s2s_keras.cli import _override  # noqa: E402
from s2s_keras.data import fsdd_utterances  # noqa: E402
from s2s_keras.decoding import BeamSearch, GreedySearch  # noqa: E402
from s2s_keras.speech_metrics import score_transcripts  # noqa: E402
from s2s_keras.training.precision import matmul_peak  # noqa: E402
from s2s_keras.training.speech import is_speech_run, load_speech_run, train_speech  # noqa: E402

FSDD = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "fsdd")


def real_time_factor(transcribe, waveforms, batch_size, sample_rate):
    """Seconds of compute per second of audio, transcribing `waveforms` in batches of `batch_size`."""
    transcribe(waveforms[:batch_size])  # warm-up: traces the graph
    start = time.perf_counter()
    for i in range(0, len(waveforms), batch_size):
        transcribe(waveforms[i:i + batch_size])
    seconds = time.perf_counter() - start
    return seconds / (sum(len(w) for w in waveforms) / sample_rate)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="folder for the runs (one subfolder per model)")
    parser.add_argument("--models", nargs="+", default=["las", "speech_transformer"])
    parser.add_argument("--fsdd", default=FSDD)
    parser.add_argument("--minutes", type=float, default=30.0, help="training time per model")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--train-utterances", type=int, default=3000)
    parser.add_argument("--test-utterances", type=int, default=300)
    parser.add_argument("--rtf-utterances", type=int, default=64)
    parser.add_argument("--set", type=_override, action="append", default=[], metavar="KEY=VALUE",
                        help="a builder override on top of the recipe's, as `s2s-keras train --set`: dropout=0.1")
    args = parser.parse_args()
    overrides = dict(args.set)
    print(f"{os.cpu_count()} CPU cores; matmul peaks float32 {matmul_peak('float32') / 1e9:.0f}, "
          f"bfloat16 {matmul_peak('bfloat16') / 1e9:.0f} GFLOP/s", flush=True)
    train = fsdd_utterances(args.fsdd, "train", args.train_utterances, seed=0)
    valid = fsdd_utterances(args.fsdd, "train", args.test_utterances, seed=1)  # model selection only
    tests = {"own split": fsdd_utterances(args.fsdd, "test", args.test_utterances, seed=2),
             "held-out speaker": fsdd_utterances(args.fsdd, "speaker", args.test_utterances, seed=3)}
    audio_hours = sum(len(w) for w in train[0]) / 8000 / 3600
    print(f"train: {len(train[0])} utterances, {audio_hours:.2f} h of audio; tests: "
          + ", ".join(f"{name} {len(t[0])}" for name, t in tests.items()), flush=True)
    rows = []
    for name in args.models:
        folder = os.path.join(args.out, name)
        start = time.time()
        if is_speech_run(folder):
            model, tokenizer = load_speech_run(folder)
            trained = "(loaded)"
        else:
            model, tokenizer, history = train_speech(name, train, valid, folder, epochs=args.epochs,
                                                     minutes=args.minutes, overrides=overrides)
            trained = f"{len(history['loss'])} epochs, {(time.time() - start) / 60:.1f} min"
            trained += "".join(f", {key}={value}" for key, value in overrides.items())
        for search_name, search in (("greedy", GreedySearch(max_length=80)),
                                    ("beam 5", BeamSearch(beam_size=5, max_length=80))):
            transcriber = Transcriber(model, tokenizer, search=search)
            for test_name, (waveforms, references) in tests.items():
                scores = score_transcripts(transcriber(waveforms), references)
                rows.append(f"| {name} | {trained} | {search_name} | {test_name} | {scores.wer:.1f} | "
                            f"{scores.cer:.1f} |")
                print(rows[-1], flush=True)
        exported = export.save(transcriber, os.path.join(folder, "export"))  # beam 5
        served = export.load(exported)
        waveforms = tests["own split"][0][: args.rtf_utterances]
        for batch_size in (1, 32):
            rtf = real_time_factor(served, waveforms, batch_size, model.sample_rate)
            print(f"| {name} | export, beam 5 | batch {batch_size} | real-time factor {rtf:.4f} |", flush=True)
    print("\n| model | training | search | test set | WER % | CER % |\n|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    sys.exit(main())
