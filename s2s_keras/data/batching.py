"""Turning id sequences into padded teacher-forcing arrays."""

import numpy as np

from s2s_keras.data.special_ids import DEFAULT_SPECIAL_IDS, PAD_ID


def pad_sequences(sequences, length=None, pad_id=PAD_ID):
    """Right-pads int sequences with `pad_id` into an int32 array `(n, length)`."""
    length = max(len(s) for s in sequences) if length is None else length
    out = np.full((len(sequences), length), pad_id, dtype="int32")
    for i, s in enumerate(sequences):
        if len(s) > length:
            raise ValueError(f"Sequence {i} has {len(s)} tokens, more than length={length}.")
        out[i, : len(s)] = s
    return out


def pad_pairs(pairs, source_length=None, target_length=None, source_special_ids=DEFAULT_SPECIAL_IDS,
              target_special_ids=DEFAULT_SPECIAL_IDS):
    """Makes the model's inputs and labels from `(source_ids, target_ids)` pairs.

    The target becomes `[START] t… [END]`; `target_in` drops its last token and
    `target_out` its first (teacher forcing).

    Args:
        pairs: `(source_ids, target_ids)` sequences without reserved tokens.
        source_length: pad sources to this length (default: the longest).
        target_length: pad targets (with `[START]`/`[END]`) to this length.
        source_special_ids, target_special_ids: the vocabularies' `SpecialIds` (default: ids 0-3).

    Returns:
        `({"source": (n, src_len), "target_in": (n, tgt_len - 1)}, target_out (n, tgt_len - 1))`.

    Example:
    >>> inputs, labels = pad_pairs([([5, 6], [7])])
    >>> inputs["target_in"].tolist(), labels.tolist()
    ([[2, 7]], [[7, 3]])
    """
    start, end = target_special_ids.start, target_special_ids.end
    sources = pad_sequences([list(s) for s, _ in pairs], source_length, source_special_ids.pad)
    targets = pad_sequences([[start, *t, end] for _, t in pairs], target_length, target_special_ids.pad)
    return {"source": sources, "target_in": targets[:, :-1]}, targets[:, 1:]
