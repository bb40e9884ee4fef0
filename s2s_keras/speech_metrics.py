"""Word and character error rates of transcriptions, with jiwer.

Corpus rates, as jiwer computes them: the substitutions, deletions and
insertions of every sentence summed, over the words (or characters) of every
reference summed. Texts are compared as given, apart from white space
(stripped, runs collapsed): normalise case and punctuation beforehand if they
should not count. Translation scores (BLEU, chrF, TER) are in `s2s_keras.evaluation`.
"""

from typing import NamedTuple

import jiwer


class TranscriptionScores(NamedTuple):
    """Corpus error rates of transcriptions, in percent (they can exceed 100 with many insertions).

    Attributes:
        wer: word error rate, (substitutions + deletions + insertions) / reference words * 100.
        cer: character error rate, the same over characters (spaces included).
        sentences: the number of sentences scored.
    """

    wer: float
    cer: float
    sentences: int

    def summary(self):
        """One line: "WER 33.33  CER 7.69  (1 sentences)"."""
        return f"WER {self.wer:.2f}  CER {self.cer:.2f}  ({self.sentences} sentences)"


def score_transcripts(hypotheses, references):
    """The word and character error rates of `hypotheses` against one reference each.

    An empty hypothesis counts every word of its reference as deleted; an
    empty reference counts every word of its hypothesis as inserted.

    Args:
        hypotheses: the transcriptions (strings).
        references: the correct transcripts, one per hypothesis.

    Returns:
        `TranscriptionScores(wer, cer, sentences)`, rates in percent.

    Raises:
        ValueError: the lists differ in length, are empty, or the references have no words.

    Example:
    >>> score_transcripts(["one too three"], ["one two three"])
    TranscriptionScores(wer=33.33333333333333, cer=7.6923076923076925, sentences=1)
    >>> score_transcripts(["", "four"], ["one two", "four"]).wer
    66.66666666666666
    """
    hypotheses, references = list(hypotheses), list(references)
    if len(hypotheses) != len(references):
        raise ValueError(f"Need one reference per hypothesis. Received: {len(hypotheses)} hypotheses, "
                         f"{len(references)} references")
    if not references:
        raise ValueError("Need at least one reference. Received: empty lists")
    bad = next((s for s in hypotheses + references if not isinstance(s, str)), None)
    if bad is not None:
        raise ValueError(f"Hypotheses and references must be strings. Received: {bad!r}")
    if not any(r.split() for r in references):
        raise ValueError("The references have no words; error rates divide by their length.")
    words = jiwer.process_words(references, hypotheses)
    characters = jiwer.process_characters(references, hypotheses)
    return TranscriptionScores(100 * words.wer, 100 * characters.cer, len(references))
