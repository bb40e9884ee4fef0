"""A training run's settings: what the user gave, what the model's recipe fills in, what a run recorded.

`TrainSettings` fields that a recipe covers default to `FROM_RECIPE`. `resolve_settings`
replaces each by, in order: the value the run folder recorded (a resumed run keeps its
settings even if the recipe changed since), the model's recipe (`models.get_recipe`), or
the plain settings (`recipe="none"`). It also says where every value came from, and
`run.json` records both.
"""

import dataclasses
import json

from s2s_keras.checks import check_positive_int
from s2s_keras.models import PLAIN, Recipe, get_recipe


class _FromRecipe:
    """The default of the settings a recipe covers: "not given"."""

    def __repr__(self):
        return "FROM_RECIPE"

    def __reduce__(self):
        return "FROM_RECIPE"


FROM_RECIPE = _FromRecipe()
# The settings a recipe covers (`Recipe` fields; `overrides` merge key by key).
RECIPE_FIELDS = tuple(f.name for f in dataclasses.fields(Recipe) if f.name not in ("note", "corpus_rules"))
# Settings that must not change between a run and its resumption (the batching too: the backup
# counts the batches of the epoch already trained, which other batches would not match).
FIXED_SETTINGS = ("model", "data", "columns", "tfds_keys", "tokenizer", "vocab_size", "lower", "overrides",
                  "max_length", "seed", "task_size", "batch_size", "tokens_per_batch", "bucket_width",
                  "dtype_policy")


@dataclasses.dataclass
class TrainSettings:
    """Everything `train` needs; the CLI fills it from its flags.

    Settings left at `FROM_RECIPE` come from the model's recipe (see
    `models.get_recipe` and `resolve_settings`); give one to override that
    field alone.

    Attributes:
        model: a registered model name.
        data: training data: a TSV file, "SOURCE_FILE,TARGET_FILE" (parallel
            text, plain or .gz), "tfds:NAME" (tensorflow-datasets) or
            "task:NAME" (an embedded task: dates, copy, reverse, sort).
        output: the run's folder.
        valid: validation data in the same forms (optional).
        recipe: "model" (the model's recipe, the default), "none" (the plain
            settings, `models.PLAIN`) or a `Recipe`.
        columns: TSV columns `(source, target)`.
        tfds_keys: the TFDS feature names `(source, target)`.
        tokenizer: "wordpiece", "sentencepiece" or "char" (recipe).
        vocab_size: largest vocabulary per side (recipe).
        lower: lower-case the text.
        epochs: most epochs (None: 10, or with `time_budget` as many as it allows).
        time_budget: stop after this many minutes of training (all calls together).
        batch_size: pairs per batch; None: `tokens_per_batch` decides.
        tokens_per_batch: padded tokens per batch (recipe).
        max_length: most tokens per side; longer pairs are dropped and counted (recipe).
        bucket_width: length buckets every this many tokens (1: one per length,
            the least padding); None: buckets 25% apart from 8 tokens (recipe).
        learning_rate: Adam's learning rate, the peak one with `warmup_steps` (recipe).
        warmup_steps: a linear warm-up over this many steps to `learning_rate`,
            then inverse square-root decay (`NoamSchedule`); None: constant (recipe).
        label_smoothing: of the masked cross-entropy (recipe).
        overrides: model builder overrides, applied over the recipe's.
        dtype_policy: "auto" (mixed_bfloat16 where this machine's bfloat16
            matmuls are fast, or the mixed policy a GPU supports; else float32),
            "float32", "mixed_bfloat16" or "mixed_float16" (recipe). Mixed
            policies compute in 16 bits with float32 variables, logits and loss;
            the saved model keeps its policy (`training.float32_copy` serves it
            in float32).
        keep: "best": with validation data, the saved model holds the epoch with
            the lowest validation loss; "last": the weights training ended with (recipe).
        patience: stop when the validation loss has not improved for this many
            epochs (None: never).
        bleu_sample: validation sources scored with BLEU and chrF (greedy) at
            each epoch end, as `val_bleu` / `val_chrf` (0: none).
        seed: seeds weights and data order.
        task_size: pairs generated for "task:" data (validation: a tenth, another seed).
        jit_compile: compile the training step with XLA.
        keep_checkpoints: epoch checkpoints kept for averaging.
        save_every: also back up the training state every this many batches
            (default: at the end of each epoch only).
        strategy: None, "mirrored" or "multi-worker" (see `training.distribute`).
        deterministic: deterministic ops (`tf.config.experimental.enable_op_determinism`),
            so a resumed run ends bit-identical to an uninterrupted one.

    Example:
    >>> settings = TrainSettings(model="transformer_small", data="train.tsv", valid="valid.tsv",
    ...                          output="runs/x", time_budget=30, vocab_size=8000)
    >>> model, source_tokenizer, target_tokenizer, logs = train(settings)  # doctest: +SKIP
    """

    model: str
    data: str
    output: str
    valid: str = None
    recipe: object = "model"
    columns: tuple = (0, 1)
    tfds_keys: tuple = None
    tokenizer: str = FROM_RECIPE
    vocab_size: int = FROM_RECIPE
    lower: bool = False
    epochs: int = None
    time_budget: float = None
    batch_size: int = None
    tokens_per_batch: int = FROM_RECIPE
    max_length: int = FROM_RECIPE
    bucket_width: int = FROM_RECIPE
    learning_rate: float = FROM_RECIPE
    warmup_steps: int = FROM_RECIPE
    label_smoothing: float = FROM_RECIPE
    overrides: dict = dataclasses.field(default_factory=dict)
    dtype_policy: str = FROM_RECIPE
    keep: str = FROM_RECIPE
    patience: int = None
    bleu_sample: int = 200
    seed: int = 0
    task_size: int = 20000
    jit_compile: bool = False
    keep_checkpoints: int = 5
    save_every: int = None
    strategy: str = None
    deterministic: bool = False


