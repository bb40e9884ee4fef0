"""Spoken digit sequences: utterances joined from the Free Spoken Digit Dataset, and a synthetic tone task.

Both return `(waveforms, transcripts)`: float32 numpy waveforms `(samples,)`
in [-1, 1] at 8 kHz and transcripts of words ("four one seven"), ready for
`make_audio_dataset`. Both are seeded and reproducible (a numpy `Generator`).

- `fsdd_utterances` joins 1-7 recordings of one speaker from the Free Spoken
  Digit Dataset (FSDD: 3,000 WAV files, 6 speakers x 10 digits x 50 recordings,
  8 kHz mono 16-bit; Zohar Jackson and contributors, CC BY-SA 4.0) with short
  random silences, and adds light Gaussian noise.
- `tone_utterances` needs no data: each word is a fixed pattern of two or
  three sine "formants", so a tiny model learns it in a few steps (tests, demos).
"""

import collections
import os
import re

import numpy as np

from s2s_keras.checks import check_choice, check_positive_int
from s2s_keras.data.audio import SAMPLE_RATE, read_wav

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
FSDD_SPLITS = ("train", "test", "speaker")
FSDD_TEST_INDICES = range(0, 5)  # the dataset's own test split: indices 0-4 of every speaker and digit
HELD_OUT_SPEAKER = "theo"  # the "speaker" split (USA/neutral accent, like "jackson" who stays in train)
_RECORDING_NAME = re.compile(r"^(\d)_([A-Za-z]+)_(\d+)\.wav$")

FsddRecording = collections.namedtuple("FsddRecording", ["path", "digit", "speaker", "index"])


# --- the Free Spoken Digit Dataset ------------------------------------------------------------

def load_fsdd(root):
    """The recordings of a Free Spoken Digit Dataset folder, `root/recordings/{digit}_{speaker}_{index}.wav`.

    Args:
        root: the dataset folder (the one holding `recordings/`).

    Returns:
        A list of `FsddRecording(path, digit, speaker, index)` (`digit` and
        `index` ints), sorted by speaker, digit and index. Nothing is read but
        the file names.

    Raises:
        ValueError: the folder holds no recordings, or a `.wav` file whose
            name does not follow the pattern.

    Example:
    >>> recordings = load_fsdd("../shared/data/fsdd")  # doctest: +SKIP
    >>> len(recordings), recordings[0]  # doctest: +SKIP
    (3000, FsddRecording(path='../shared/data/fsdd/recordings/0_george_0.wav', digit=0, speaker='george', index=0))
    """
    folder = os.path.join(os.fspath(root), "recordings")
    names = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    recordings = []
    for name in names:
        if not name.endswith(".wav"):
            continue
        match = _RECORDING_NAME.match(name)
        if match is None:
            raise ValueError(f"{os.path.join(folder, name)!r} does not follow the FSDD pattern "
                             "{digit}_{speaker}_{index}.wav.")
        digit, speaker, index = match.groups()
        recordings.append(FsddRecording(os.path.join(folder, name), int(digit), speaker, int(index)))
    if not recordings:
        raise ValueError(f"No FSDD recordings ({{digit}}_{{speaker}}_{{index}}.wav) in {folder!r}. "
                         f"Received: root={root!r}")
    return sorted(recordings, key=lambda r: (r.speaker, r.digit, r.index))


def fsdd_split(recordings, split, held_out_speaker=HELD_OUT_SPEAKER):
    """The recordings of one split.

    Splits:
        "train": recording indices 5-49 of every speaker but `held_out_speaker`;
        "test": indices 0-4 of the same speakers (the dataset's own test split);
        "speaker": every recording of `held_out_speaker` (a speaker no model saw).

    Args:
        recordings: `load_fsdd`'s list.
        split: "train", "test" or "speaker".
        held_out_speaker: the speaker kept out of "train" and "test".

    Returns:
        The recordings of `split`, in the order given.

    Example:
    >>> recordings = [FsddRecording("", 1, "theo", 0), FsddRecording("", 1, "jackson", 7)]
    >>> [r.speaker for r in fsdd_split(recordings, "train")]
    ['jackson']
    """
    check_choice("split", split, FSDD_SPLITS)
    speakers = sorted({r.speaker for r in recordings})
    if held_out_speaker not in speakers:
        raise ValueError(f"`held_out_speaker` must be one of the speakers {speakers}. "
                         f"Received: held_out_speaker={held_out_speaker!r}")
    if split == "speaker":
        return [r for r in recordings if r.speaker == held_out_speaker]
    test = split == "test"
    return [r for r in recordings if r.speaker != held_out_speaker and (r.index in FSDD_TEST_INDICES) == test]


