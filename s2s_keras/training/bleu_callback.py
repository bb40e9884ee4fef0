"""Validation BLEU and chrF while training: a Keras callback that translates and scores with sacreBLEU."""

import keras

from s2s_keras.checks import check_positive_int
from s2s_keras.evaluation import evaluate


class BleuCallback(keras.callbacks.Callback):
    """Logs corpus BLEU and chrF on a validation subset every `every` epochs (as `val_bleu`, `val_chrf`).

    Keras's progress bar and `History` come after user callbacks, so the scores
    show in the epoch's progress line and in `history.history`. Put it before
    `keras.callbacks.TensorBoard` in the callback list so they reach TensorBoard.

    Args:
        make_translator: `model -> Translator` of that model itself (not of a
            copy: `fastest_precision=False`), made once when training begins, e.g.
            `lambda m: Translator(m, src_tok, tgt_tok, search=GreedySearch(max_length=60),
            fastest_precision=False)`.
        sources, references: the validation subset (see `evaluation.group_references`).
        every: evaluate every this many epochs (and on the last one).
        name: the key of BLEU in the logs.
        chrf_name: the key of chrF in the logs (None: not logged).
        batch_size: sentences per translation call.

    Example:
    >>> bleu = BleuCallback(lambda m: Translator(m, src, tgt, fastest_precision=False),  # doctest: +SKIP
    ...                     val_sources, val_refs, every=2)
    >>> model.fit(train_ds, epochs=10, callbacks=[bleu])  # doctest: +SKIP
    """

    def __init__(self, make_translator, sources, references, every=1, name="val_bleu", batch_size=64,
                 chrf_name="val_chrf"):
        super().__init__()
        check_positive_int("every", every)
        if len(sources) != len(references) or not sources:
            raise ValueError(f"BleuCallback needs as many references as sources, at least one. "
                             f"Received: {len(sources)} sources, {len(references)} references")
        self.make_translator = make_translator
        self.sources, self.references = list(sources), list(references)
        self.every, self.name, self.chrf_name, self.batch_size = every, name, chrf_name, batch_size
        self._translator = None

    def on_train_begin(self, logs=None):
        self._translator = self.make_translator(self.model)
        if getattr(self._translator, "model", self.model) is not self.model:
            raise ValueError("BleuCallback's translator decodes a copy of the model, which training does not "
                             "update: make it with `Translator(..., fastest_precision=False)`.")

    def on_epoch_end(self, epoch, logs=None):
        last = self.params.get("epochs") == epoch + 1 if self.params else False
        if (epoch + 1) % self.every and not last and not self.model.stop_training:
            return
        result = evaluate(self._translator, self.sources, self.references, self.batch_size)
        if logs is not None:
            logs[self.name] = result.bleu
            if self.chrf_name:
                logs[self.chrf_name] = result.chrf