def recipe_of(settings):
    """`(label, Recipe)` that `settings.recipe` names: the model's own, the plain one, or a given one."""
    if isinstance(settings.recipe, Recipe):
        return "custom", settings.recipe
    if settings.recipe in ("model", None):
        return settings.model, get_recipe(settings.model)
    if settings.recipe == "none":
        return "none", PLAIN
    raise ValueError(f"`recipe` must be 'model', 'none' or a Recipe. Received: recipe={settings.recipe!r}")


def resolve_settings(settings, recorded=None, recipe=None):
    """Fills every `FROM_RECIPE` field of `settings`; says where each recipe field came from.

    Args:
        settings: a `TrainSettings`.
        recorded: the run folder's `run.json`, when the run exists. Fields the
            user did not give keep their recorded value, so a resumed run trains
            on with what it started with even if the recipe changed since. A
            `run.json` from before recipes recorded the plain settings.
        recipe: the `Recipe` to fill from instead of the one `settings.recipe`
            names (e.g. that recipe for the run's corpus, `Recipe.for_corpus`).

    Returns:
        `(resolved, provenance)`: a `TrainSettings` without `FROM_RECIPE`
        (`dtype_policy` may still be "auto"), and `{field: "user" | "recipe" |
        "plain" | "recorded"}` for the recipe fields, with a dict per key for
        `overrides`.
    """
    label, named = recipe_of(settings)
    recipe = named if recipe is None else recipe
    recipe_source = "plain" if named is PLAIN else "recipe"
    recorded_provenance = (recorded or {}).get("provenance", {})
    values, provenance = {}, {}
    for name in RECIPE_FIELDS:
        if name == "overrides":
            continue
        given = getattr(settings, name)
        if given is not FROM_RECIPE:
            values[name], provenance[name] = given, "user"
        elif recorded is not None:
            values[name] = recorded.get(name, getattr(PLAIN, name))
            provenance[name] = recorded_provenance.get(name, "recorded")
        else:
            values[name], provenance[name] = getattr(recipe, name), recipe_source
    if recorded is not None:
        base = dict(recorded.get("overrides", {}))
        base_provenance = dict(recorded_provenance.get("overrides", {}))
        base_provenance = {key: base_provenance.get(key, "recorded") for key in base}
    else:
        base, base_provenance = dict(recipe.overrides), {key: recipe_source for key in recipe.overrides}
    values["overrides"] = {**base, **settings.overrides}
    provenance["overrides"] = {**base_provenance, **{key: "user" for key in settings.overrides}}
    check_positive_int("patience", settings.patience, allow_none=True)
    if not isinstance(settings.bleu_sample, int) or settings.bleu_sample < 0:
        raise ValueError(f"`bleu_sample` must be an integer >= 0. Received: bleu_sample={settings.bleu_sample!r}")
    resolved = dataclasses.replace(settings, recipe=label, **values)
    return resolved, provenance


def changed_fixed_settings(resolved, recorded):
    """The `FIXED_SETTINGS` in which `resolved` differs from a recorded `run.json`."""
    current = as_json(resolved)
    return [key for key in FIXED_SETTINGS if recorded.get(key, _plain_default(key)) != current.get(key)]


def as_json(settings):
    """`settings` as JSON values (tuples become lists); a `Recipe` becomes its settings."""
    values = dataclasses.asdict(settings)
    if isinstance(settings.recipe, Recipe):
        values["recipe"] = "custom"
    return json.loads(json.dumps(values))


def _plain_default(key):
    if key in RECIPE_FIELDS:
        return json.loads(json.dumps(getattr(PLAIN, key)))
    field = {f.name: f for f in dataclasses.fields(TrainSettings)}[key]
    if field.default is not dataclasses.MISSING:
        return json.loads(json.dumps(field.default))
    if field.default_factory is not dataclasses.MISSING:
        return json.loads(json.dumps(field.default_factory()))
    return None  # a required setting: every run.json has it
