"""Audio folders: WAV files with a `transcripts.tsv` beside them, as `s2s-keras` reads and writes them."""

import os

import numpy as np
import tensorflow as tf

from s2s_keras.data.audio import read_wav

TRANSCRIPTS_FILE = "transcripts.tsv"  # one line per utterance: WAV path (relative to the folder) TAB transcript


def load_audio_folder(folder, sample_rate=8000):
    """Reads an audio folder: `transcripts.tsv` lines `file.wav<TAB>transcript` and the WAV files they name.

    Args:
        folder: the folder holding `transcripts.tsv`.
        sample_rate: the rate every file must have.

    Returns:
        `(waveforms, transcripts)`: float32 arrays `(samples,)` and strings.

    Raises:
        ValueError: naming the folder, line or file, when `transcripts.tsv` is
            missing or malformed or a file cannot be read.

    Example:
    >>> waveforms, transcripts = load_audio_folder("data/digits-test")  # doctest: +SKIP
    """
    path = os.path.join(folder, TRANSCRIPTS_FILE)
    if not os.path.isfile(path):
        raise ValueError(f"{folder!r} is not an audio folder: it has no {TRANSCRIPTS_FILE} "
                         "(lines: file.wav<TAB>transcript).")
    waveforms, transcripts = [], []
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) != 2:
                raise ValueError(f"{path}:{number}: expected 'file.wav<TAB>transcript', found {len(fields)} field(s).")
            waveforms.append(read_wav(os.path.join(folder, fields[0]), sample_rate=sample_rate))
            transcripts.append(fields[1])
    if not waveforms:
        raise ValueError(f"{path} lists no utterances.")
    return waveforms, transcripts


def write_audio_folder(folder, waveforms, transcripts, sample_rate=8000):
    """Writes utterances as 16-bit WAV files `000000.wav`, ... and their `transcripts.tsv` into a new folder.

    Args:
        folder: a folder that does not exist yet, or is empty (nothing is overwritten).
        waveforms: float arrays `(samples,)` in [-1, 1] (clipped).
        transcripts: one string per waveform, without tabs or line breaks.
        sample_rate: the files' rate.

    Returns:
        The folder.

    Example:
    >>> write_audio_folder("data/digits-test", *fsdd_utterances("fsdd", "test", 300))  # doctest: +SKIP
    """
    if len(waveforms) != len(transcripts):
        raise ValueError(f"{len(waveforms)} waveforms but {len(transcripts)} transcripts.")
    if any("\t" in t or "\n" in t or "\r" in t for t in transcripts):
        raise ValueError("A transcript contains a tab or a line break; transcripts.tsv could not hold it.")
    if os.path.isdir(folder) and os.listdir(folder):
        raise ValueError(f"{folder!r} is not empty: write into a new folder (nothing in it was changed).")
    os.makedirs(folder, exist_ok=True)
    lines = []
    for index, (waveform, transcript) in enumerate(zip(waveforms, transcripts)):
        name = f"{index:06d}.wav"
        audio = np.clip(np.asarray(waveform, np.float32).reshape(-1, 1), -1.0, 1.0)
        tf.io.write_file(os.path.join(folder, name), tf.audio.encode_wav(audio, sample_rate))
        lines.append(f"{name}\t{transcript}\n")
    with open(os.path.join(folder, TRANSCRIPTS_FILE), "w", encoding="utf-8") as f:
        f.writelines(lines)
    return folder
