"""The text normalisation every tokenizer applies first, in-graph.

Steps, in order:
1. Invalid UTF-8 is replaced: each ill-formed byte sequence becomes U+FFFD
   (the replacement character), so later ops never fail on bad input.
2. Optional lower-casing (`tf.strings.lower` with UTF-8, so "Ä" -> "ä").
3. Unicode normalisation (`tensorflow_text.normalize_utf8`, NFKC by default:
   "ﬁ" -> "fi", "①" -> "1", full-width "Ａ" -> "A", NBSP -> space).
4. Whitespace: every run of white space (ASCII or Unicode separators, line
   and paragraph separators) becomes one space; leading and trailing white
   space is removed.

The result is what `detokenize(tokenize(text))` gives back, so tests and
users can compare against `normalize_text(text)`.
"""

import tensorflow as tf
import tensorflow_text as text

NORMALIZATION_FORMS = ("NFKC", "NFC", None)
REPLACEMENT_CHARACTER = 0xFFFD
# \s is ASCII only in RE2; \p{Z} adds Unicode spaces and line/paragraph separators.
_WHITESPACE_RUN = r"[\s\p{Z}\x{0085}\x{000B}]+"


def check_normalization_form(normalization_form):
    """Raises `ValueError` unless `normalization_form` is one of `NORMALIZATION_FORMS`."""
    if normalization_form not in NORMALIZATION_FORMS:
        raise ValueError(
            f"`normalization_form` must be one of {NORMALIZATION_FORMS}. "
            f"Received: normalization_form={normalization_form!r}"
        )


def normalize_text(strings, lower=False, normalization_form="NFKC"):
    """Normalises UTF-8 strings in-graph (see the module docstring for the steps).

    Args:
        strings: a `tf.string` tensor of any shape (or something convertible).
        lower: whether to lower-case.
        normalization_form: "NFKC" (default), "NFC" or None (no Unicode normalisation).

    Returns:
        A `tf.string` tensor of the same shape, valid UTF-8.

    Example:
    >>> normalize_text(["  Ｃafé\\u00a0 ﬁne\\n"], lower=True).numpy().tolist()
    [b'caf\\xc3\\xa9 fine']
    """
    check_normalization_form(normalization_form)
    strings = tf.convert_to_tensor(strings, tf.string)
    strings = tf.strings.unicode_transcode(
        strings, "UTF-8", "UTF-8", errors="replace", replacement_char=REPLACEMENT_CHARACTER
    )
    if lower:
        strings = tf.strings.lower(strings, encoding="utf-8")
    if normalization_form is not None:
        strings = text.normalize_utf8(strings, normalization_form)
    strings = tf.strings.regex_replace(strings, _WHITESPACE_RUN, " ")
    return tf.strings.strip(strings)
