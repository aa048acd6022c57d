"""Exercise rules: a learner's choices become a config, a result meets goals or not."""

from __future__ import annotations

import math

import pytest

from quizapp.domain.exercises import (
    METRICS,
    InvalidChoice,
    all_selections,
    build_config,
    describe_goal,
    evaluate_goal,
    evaluate_goals,
    feedback_key,
    goals_met,
    intuition_score,
    prediction_correct,
)

NETWORK = {"kind": "mlp", "width": 128, "activation": "tanh"}
# As stored after import: every option is {value, label}.
CHOICES = {
    "init": [
        {"value": "default", "label": "PyTorch default"},
        {"value": "xavier_normal", "label": "Xavier normal"},
    ],
    "depth": [{"value": 10, "label": "10"}, {"value": 30, "label": "30"}],
    "batchnorm": [{"value": True, "label": "on"}, {"value": False, "label": "off"}],
}


def result(verdict="healthy", ratio=0.5, losses=None, update_ratios=None) -> dict:
    out = {"verdict": verdict, "summary": {"backward_signal_ratio": ratio}}
    if losses is not None or update_ratios is not None:
        out["training"] = {"loss": losses or [], "update_ratio_per_layer": update_ratios or []}
    return out


# build_config


def test_the_selection_is_merged_into_the_fixed_network():
    config = build_config(
        NETWORK, CHOICES, {"init": "xavier_normal", "depth": 30, "batchnorm": False}
    )
    assert config == {**NETWORK, "init": "xavier_normal", "depth": 30, "batchnorm": False}


def test_the_fixed_network_is_not_changed_by_building_a_config():
    before = dict(NETWORK)
    build_config(NETWORK, CHOICES, {"init": "default", "depth": 10, "batchnorm": True})
    assert before == NETWORK


def test_form_text_is_coerced_to_the_offered_values():
    config = build_config(NETWORK, CHOICES, {"init": "default", "depth": "30", "batchnorm": "true"})
    assert config["depth"] == 30 and type(config["depth"]) is int
    assert config["batchnorm"] is True
    selected = {"init": "default", "depth": "10", "batchnorm": "false"}
    config = build_config(NETWORK, CHOICES, selected)
    assert config["batchnorm"] is False


def test_a_float_option_accepts_its_form_text():
    choices = {"forget_bias": [{"value": 0.0, "label": "0"}, {"value": 3.0, "label": "3"}]}
    assert build_config({"kind": "lstm"}, choices, {"forget_bias": "3.0"})["forget_bias"] == 3.0


def test_a_value_outside_the_space_names_the_field_and_the_offered_values():
    with pytest.raises(InvalidChoice) as caught:
        build_config(NETWORK, CHOICES, {"init": "he_normal", "depth": 10, "batchnorm": True})
    assert caught.value.field == "init"
    assert "he_normal" in caught.value.message
    assert "default, xavier_normal" in caught.value.message
    assert str(caught.value).startswith("init: ")


@pytest.mark.parametrize(
    ("field", "raw"),
    [
        ("depth", 20),  # a number not offered
        ("depth", "20"),
        ("depth", 30.5),
        ("depth", True),  # a bool is not the number 1
        ("batchnorm", 1),  # nor is 1 the bool true
        ("batchnorm", "yes"),
        ("init", None),
        ("init", ["default"]),
    ],
)
def test_values_that_only_look_like_an_offered_one_are_refused(field, raw):
    selected = {"init": "default", "depth": 10, "batchnorm": True, field: raw}
    with pytest.raises(InvalidChoice) as caught:
        build_config(NETWORK, CHOICES, selected)
    assert caught.value.field == field


def test_a_missing_choice_is_named():
    with pytest.raises(InvalidChoice) as caught:
        build_config(NETWORK, CHOICES, {"init": "default", "batchnorm": True})
    assert caught.value.field == "depth"
    assert "required" in caught.value.message
    assert "10, 30" in caught.value.message


def test_a_choice_the_exercise_does_not_offer_is_refused():
    # The learner may not change the fixed network, e.g. its width.
    with pytest.raises(InvalidChoice) as caught:
        build_config(
            NETWORK, CHOICES, {"init": "default", "depth": 10, "batchnorm": True, "width": 8}
        )
    assert caught.value.field == "width"
    assert "not a choice" in caught.value.message


def test_a_selection_that_is_not_a_mapping_is_refused():
    with pytest.raises(InvalidChoice) as caught:
        build_config(NETWORK, CHOICES, ["default", 10, True])
    assert caught.value.field == "choices"


# evaluate_goal