def fsdd_utterances(root, split, num_utterances, *, min_digits=1, max_digits=7, seed=0,
                    held_out_speaker=HELD_OUT_SPEAKER, silence_seconds=(0.05, 0.3), noise_level=0.003,
                    sample_rate=SAMPLE_RATE):
    """Digit sequences spoken by one FSDD speaker: 1-7 recordings joined with random silences, plus light noise.

    Each utterance picks a speaker of the split, a number of digits in
    `[min_digits, max_digits]`, each digit uniformly, and for each digit one
    of that speaker's recordings of it in the split; the recordings are
    joined with silences drawn from `silence_seconds`, and Gaussian noise of
    standard deviation `noise_level` is added (then clipped to [-1, 1]).

    Splits (see `fsdd_split`): "train" uses recording indices 5-49 of every
    speaker but `held_out_speaker`, "test" indices 0-4 of the same speakers
    (the dataset's own split), "speaker" all recordings of `held_out_speaker`
    alone ("theo" by default), to measure how a model does on a new voice.

    Args:
        root: the FSDD folder (holding `recordings/`).
        split: "train", "test" or "speaker".
        num_utterances: how many utterances to make.
        min_digits, max_digits: the range of digits per utterance (inclusive).
        seed: the random seed; the same arguments give the same utterances.
        held_out_speaker: the speaker of the "speaker" split, never in "train" or "test".
        silence_seconds: `(shortest, longest)` silence between two digits.
        noise_level: the noise's standard deviation (0: none).
        sample_rate: the recordings' sample rate (FSDD's is 8000 Hz).

    Returns:
        `(waveforms, transcripts)`: float32 arrays `(samples,)`, and strings
        such as "four one seven".

    Example:
    >>> waveforms, transcripts = fsdd_utterances("../shared/data/fsdd", "train", 2)  # doctest: +SKIP
    >>> transcripts  # doctest: +SKIP
    ['eight five six', 'three one zero nine two']
    """
    check_positive_int("num_utterances", num_utterances)
    _check_word_range("digits", min_digits, max_digits)
    silence = _check_silence(silence_seconds)
    _check_noise(noise_level)
    recordings = fsdd_split(load_fsdd(root), split, held_out_speaker)
    by_speaker = collections.defaultdict(lambda: [[] for _ in DIGIT_WORDS])  # speaker -> digit -> recordings
    for recording in recordings:
        by_speaker[recording.speaker][recording.digit].append(recording)
    speakers = sorted(s for s, digits in by_speaker.items() if all(digits))
    if not speakers:
        raise ValueError(f"No speaker has recordings of every digit in the {split!r} split of {root!r}.")

    rng = np.random.default_rng(seed)
    cache = {}  # path -> samples: each recording is read once

    def samples(recording):
        if recording.path not in cache:
            cache[recording.path] = read_wav(recording.path, sample_rate)
        return cache[recording.path]

    waveforms, transcripts = [], []
    for _ in range(num_utterances):
        speaker = by_speaker[speakers[rng.integers(len(speakers))]]
        digits = rng.integers(0, len(DIGIT_WORDS), size=rng.integers(min_digits, max_digits + 1))
        pieces = [samples(speaker[d][rng.integers(len(speaker[d]))]) for d in digits]
        waveforms.append(_join(pieces, rng, silence, noise_level, sample_rate))
        transcripts.append(" ".join(DIGIT_WORDS[d] for d in digits))
    return waveforms, transcripts


# --- the synthetic tone task ------------------------------------------------------------------

# A word's sound: first formant F1[i % 6], second F2[(i // 6 + i) % 6] (every pair once for i < 36),
# a third at THIRD_FORMANT for odd i, and a duration of 0.12-0.2 s.
_F1 = (300.0, 450.0, 600.0, 750.0, 900.0, 1050.0)
_F2 = (1500.0, 1800.0, 2100.0, 2400.0, 2700.0, 3000.0)
THIRD_FORMANT = 3500.0
MAX_TONE_WORDS = len(_F1) * len(_F2)
_DURATIONS = (0.12, 0.14, 0.16, 0.18, 0.2)


