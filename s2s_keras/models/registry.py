"""One registry of model builders and their training recipes: `build_model(name, ...)`, `get_recipe(name)`."""

import inspect

from s2s_keras.data.special_ids import SpecialIds
from s2s_keras.models.recipe import PLAIN, Recipe

# Arguments every builder receives from the registry; all its other keywords are overrides.
VOCABULARY_ARGUMENTS = ("source_vocab_size", "target_vocab_size", "source_special_ids", "target_special_ids")
SOURCE_KINDS = ("tokens", "audio")


def variant_builder(build, name, fixed, defaults=None, doc=None):
    """A builder for the registry: `build` with some arguments fixed and some defaults changed.

    Its signature is `build`'s without the fixed arguments (so `model_defaults`
    lists exactly the overrides), with `defaults` applied.

    Args:
        build: the family's build function (keyword-only arguments).
        name: the registered name (the builder's `__name__` is `build_NAME`).
        fixed: arguments the variant sets and users cannot override, e.g. `{"cell": "gru"}`.
        defaults: changed defaults of overridable arguments, e.g. `{"units": 256}`.
        doc: the builder's docstring.

    Returns:
        The builder function.
    """
    defaults = defaults or {}
    signature = inspect.signature(build)
    unknown = sorted((set(fixed) | set(defaults)) - set(signature.parameters))
    if unknown:
        raise ValueError(f"{build.__name__} has no argument(s) {unknown}.")
    parameters = [p.replace(default=defaults.get(key, p.default))
                  for key, p in signature.parameters.items() if key not in fixed]

    def builder(**kwargs):
        return build(**{**defaults, **kwargs}, **fixed)

    builder.__signature__ = signature.replace(parameters=parameters)
    builder.__name__ = builder.__qualname__ = f"build_{name}"
    builder.__doc__ = doc
    return builder


class ModelRegistry:
    """Maps model names to builder functions; rejects duplicates and unknown names.

    A builder is a function taking keyword-only arguments: `source_vocab_size`
    and `target_vocab_size`, optionally `source_special_ids` and
    `target_special_ids` (the tokenizers' `SpecialIds`, passed to
    `assemble_seq2seq`); every other keyword is an override with a
    documented default. Each name also carries a `Recipe`:
    the settings that train it well (`PLAIN` when none is given).
    """

    def __init__(self):
        self._builders = {}
        self._recipes = {}
        self._sources = {}

    def register(self, name, builder=None, recipe=None, source="tokens"):
        """Registers `builder` (and its training `recipe`) under `name` (usable as a decorator).

        `source` is what the model reads: "tokens" (source ids; the builder
        takes `source_vocab_size`) or "audio" (waveforms; it takes no source
        vocabulary).
        """
        if builder is None:
            return lambda fn: self.register(name, fn, recipe, source)
        if name in self._builders:
            raise ValueError(f"A model named {name!r} is already registered.")
        if recipe is not None and not isinstance(recipe, Recipe):
            raise ValueError(f"`recipe` must be a Recipe. Received: recipe={recipe!r}")
        if source not in SOURCE_KINDS:
            raise ValueError(f"`source` must be one of {SOURCE_KINDS}. Received: source={source!r}")
        self._builders[name] = builder
        self._recipes[name] = recipe or PLAIN
        self._sources[name] = source
        return builder

    def source_kind(self, name):
        """What model `name` reads: "tokens" or "audio"."""
        self.get(name)
        return self._sources[name]

    def recipe(self, name):
        """The training recipe of model `name`."""
        self.get(name)
        return self._recipes[name]

    def names(self):
        return sorted(self._builders)

    def get(self, name):
        if name not in self._builders:
            raise ValueError(f"Unknown model {name!r}. Valid names: {', '.join(self.names())}.")
        return self._builders[name]

    def overrides(self, name):
        """The override names and their defaults for model `name`."""
        parameters = inspect.signature(self.get(name)).parameters
        return {
            key: p.default
            for key, p in parameters.items()
            if key not in VOCABULARY_ARGUMENTS
        }

    def build(self, name, *, source_vocab_size=None, target_vocab_size, source_special_ids=None,
              target_special_ids=None, **overrides):
        builder = self.get(name)
        audio = self._sources[name] == "audio"
        if audio and (source_vocab_size is not None or source_special_ids is not None):
            raise ValueError(f"Model {name!r} reads waveforms: it takes no source vocabulary. Received: "
                             f"source_vocab_size={source_vocab_size!r}, source_special_ids={source_special_ids!r}")
        valid = self.overrides(name)
        unknown = sorted(set(overrides) - set(valid))
        if unknown:
            raise ValueError(
                f"Unknown override(s) {unknown} for model {name!r}. Valid overrides: {', '.join(sorted(valid))}."
            )
        for key, value in overrides.items():
            check_override_type(name, key, value, valid[key])
        ids = {}
        sides = (("source", source_vocab_size, source_special_ids), ("target", target_vocab_size, target_special_ids))
        for side, size, special in sides[1:] if audio else sides:
            special = SpecialIds.from_config(special)
            smallest = max(max(special.as_tuple()) + 1, len(special.as_tuple()) + 1)  # every special id and a token
            if not isinstance(size, int) or isinstance(size, bool) or size < smallest:
                raise ValueError(f"`{side}_vocab_size` must be an integer of at least {smallest} (the special ids "
                                 f"{special.to_config()} and one token). Received: {side}_vocab_size={size!r}")
            if special != SpecialIds():  # builders registered without these arguments keep working
                ids[f"{side}_special_ids"] = special
        if audio:
            return builder(target_vocab_size=target_vocab_size, **ids, **overrides)
        return builder(source_vocab_size=source_vocab_size, target_vocab_size=target_vocab_size, **ids, **overrides)


