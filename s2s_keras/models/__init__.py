"""Model builders: one registry, functional Keras models with an inference contract."""

from s2s_keras.models import rnn  # noqa: F401  (registers the recurrent models)
from s2s_keras.models import transformer  # noqa: F401  (registers the Transformers)
from s2s_keras.models import speech  # noqa: F401  (registers the speech models)
from s2s_keras.models.ensemble import Ensemble
from s2s_keras.models.precision import INFERENCE_PRECISIONS, fastest_exact_precision, inference_copy
from s2s_keras.models.recipe import PLAIN, CorpusRule, Recipe
from s2s_keras.models.registry import REGISTRY, build_model, get_recipe, list_models, model_defaults, model_source_kind
from s2s_keras.models.seq2seq import Seq2SeqModel, assemble_seq2seq
from s2s_keras.models.speech import SpeechSeq2SeqModel, assemble_speech_seq2seq

__all__ = ["Ensemble", "INFERENCE_PRECISIONS", "PLAIN", "REGISTRY", "CorpusRule", "Recipe", "Seq2SeqModel",
           "SpeechSeq2SeqModel", "assemble_seq2seq", "assemble_speech_seq2seq", "build_model",
           "fastest_exact_precision", "get_recipe", "inference_copy", "list_models", "model_defaults",
           "model_source_kind"]