def tone_word(index, sample_rate=SAMPLE_RATE):
    """The fixed sound of the `index`-th word of `tone_utterances`'s vocabulary: sines under a Hann window.

    Args:
        index: the word's position in the vocabulary (0 .. 35).
        sample_rate: in Hz, at least 8000 (the highest formant is 3.5 kHz).

    Returns:
        float32 `(samples,)`, peak about 0.5.

    Example:
    >>> tone_word(0).shape, tone_word(1).shape
    ((960,), (1440,))
    """
    if not 0 <= index < MAX_TONE_WORDS:
        raise ValueError(f"`index` must be in [0, {MAX_TONE_WORDS}). Received: index={index}")
    if sample_rate < 2 * THIRD_FORMANT + 1000:
        raise ValueError(f"`sample_rate` must be at least 8000 Hz. Received: sample_rate={sample_rate}")
    formants = [_F1[index % len(_F1)], _F2[(index // len(_F1) + index) % len(_F2)]]
    if index % 2:
        formants.append(THIRD_FORMANT)
    duration = _DURATIONS[(3 * index) % len(_DURATIONS)]
    t = np.arange(int(round(duration * sample_rate))) / sample_rate  # (samples,) seconds
    sound = sum(np.sin(2 * np.pi * f * t) for f in formants) / len(formants)
    return (0.5 * np.hanning(t.size) * sound).astype(np.float32)


def tone_utterances(num_utterances, *, vocabulary=DIGIT_WORDS, min_words=1, max_words=4, seed=0,
                    silence_seconds=(0.02, 0.08), noise_level=0.003, sample_rate=SAMPLE_RATE):
    """A synthetic speech task that needs no data: words as fixed tone patterns, joined with short silences.

    Word `i` of `vocabulary` always sounds the same (`tone_word(i)`: two or
    three sines between 300 and 3500 Hz, 0.12-0.2 s, different for every
    word), whatever the seed, so utterances made with different seeds share
    their words' sounds: train on one seed, test on another. Each word is
    scaled by a random gain in [0.6, 1], words are joined with silences drawn
    from `silence_seconds`, and Gaussian noise of standard deviation
    `noise_level` is added.

    Args:
        num_utterances: how many utterances to make.
        vocabulary: distinct words without spaces, at most 36 (default: `DIGIT_WORDS`).
        min_words, max_words: the range of words per utterance (inclusive).
        seed: the random seed; the same arguments give the same utterances.
        silence_seconds: `(shortest, longest)` silence between two words.
        noise_level: the noise's standard deviation (0: none).
        sample_rate: in Hz, at least 8000.

    Returns:
        `(waveforms, transcripts)`: float32 arrays `(samples,)` and strings such as "four one".

    Example:
    >>> waveforms, transcripts = tone_utterances(3, seed=0)
    >>> transcripts
    ['six five two three', 'eight', 'seven two seven']
    >>> waveforms[1].dtype, waveforms[1].ndim
    (dtype('float32'), 1)
    """
    check_positive_int("num_utterances", num_utterances)
    _check_word_range("words", min_words, max_words)
    silence = _check_silence(silence_seconds)
    _check_noise(noise_level)
    vocabulary = tuple(vocabulary)
    if (not vocabulary or len(vocabulary) > MAX_TONE_WORDS or len(set(vocabulary)) != len(vocabulary)
            or any(not isinstance(w, str) or not w or w.split() != [w] for w in vocabulary)):
        raise ValueError(f"`vocabulary` must be 1 to {MAX_TONE_WORDS} distinct words without spaces. "
                         f"Received: vocabulary={vocabulary!r}")
    sounds = [tone_word(i, sample_rate) for i in range(len(vocabulary))]

    rng = np.random.default_rng(seed)
    waveforms, transcripts = [], []
    for _ in range(num_utterances):
        words = rng.integers(0, len(vocabulary), size=rng.integers(min_words, max_words + 1))
        gains = rng.uniform(0.6, 1.0, size=words.size)
        waveforms.append(_join([g * sounds[w] for g, w in zip(gains, words)], rng, silence, noise_level, sample_rate))
        transcripts.append(" ".join(vocabulary[w] for w in words))
    return waveforms, transcripts


# --- shared -----------------------------------------------------------------------------------

def _join(pieces, rng, silence_seconds, noise_level, sample_rate):
    """`pieces` joined with random silences, plus Gaussian noise, clipped: float32 `(samples,)`."""
    parts = [pieces[0]]
    for piece in pieces[1:]:
        gap = int(round(rng.uniform(*silence_seconds) * sample_rate))
        parts.extend([np.zeros(gap, np.float32), piece])
    waveform = np.concatenate(parts)  # (samples,)
    if noise_level:
        waveform = waveform + rng.normal(0.0, noise_level, size=waveform.size)
    return np.clip(waveform, -1.0, 1.0).astype(np.float32)


def _check_word_range(what, shortest, longest):
    if not (isinstance(shortest, int) and isinstance(longest, int) and 1 <= shortest <= longest):
        raise ValueError(f"Need 1 <= min_{what} <= max_{what}. Received: min_{what}={shortest!r}, "
                         f"max_{what}={longest!r}")


def _check_silence(silence_seconds):
    shortest, longest = (float(s) for s in silence_seconds)
    if not 0.0 <= shortest <= longest:
        raise ValueError(f"`silence_seconds` must be `(shortest, longest)` with 0 <= shortest <= longest. "
                         f"Received: silence_seconds={silence_seconds!r}")
    return shortest, longest


def _check_noise(noise_level):
    if not float(noise_level) >= 0.0:
        raise ValueError(f"`noise_level` must be >= 0. Received: noise_level={noise_level!r}")
