import numpy as np
import pytest
import sacrebleu

import s2s_keras as s2s
from s2s_keras.decoding import GreedySearch
from s2s_keras.evaluation import evaluate, reference_streams, score_corpus, translate_all
from s2s_keras.plotting import plot_attention, plot_history
from s2s_keras.training.bleu_callback import BleuCallback
from s2s_keras.translator import Translator


def test_scores_equal_sacrebleu_with_signatures():
    hypotheses = ["the cat sat on the mat", "a dog barks"]
    references = ["the cat sat on a mat", "the dog barks"]
    result = score_corpus(hypotheses, references)
    assert result.bleu == pytest.approx(sacrebleu.corpus_bleu(hypotheses, [references]).score)
    assert result.chrf == pytest.approx(sacrebleu.corpus_chrf(hypotheses, [references]).score)
    assert result.ter == pytest.approx(sacrebleu.corpus_ter(hypotheses, [references]).score)
    assert result.signatures["bleu"].startswith("nrefs:1|") and "version:" in result.signatures["chrf"]
    assert "BLEU" in result.summary()


def test_several_references_per_source():
    hypotheses = ["the big dog barks at the cat", "hello there my friend"]
    multi = score_corpus(hypotheses, [["a big dog barks at a cat", "the big dog barks at the cat"], ["hello there my friend"]])
    single = score_corpus(hypotheses, ["a big dog barks at a cat", "hello there my friend"])
    assert multi.bleu > single.bleu
    assert "nrefs:var" in multi.signatures["bleu"]
    assert reference_streams([["a", "b"], ["c"]]) == [["a", "c"], ["b", None]]
    with pytest.raises(ValueError, match="2 hypotheses but 1 references"):
        score_corpus(hypotheses, ["x"])


@pytest.fixture(scope="module")
def translator_and_model():
    source = s2s.data.CharTokenizer.from_texts(["abcdef "])
    target = s2s.data.CharTokenizer.from_texts(["abcdef "])
    model = s2s.build_model("gru_attention", source_vocab_size=source.vocab_size,
                            target_vocab_size=target.vocab_size, units=16, embedding_dim=8)
    return Translator(model, source, target, search=GreedySearch(max_length=8)), model, source, target


def test_evaluate_translates_then_scores(translator_and_model):
    translator = translator_and_model[0]
    sources = ["abc", "de f"]
    result = evaluate(translator, sources, ["abc", "def"], batch_size=1, progress=True)
    assert result.hypotheses == translator(sources)
    assert result.bleu == pytest.approx(sacrebleu.corpus_bleu(result.hypotheses, [["abc", "def"]]).score)
    assert result.chrf == pytest.approx(sacrebleu.corpus_chrf(result.hypotheses, [["abc", "def"]]).score)


def test_bleu_callback_logs_into_history(translator_and_model):
    _, model, source, target = translator_and_model
    x, y = s2s.data.pad_pairs([([4, 5, 6], [4, 5, 6]), ([7, 8], [7, 8])])
    model.compile(optimizer="adam", loss=s2s.losses.masked_loss())
    callback = BleuCallback(lambda m: Translator(m, source, target, search=GreedySearch(max_length=8)),
                            ["abc", "de"], ["abc", "de"], every=2)
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[callback])
    # Epochs 2 and 3 (the last) are scored; epoch 1 is not.
    assert len(history.history["val_bleu"]) == 2


def test_plots_are_written(translator_and_model, tmp_path):
    translator = translator_and_model[0]
    fig = plot_attention(translator, "abc de", path=str(tmp_path / "attention.png"))
    assert (tmp_path / "attention.png").stat().st_size > 0
    image = fig.axes[0].images[0].get_array()
    np.testing.assert_allclose(np.asarray(image).sum(1), 1.0, atol=1e-5)  # each output row sums to 1
    plot_history({"loss": [2.0, 1.0], "val_loss": [2.1, 1.2], "val_bleu": [3.0, 9.0]}, path=str(tmp_path / "h.png"))
    assert (tmp_path / "h.png").stat().st_size > 0


