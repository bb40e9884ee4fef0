"""Embedded tasks that need no download: date normalisation and toy sequence tasks.

All are seeded and reproducible. The toy tasks work on token ids directly
(ids 4 .. vocab_size - 1; 0-3 are reserved); the date task on strings.
"""

import datetime
import functools
import random
import re

import numpy as np
from babel.dates import format_date, get_date_format

from s2s_keras.data.special_ids import RESERVED_TOKENS

# --- date normalisation -------------------------------------------------------------------

# Locales whose CLDR formats are rendered, with the widths used. en_US "short"
# (M/d/yy) is left out: it would collide with the day-first short formats of
# the other locales ("3/4/21"), making the task ambiguous.
DATE_LOCALES = {
    "en_US": ("medium", "long", "full"),
    "en_GB": ("short", "medium", "long", "full"),
    "fr_FR": ("short", "medium", "long", "full"),
    "de_DE": ("short", "medium", "long", "full"),
    "es_ES": ("short", "medium", "long", "full"),
    "it_IT": ("short", "medium", "long", "full"),
    "pt_BR": ("short", "medium", "long", "full"),
    "nl_NL": ("short", "medium", "long", "full"),
}
# Extra patterns (CLDR syntax) and English ordinals, which CLDR does not render.
DATE_PATTERNS = ("yyyy/MM/dd", "d MMM y", "dd.MM.yyyy", "EEE d MMM yyyy")
# Dates are drawn from these years. Two-digit years ("3/3/21") are rendered only for years in
# TWO_DIGIT_YEARS, the window in which they are read, so that every source names one date.
FIRST_YEAR, LAST_YEAR = 1800, 2199
TWO_DIGIT_YEARS = (1950, 2049)


@functools.lru_cache(maxsize=None)
def _has_two_digit_year(locale, width):
    return re.search(r"(?<!y)yy(?!y)", get_date_format(width, locale=locale).pattern) is not None


def _ordinal(day):
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _english_ordinal(date, rng):
    month = format_date(date, "MMMM", locale="en")
    if rng.random() < 0.5:
        return f"{_ordinal(date.day)} of {month}, {date.year}"
    return f"{month} {_ordinal(date.day)}, {date.year}"


def format_human_date(date, rng):
    """One human rendering of `date`, chosen with `rng` among locales and patterns.

    Formats with a two-digit year are chosen only for years in `TWO_DIGIT_YEARS`.
    """
    kind = rng.random()
    if kind < 0.75:
        locale = rng.choice(sorted(DATE_LOCALES))
        widths = DATE_LOCALES[locale]
        if not TWO_DIGIT_YEARS[0] <= date.year <= TWO_DIGIT_YEARS[1]:
            widths = tuple(w for w in widths if not _has_two_digit_year(locale, w))
        return format_date(date, rng.choice(widths), locale=locale)
    if kind < 0.9:
        return format_date(date, rng.choice(DATE_PATTERNS), locale="en")
    return _english_ordinal(date, rng)


def date_pairs(num_examples, seed=0):
    """Pairs `(human date, ISO date)`, e.g. `("le 3 mars 2021" style text, "2021-03-03")`.

    Dates are drawn uniformly from 1800-01-01 to 2199-12-31 and rendered in
    one of many CLDR formats (Babel) of eight locales, or an English ordinal
    form ("3rd of March, 2021"). Two-digit years ("03.03.21") appear only
    for 1950-2049, the window in which they are read.

    Args:
        num_examples: number of pairs.
        seed: random seed; the same seed gives the same pairs.

    Returns:
        A list of `(source, target)` string pairs.

    Example:
    >>> date_pairs(2, seed=1)
    [('8 June 1896', '1896-06-08'), ('terça-feira, 19 de agosto de 1884', '1884-08-19')]
    """
    rng = random.Random(seed)
    first = datetime.date(FIRST_YEAR, 1, 1).toordinal()
    last = datetime.date(LAST_YEAR, 12, 31).toordinal()
    pairs = []
    for _ in range(num_examples):
        date = datetime.date.fromordinal(rng.randint(first, last))
        pairs.append((format_human_date(date, rng), date.isoformat()))
    return pairs


# --- toy sequence tasks on ids --------------------------------------------------------------

TOY_TASKS = ("copy", "reverse", "sort")
FIRST_TOKEN_ID = len(RESERVED_TOKENS)


def toy_pairs(task, num_examples, min_length, max_length, vocab_size, seed=0):
    """Pairs of id sequences for a toy task: copy, reverse or sort the source.

    Args:
        task: "copy", "reverse" or "sort".
        num_examples: number of pairs.
        min_length, max_length: source length range (inclusive).
        vocab_size: ids are drawn from 4 .. vocab_size - 1.
        seed: random seed.

    Returns:
        A list of `(source_ids, target_ids)` int32 numpy arrays, without
        `[START]`/`[END]` (see `pad_pairs`).

    Example:
    >>> src, tgt = toy_pairs("reverse", 1, 3, 3, 10, seed=0)[0]
    >>> bool((tgt == src[::-1]).all())
    True
    """
    if task not in TOY_TASKS:
        raise ValueError(f"`task` must be one of {TOY_TASKS}. Received: task={task!r}")
    if not 0 < min_length <= max_length:
        raise ValueError(f"Need 0 < min_length <= max_length. Received: min_length={min_length}, max_length={max_length}")
    if vocab_size <= FIRST_TOKEN_ID:
        raise ValueError(f"`vocab_size` must exceed {FIRST_TOKEN_ID}. Received: vocab_size={vocab_size}")
    rng = np.random.default_rng(seed)
    transform = {"copy": lambda s: s, "reverse": lambda s: s[::-1], "sort": np.sort}[task]
    pairs = []
    for _ in range(num_examples):
        length = int(rng.integers(min_length, max_length + 1))
        source = rng.integers(FIRST_TOKEN_ID, vocab_size, size=length).astype("int32")
        pairs.append((source, transform(source).astype("int32")))
    return pairs