def check_override_type(model, key, value, default):
    """Raises a clear ValueError when `value` is not of the kind the builder's `default` is.

    A boolean default takes only `True`/`False` (the string "false" is not
    false); an integer default an int; a float default a number; a string
    default a string. A default of None accepts anything (the builder checks).
    """
    kinds = ((bool, "true or false", lambda v: isinstance(v, bool)),
             (int, "an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
             (float, "a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)),
             (str, "a string", lambda v: isinstance(v, str)))
    for kind, wanted, accepts in kinds:
        if isinstance(default, kind):
            if not accepts(value):
                raise ValueError(f"Override `{key}` of model {model!r} must be {wanted} (default {default!r}). "
                                 f"Received: {key}={value!r}")
            return


REGISTRY = ModelRegistry()


def build_model(name, *, source_vocab_size=None, target_vocab_size, source_special_ids=None, target_special_ids=None,
                **overrides):
    """Builds the registered model `name` as a functional `keras.Model`.

    Args:
        name: a name from `list_models()`, e.g. "gru_attention".
        source_vocab_size: source vocabulary size (`source_tokenizer.vocab_size`);
            None for a speech model (`model_source_kind(name) == "audio"`).
        target_vocab_size: target vocabulary size.
        source_special_ids, target_special_ids: the tokenizers' `SpecialIds`
            (`tokenizer.special_ids`; default: ids 0-3 as the project's tokenizers have).
        **overrides: builder arguments to change (see `model_defaults(name)`).

    Returns:
        A `Seq2SeqModel`: `{"source", "target_in"} -> logits`, with `encode`,
        `initial_state` and `decode_step` (a `SpeechSeq2SeqModel`, whose
        source is float32 waveforms, for the speech models).

    Raises:
        ValueError: for an unknown name or override, listing the valid ones.

    Example:
    >>> model = build_model("gru_attention", source_vocab_size=100, target_vocab_size=120, units=64)
    """
    return REGISTRY.build(name, source_vocab_size=source_vocab_size, target_vocab_size=target_vocab_size,
                          source_special_ids=source_special_ids, target_special_ids=target_special_ids, **overrides)


def list_models():
    """The names of all registered models, sorted."""
    return REGISTRY.names()


def model_source_kind(name):
    """What model `name` reads: "tokens" (source ids) or "audio" (float32 waveforms)."""
    return REGISTRY.source_kind(name)


def model_defaults(name):
    """The overrides model `name` accepts, with their default values."""
    return REGISTRY.overrides(name)


def get_recipe(name):
    """The training recipe registered with model `name` (see `Recipe`).

    Args:
        name: a name from `list_models()`.

    Returns:
        A frozen `Recipe`; `recipe.replace(...)` makes a changed copy.

    Raises:
        ValueError: for an unknown name, listing the valid ones.

    Example:
    >>> get_recipe("gru_attention").overrides
    {'units': 256}
    """
    return REGISTRY.recipe(name)
