"""Special token ids: what each tokenizer reserves, recorded with the model, the run and the export.

The project's own tokenizers reserve ids 0-3 (`DEFAULT_SPECIAL_IDS`); a
vocabulary made elsewhere (e.g. a SentencePiece model trained with
`spm_train`'s defaults: unk 0, bos 1, eos 2, no pad) brings its own ids, and
the tokenizer reports them as a `SpecialIds` (docs/design.md, token ids).
"""

import dataclasses

PAD_ID = 0
UNK_ID = 1
START_ID = 2
END_ID = 3
RESERVED_TOKENS = ("[PAD]", "[UNK]", "[START]", "[END]")


@dataclasses.dataclass(frozen=True)
class SpecialIds:
    """The ids of padding, unknown, start and end tokens of one vocabulary.

    Attributes:
        pad: fills batches; models mask it and never produce it.
        unk: what the tokenizer gives an unknown symbol.
        start: the decoder's first input (never produced).
        end: ends a hypothesis; `detokenize` reads each row up to it.

    Example:
    >>> SpecialIds()
    SpecialIds(pad=0, unk=1, start=2, end=3)
    >>> SpecialIds.from_config({"pad": 3, "unk": 0, "start": 1, "end": 2}).end
    2
    """

    pad: int = PAD_ID
    unk: int = UNK_ID
    start: int = START_ID
    end: int = END_ID

    def __post_init__(self):
        values = self.to_config()
        if any(not isinstance(v, int) or isinstance(v, bool) or v < 0 for v in values.values()):
            raise ValueError(f"Special ids must be integers >= 0. Received: {values}")
        if len(set(values.values())) != len(values):
            raise ValueError(f"Special ids must be four different ids. Received: {values}")

    def to_config(self):
        """`{"pad": ..., "unk": ..., "start": ..., "end": ...}` (plain ints, JSON-ready)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_config(cls, config):
        """The inverse of `to_config`; None gives the default ids (what older files mean)."""
        if config is None:
            return cls()
        if isinstance(config, cls):
            return config
        if not isinstance(config, dict) or set(config) != {"pad", "unk", "start", "end"}:
            raise ValueError(f"Special ids need exactly the keys pad, unk, start, end. Received: {config!r}")
        return cls(**{key: int(value) for key, value in config.items()})

    def as_tuple(self):
        """`(pad, unk, start, end)`."""
        return (self.pad, self.unk, self.start, self.end)


DEFAULT_SPECIAL_IDS = SpecialIds()


def special_ids_of(tokenizer):
    """`tokenizer.special_ids`, or the default ids for an object without them (e.g. a hand-made tokenizer)."""
    return getattr(tokenizer, "special_ids", None) or DEFAULT_SPECIAL_IDS


def model_special_ids(model):
    """`(source, target)` `SpecialIds` a model was built for; the default ids for one without them (a fake)."""
    return (getattr(model, "source_special_ids", None) or DEFAULT_SPECIAL_IDS,
            getattr(model, "target_special_ids", None) or DEFAULT_SPECIAL_IDS)
