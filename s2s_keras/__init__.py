"""s2s_keras: sequence-to-sequence models, search and export for Keras 3.

The subpackages load on first use, so `import s2s_keras` (and the
`s2s-keras` command's `--help`) does not wait for TensorFlow.

Example:
>>> import s2s_keras as s2s
>>> model = s2s.build_model("gru_attention", source_vocab_size=100, target_vocab_size=100)  # doctest: +SKIP
"""

import importlib

__version__ = "0.1.0"

_SUBMODULES = ("cpu_threads", "data", "decoding", "evaluation", "export", "layers", "models", "plotting", "training")
_NAMES = {  # public name -> the module that defines it
    "build_model": "s2s_keras.models",
    "get_recipe": "s2s_keras.models",
    "list_models": "s2s_keras.models",
    "losses": "s2s_keras.training.losses",
    "metrics": "s2s_keras.training.metrics",
    "Transcriber": "s2s_keras.transcriber",
    "Translator": "s2s_keras.translator",
}
__all__ = sorted([*_SUBMODULES, *_NAMES], key=str.lower)


def __getattr__(name):
    if name in _SUBMODULES:
        value = importlib.import_module(f"s2s_keras.{name}")
    elif name in ("losses", "metrics"):
        value = importlib.import_module(_NAMES[name])
    elif name in _NAMES:
        value = getattr(importlib.import_module(_NAMES[name]), name)
    else:
        raise AttributeError(f"module 's2s_keras' has no attribute {name!r}")
    globals()[name] = value  # loaded once; later lookups do not come here
    return value


def __dir__():
    return sorted({*globals(), *__all__})
