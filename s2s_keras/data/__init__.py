"""Data: reserved tokens, tokenizers, embedded tasks and padding."""

from s2s_keras.data.batching import pad_pairs, pad_sequences
from s2s_keras.data.char_tokenizer import CharTokenizer
from s2s_keras.data.tasks import date_pairs, toy_pairs
from s2s_keras.data.tokens import END_ID, PAD_ID, RESERVED_TOKENS, START_ID, UNK_ID

__all__ = [
    "CharTokenizer", "END_ID", "PAD_ID", "RESERVED_TOKENS", "START_ID", "UNK_ID",
    "date_pairs", "pad_pairs", "pad_sequences", "toy_pairs",
]
