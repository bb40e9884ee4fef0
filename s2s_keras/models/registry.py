"""One registry of model builders and their training recipes: `build_model(name, ...)`, `get_recipe(name)`."""

import inspect

from s2s_keras.models.recipe import PLAIN, Recipe


class ModelRegistry:
    """Maps model names to builder functions; rejects duplicates and unknown names.

    A builder is a function taking keyword-only arguments, two of which are
    `source_vocab_size` and `target_vocab_size`; every other keyword is an
    override with a documented default. Each name also carries a `Recipe`:
    the settings that train it well (`PLAIN` when none is given).
    """

    def __init__(self):
        self._builders = {}
        self._recipes = {}

    def register(self, name, builder=None, recipe=None):
        """Registers `builder` (and its training `recipe`) under `name` (usable as a decorator)."""
        if builder is None:
            return lambda fn: self.register(name, fn, recipe)
        if name in self._builders:
            raise ValueError(f"A model named {name!r} is already registered.")
        if recipe is not None and not isinstance(recipe, Recipe):
            raise ValueError(f"`recipe` must be a Recipe. Received: recipe={recipe!r}")
        self._builders[name] = builder
        self._recipes[name] = recipe or PLAIN
        return builder

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
            if key not in ("source_vocab_size", "target_vocab_size")
        }

    def build(self, name, *, source_vocab_size, target_vocab_size, **overrides):
        builder = self.get(name)
        valid = self.overrides(name)
        unknown = sorted(set(overrides) - set(valid))
        if unknown:
            raise ValueError(
                f"Unknown override(s) {unknown} for model {name!r}. Valid overrides: {', '.join(sorted(valid))}."
            )
        for key, value in overrides.items():
            check_override_type(name, key, value, valid[key])
        for key, size in (("source_vocab_size", source_vocab_size), ("target_vocab_size", target_vocab_size)):
            if not isinstance(size, int) or isinstance(size, bool) or size <= 4:
                raise ValueError(f"`{key}` must be an integer above 4 (ids 0-3 are reserved). Received: {key}={size!r}")
        return builder(source_vocab_size=source_vocab_size, target_vocab_size=target_vocab_size, **overrides)


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


def build_model(name, *, source_vocab_size, target_vocab_size, **overrides):
    """Builds the registered model `name` as a functional `keras.Model`.

    Args:
        name: a name from `list_models()`, e.g. "gru_attention".
        source_vocab_size: source vocabulary size (ids 0-3 are reserved).
        target_vocab_size: target vocabulary size.
        **overrides: builder arguments to change (see `model_defaults(name)`).

    Returns:
        A `Seq2SeqModel`: `{"source", "target_in"} -> logits`, with `encode`,
        `initial_state` and `decode_step`.

    Raises:
        ValueError: for an unknown name or override, listing the valid ones.

    Example:
    >>> model = build_model("gru_attention", source_vocab_size=100, target_vocab_size=120, units=64)
    """
    return REGISTRY.build(name, source_vocab_size=source_vocab_size, target_vocab_size=target_vocab_size, **overrides)


def list_models():
    """The names of all registered models, sorted."""
    return REGISTRY.names()


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
