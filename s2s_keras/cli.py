"""The `s2s-keras` command line.

Subcommands: `demo` (train gru_attention on the date task) and `models`
(list the registered models and their defaults). Errors print one line and
exit with status 2, never a traceback.
"""

import argparse
import os
import sys

DEMO_EXAMPLES = """examples:
  s2s-keras demo                              # about 2 minutes on 2 CPU cores
  s2s-keras demo --output /tmp/dates --epochs 1 --train-size 5000
"""

MODELS_EXAMPLES = """examples:
  s2s-keras models
  s2s-keras models gru_attention
"""


# The demo's promise at its default size; `s2s-keras demo` exits 1 below it.
DEMO_TARGET_ACCURACY = 0.95


def _positive_int(text):
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def make_parser():
    parser = argparse.ArgumentParser(prog="s2s-keras", description="Sequence-to-sequence models for Keras 3.")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="train gru_attention to normalise dates and show what it learned",
                          epilog=DEMO_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    demo.add_argument("--output", default="outputs/demo", help="folder for the model and the attention plot")
    demo.add_argument("--epochs", type=_positive_int, default=3, help="training epochs (default 3)")
    demo.add_argument("--train-size", type=_positive_int, default=30000, help="generated training pairs (default 30000)")
    demo.add_argument("--test-size", type=_positive_int, default=1000, help="held-out pairs (default 1000)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")

    models = sub.add_parser("models", help="list the registered models and their defaults",
                            epilog=MODELS_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    models.add_argument("name", nargs="?", help="show one model's overrides and defaults")
    return parser


def run(args):
    if args.command == "demo":
        from s2s_keras.demo import run_date_demo

        result = run_date_demo(args.output, num_train=args.train_size, num_test=args.test_size,
                               epochs=args.epochs, seed=args.seed)
        return 0 if result["accuracy"] >= DEMO_TARGET_ACCURACY else 1
    if args.command == "models":
        from s2s_keras.models import list_models, model_defaults

        names = [args.name] if args.name else list_models()
        for name in names:
            defaults = model_defaults(name)
            print(name)
            if args.name:
                for key, value in defaults.items():
                    print(f"  {key} = {value!r}")
        return 0
    raise ValueError(f"unknown command {args.command!r}")


def main(argv=None):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = make_parser().parse_args(argv)
    try:
        return run(args)
    except (ValueError, OSError) as error:
        print(f"s2s-keras: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("s2s-keras: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