def test_translate_all_batches_by_length_and_keeps_the_order():
    batches = []

    def upper(sentences):
        batches.append([len(s) for s in sentences])
        return [s.upper() for s in sentences]

    sources = ["a" * n for n in (5, 1, 9, 3, 7, 2, 8)]
    assert translate_all(upper, sources, batch_size=3) == [s.upper() for s in sources]
    assert batches == [[1, 2, 3], [5, 7, 8], [9]]
    batches.clear()
    assert translate_all(upper, sources, batch_size=3, sort_by_length=False) == [s.upper() for s in sources]
    assert batches == [[5, 1, 9], [3, 7, 2], [8]]


def test_evaluate_times_the_translation_and_not_the_scoring(monkeypatch):
    import time

    import s2s_keras.evaluation as evaluation

    scored = evaluation.score_corpus

    def slow_scoring(hypotheses, references):
        time.sleep(0.5)
        return scored(hypotheses, references)

    def slow_translator(sentences):
        time.sleep(0.2)
        return list(sentences)

    monkeypatch.setattr(evaluation, "score_corpus", slow_scoring)
    sentences = ["the cat sat on the mat", "a dog barks at the cat"]
    result = evaluate(slow_translator, sentences, sentences)
    assert result.bleu == pytest.approx(100.0)
    assert 0.2 <= result.seconds < 0.45  # the sentences/s `evaluate` prints are the translator's


class TwoLoopTranslator:
    """A translator with two search loops whose one-loop copy records its batches and threads."""

    parallel_loops = 2

    def __init__(self, fail_on=None):
        import threading

        self.batches, self.threads, self.fail_on, self.calls = [], set(), fail_on, 0
        self.lock, self.both_running = threading.Lock(), threading.Barrier(2, timeout=10)

    def one_loop_copy(self):
        return self.one_loop

    def one_loop(self, sentences):
        import threading

        with self.lock:
            self.calls += 1
            first_two = self.calls <= 2
        if first_two:
            self.both_running.wait()  # the first two batches run at the same time, or this times out
        self.batches.append(sorted(len(s) for s in sentences))
        self.threads.add(threading.get_ident())
        if self.fail_on in sentences:
            raise ValueError(f"cannot translate {self.fail_on!r}")
        return [s.upper() for s in sentences]

    def __call__(self, sentences):
        raise AssertionError("the batches should go through the one-loop copy")


def test_translate_all_runs_a_batch_per_search_loop_side_by_side():
    translator = TwoLoopTranslator()
    sources = ["a" * n for n in (5, 1, 9, 3, 7, 2, 8, 4)]
    assert translate_all(translator, sources, batch_size=4, progress=True) == [s.upper() for s in sources]
    # batch_size 4 on two loops: 2 sources per loop at a time, on two threads
    assert sorted(translator.batches) == [[1, 2], [3, 4], [5, 7], [8, 9]]
    assert len(translator.threads) == 2


def test_translate_all_raises_a_loops_error():
    translator = TwoLoopTranslator(fail_on="b" * 3)
    with pytest.raises(ValueError, match="cannot translate 'bbb'"):
        translate_all(translator, ["a", "bb", "bbb", "cccc", "ddddd"], batch_size=2)


def test_a_two_loop_translator_translates_all_alike_through_its_one_loop_copy():
    from s2s_keras.decoding import BeamSearch, Sampling

    source = s2s.data.CharTokenizer.from_texts(["abcdef "])
    target = s2s.data.CharTokenizer.from_texts(["abcdef "])
    model = s2s.build_model("transformer_tiny", source_vocab_size=source.vocab_size,
                            target_vocab_size=target.vocab_size)
    beam = BeamSearch(beam_size=3, length_penalty=0.6, max_length=8)
    two = Translator(model, source, target, search=beam, parallel_loops=2)
    copy = two.one_loop_copy()
    assert copy.parallel_loops == 1 and copy.model is two.model and two.one_loop_copy() is copy
    assert "_one_loop" not in dict(two._trackable_children())  # an export saves the translator's own graphs only
    sources = ["abc", "f", "de fa", "b", "cab d", "ef", "a b c d"]
    one = Translator(model, source, target, search=beam, parallel_loops=1)
    assert translate_all(two, sources, batch_size=4) == translate_all(one, sources, batch_size=4) == one(sources)
    assert one.one_loop_copy() is one
    assert Translator(model, source, target, search=Sampling(seed=1, max_length=8),
                      parallel_loops=2).one_loop_copy().parallel_loops == 2  # sampling keeps one loop per batch