def test_equals_compares_the_verdict():
    goal = {"metric": "verdict", "equals": "healthy"}
    assert evaluate_goal(goal, result("healthy")).passed is True
    outcome = evaluate_goal(goal, result("vanishing"))
    assert outcome.passed is False
    assert outcome.value == "vanishing"
    assert outcome.metric == "verdict"


def test_at_least_and_at_most_are_inclusive_bounds():
    goal = {"metric": "backward_signal_ratio", "at_least": 0.01, "at_most": 100}
    assert evaluate_goal(goal, result(ratio=0.01)).passed
    assert evaluate_goal(goal, result(ratio=100)).passed
    assert evaluate_goal(goal, result(ratio=3)).passed
    assert not evaluate_goal(goal, result(ratio=0.009)).passed
    assert not evaluate_goal(goal, result(ratio=101)).passed


@pytest.mark.parametrize("value", [None, math.nan, math.inf, -math.inf, "0.5", True, False])
def test_a_missing_non_finite_or_non_numeric_value_fails_a_bound(value):
    # A bool is not a number here: True >= 0.5 would otherwise pass.
    for goal in (
        {"metric": "backward_signal_ratio", "at_least": 0.0},
        {"metric": "backward_signal_ratio", "at_most": 10.0},
    ):
        assert evaluate_goal(goal, result(ratio=value)).passed is False


def test_a_metric_absent_from_the_result_fails():
    assert not evaluate_goal({"metric": "verdict", "equals": "healthy"}, {}).passed
    assert not evaluate_goal({"metric": "weight_grad_ratio", "at_least": 0}, result()).passed
    # Without training there is no loss to drop.
    assert not evaluate_goal({"metric": "loss_drop", "at_least": 0}, result()).passed


def test_loss_drop_and_update_ratio_are_read_from_the_training_curve():
    trained = result(losses=[2.0, None, 1.0, 0.5], update_ratios=[1e-3, 1e-2])
    drop = evaluate_goal({"metric": "loss_drop", "at_least": 0.7}, trained)
    assert drop.passed and drop.value == pytest.approx(0.75)
    first = evaluate_goal({"metric": "first_layer_update_ratio", "at_most": 2e-3}, trained)
    assert first.passed and first.value == 1e-3


def test_an_unknown_metric_is_an_error_not_a_failed_goal():
    with pytest.raises(ValueError, match="unknown metric"):
        evaluate_goal({"metric": "accuracy", "at_least": 0.9}, result())


def test_every_goal_must_pass():
    goals = [
        {"metric": "verdict", "equals": "healthy"},
        {"metric": "backward_signal_ratio", "at_least": 0.1},
    ]
    assert goals_met(evaluate_goals(goals, result("healthy", 0.5)))
    outcomes = evaluate_goals(goals, result("healthy", 0.05))
    assert [o.passed for o in outcomes] == [True, False]
    assert not goals_met(outcomes)


def test_goals_are_described_in_words_or_by_their_label():
    assert describe_goal({"metric": "verdict", "equals": "healthy"}) == (
        f"{METRICS['verdict'].description} is healthy"
    )
    text = describe_goal({"metric": "backward_signal_ratio", "at_least": 0.001, "at_most": 1000})
    assert "≥ 0.001" in text and "≤ 1000" in text
    assert describe_goal({"metric": "verdict", "equals": "healthy", "label": "Stay alive"}) == (
        "Stay alive"
    )


# feedback, predictions, selections


def test_feedback_keys_are_the_verdict_then_pass_or_fail():
    assert feedback_key("vanishing", False) == ["vanishing", "fail"]
    assert feedback_key("healthy", True) == ["healthy", "pass"]
    assert feedback_key(None, True) == ["pass"]
    assert feedback_key("confused", False) == ["fail"]


def test_a_prediction_is_right_only_when_it_names_the_verdict():
    assert prediction_correct("healthy", "healthy") is True
    assert prediction_correct("vanishing", "exploding") is False
    assert prediction_correct("healthy", None) is False
    assert prediction_correct(None, "healthy") is None


def test_intuition_is_the_share_of_right_predictions():
    assert intuition_score([]) is None
    assert intuition_score([True, False, True, True]) == 0.75


def test_all_selections_is_the_full_product_in_a_stable_order():
    selections = all_selections(CHOICES)
    assert len(selections) == 2 * 2 * 2
    assert len({tuple(sorted(s.items())) for s in selections}) == 8
    assert selections[0] == {"init": "default", "depth": 10, "batchnorm": True}
    assert selections[1] == {"init": "default", "depth": 10, "batchnorm": False}
    assert selections[-1] == {"init": "xavier_normal", "depth": 30, "batchnorm": False}
    assert selections == all_selections(CHOICES)


def test_every_selection_builds_a_config():
    for selection in all_selections(CHOICES):
        assert build_config(NETWORK, CHOICES, selection) == NETWORK | selection
