"""Simulator config validation, fed any mapping a lab form or API client could send, returns a
complete normalised config or refuses with SimConfigError naming a field; nothing else.
Nothing is simulated here."""

from __future__ import annotations

from fuzz_profiles import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from quizapp.sim.activations import ACTIVATIONS
from quizapp.sim.config import (
    FIELDS,
    KINDS,
    LIMITS,
    LOSSES,
    NORM_POSITIONS,
    NORMS,
    OPTIMIZERS,
    TASKS,
    TRANSFORMER_NORMS,
    SimConfigError,
    validate_config,
)
from quizapp.sim.inits import INITS
from quizapp.sim.schema import FIELD_DEFAULTS

NAMES = [*KINDS, *ACTIVATIONS, *INITS, *NORMS, *TRANSFORMER_NORMS, *LOSSES, *OPTIMIZERS, *TASKS]
anything = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(),
        st.text(max_size=20),
        st.sampled_from(NAMES),
        st.sampled_from(["normal_0.1", "normal_nan", "normal_1e999", "normal_", " MLP ", "1"]),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)
# Plausible values per field, so that validation gets past the first field most of the time.
plausible = {
    "kind": st.sampled_from(list(KINDS)),
    "depth": st.integers(0, LIMITS["depth"] + 10),
    "width": st.integers(0, LIMITS["width"] + 10),
    "activation": st.sampled_from(list(ACTIVATIONS)),
    "init": st.sampled_from([*INITS, "normal_0.05"]),
    "init_std": st.floats(-1, 20),
    "norm": st.sampled_from([*NORMS, *TRANSFORMER_NORMS]),
    "norm_position": st.sampled_from(NORM_POSITIONS),
    "heads": st.integers(0, LIMITS["heads"] + 2),
    "skip_every": st.integers(0, 50),
    "residual_scale": st.floats(-1, 20),
    "forget_bias": st.floats(-30, 30),
    "batch_size": st.integers(0, LIMITS["batch_size"] + 10),
    "seq_len": st.integers(0, LIMITS["seq_len"] + 10),
    "loss": st.sampled_from(LOSSES),
    "seed": st.integers(-1, 2**32),
    "task": st.sampled_from(TASKS),
    "train_steps": st.integers(0, LIMITS["train_steps"] + 10),
    "optimizer": st.sampled_from(OPTIMIZERS),
    "lr": st.floats(-1, 20),
}
random_configs = st.dictionaries(
    st.one_of(st.sampled_from(FIELDS), st.text(max_size=10)), anything, max_size=8
)
plausible_configs = st.fixed_dictionaries(
    {"kind": plausible["kind"]},
    optional={name: strategy for name, strategy in plausible.items() if name != "kind"},
)
configs = st.one_of(random_configs, plausible_configs, anything)


def _validated(config):
    try:
        return validate_config(config)
    except SimConfigError as error:
        assert isinstance(error.field, str)  # the name as sent, even "" for an unknown ""
        assert error.message
        return None


@settings(max_examples=examples(3.0))
@given(config=configs)
def test_any_config_is_normalised_or_refused_naming_the_field(config):
    normalised = _validated(config)
    if normalised is None:
        return
    # Every field, but those left out at their default (bias_std 0 keeps old cache keys).
    assert set(FIELDS) - set(FIELD_DEFAULTS) <= set(normalised) <= set(FIELDS)
    for name in set(FIELDS) - set(normalised):
        assert name in FIELD_DEFAULTS
    assert normalised["kind"] in KINDS
    for name in ("depth", "width", "batch_size", "train_steps"):
        assert 0 <= normalised[name] <= LIMITS[name]
    # Normalising twice changes nothing, so equal configs share one cache key.
    assert validate_config(normalised) == normalised
