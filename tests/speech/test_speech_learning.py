"""A tiny Listen-Attend-Spell learns the embedded tone task: transcribes unseen utterances."""

import keras

from s2s_keras import Transcriber
from s2s_keras.data import WordPieceTokenizer, make_audio_dataset, tone_utterances
from s2s_keras.models import build_model
from s2s_keras.speech_metrics import score_transcripts
from s2s_keras.training.losses import masked_loss

WORDS = ("one", "two", "three", "four")


def test_las_learns_the_tone_task():
    keras.utils.set_random_seed(0)
    waveforms, transcripts = tone_utterances(400, vocabulary=WORDS, max_words=3, seed=0)
    test_waveforms, test_transcripts = tone_utterances(40, vocabulary=WORDS, max_words=3, seed=1)  # unseen
    tokenizer = WordPieceTokenizer.from_texts(transcripts, vocab_size=40)
    dataset = make_audio_dataset(waveforms, transcripts, tokenizer, batch_size=16, seed=0, log=False)
    model = build_model("las", target_vocab_size=tokenizer.vocab_size, units=32, embedding_dim=16, num_layers=3,
                        reductions=2, num_mel_bins=20)
    model.compile(optimizer=keras.optimizers.Adam(5e-3), loss=masked_loss())
    model.fit(dataset, epochs=12, verbose=0)
    scores = score_transcripts(Transcriber(model, tokenizer)(test_waveforms), test_transcripts)
    assert scores.wer <= 20.0, scores  # 6.3 when written; an untrained model scores about 100
