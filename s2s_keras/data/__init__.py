"""Data: tokenizers, pipelines, sources (and the data specs that name them), embedded tasks and padding.

Strings in, ids out, in-graph (docs/design.md, data contract)::

    recipe = get_recipe("transformer_small")       # s2s_keras.get_recipe: the model's training settings
    pairs = load_tsv("train.tsv")
    src_tok, tgt_tok = build_tokenizers(pairs, kind=recipe.tokenizer, vocab_size=recipe.vocab_size)
    train_ds = make_dataset(pairs, src_tok, tgt_tok, tokens_per_batch=recipe.tokens_per_batch,
                            bucket_width=recipe.bucket_width)
"""

from s2s_keras.data.audio import make_audio_dataset, read_wav
from s2s_keras.data.audio_folder import load_audio_folder, write_audio_folder
from s2s_keras.data.batching import pad_pairs, pad_sequences
from s2s_keras.data.char_tokenizer import CharTokenizer
from s2s_keras.data.epoch_order import EpochOrder
from s2s_keras.data.normalization import normalize_text
from s2s_keras.data.pipeline import count_batches, make_dataset, with_known_cardinality
from s2s_keras.data.sentencepiece_tokenizer import SentencePieceTokenizer
from s2s_keras.data.sources import (
    load_parallel_text, load_tfds, load_translate_folder, load_tsv, pairs_dataset, task_source,
)
from s2s_keras.data.specs import open_source
from s2s_keras.data.spoken_digits import DIGIT_WORDS, fsdd_utterances, load_fsdd, tone_utterances
from s2s_keras.data.stats import PipelineStats
from s2s_keras.data.tasks import date_pairs, toy_pairs
from s2s_keras.data.tokenizer import Tokenizer, load_tokenizer, tokenizer_kinds
from s2s_keras.data.tokenizer_pair import build_tokenizers
from s2s_keras.data.special_ids import END_ID, PAD_ID, RESERVED_TOKENS, START_ID, UNK_ID
from s2s_keras.data.wordpiece_tokenizer import WordPieceTokenizer

__all__ = [
    "CharTokenizer", "DIGIT_WORDS", "END_ID", "EpochOrder", "PAD_ID", "PipelineStats", "RESERVED_TOKENS",
    "START_ID", "SentencePieceTokenizer", "Tokenizer", "UNK_ID", "WordPieceTokenizer", "build_tokenizers",
    "count_batches", "date_pairs", "fsdd_utterances", "load_fsdd", "load_audio_folder", "load_parallel_text", "load_tfds",
    "load_tokenizer", "load_translate_folder", "load_tsv", "make_audio_dataset", "make_dataset", "normalize_text",
    "open_source", "pad_pairs", "pad_sequences", "pairs_dataset", "read_wav", "task_source", "tokenizer_kinds",
    "tone_utterances", "toy_pairs", "with_known_cardinality", "write_audio_folder",
]
