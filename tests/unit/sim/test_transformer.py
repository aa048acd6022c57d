"""The transformer kind: its measurements, its theory and the published facts, over seeds.

Papers: Xiong et al. 2020 (pre-LN vs post-LN), Dong, Cordonnier & Loukas 2021 (rank
collapse), Zhang, Dauphin & Ma 2019 (Fixup) and Bachlechner et al. 2020 (ReZero).
"""

from __future__ import annotations

import json
import math

import pytest
import torch

from quizapp.sim import simulate, validate_config
from quizapp.sim.networks import build_network

SEEDS = [0, 1, 2, 3, 4]
DEEP = {"kind": "transformer", "depth": 12, "width": 64, "seq_len": 16, "batch_size": 8}


def run(**config):
    return simulate(dict(DEEP, **config))


def test_a_transformer_result_has_sublayers_attention_probes_and_json():
    result = run(depth=3, seed=1)
    json.dumps(result, allow_nan=False)
    names = [layer["name"] for layer in result["layers"]]
    assert names == [
        "block1.attn", "block1.ffn", "block2.attn", "block2.ffn", "block3.attn", "block3.ffn",
        "readout",
    ]  # fmt: skip
    attention = result["probes"]["attention"]
    assert [block["block"] for block in attention["blocks"]] == [1, 2, 3]
    for block, attn_layer in zip(attention["blocks"], result["layers"][::2], strict=False):
        assert len(block["attention_entropy"]) == 4  # one per head
        assert all(0.0 <= e <= attention["max_entropy"] + 1e-9 for e in block["attention_entropy"])
        assert block["input_signal"] == attn_layer["backward_signal"]
        assert 0.0 <= block["rank_collapse_residual"] <= 1.0 + 1e-9
    # gelu feed-forward layers report dead units; attention layers report softmax saturation.
    assert result["layers"][1]["dead_fraction"] is not None
    assert result["layers"][0]["saturated_fraction"] is not None
    assert result["theory"]["model"] == "transformer_residual_recursion"


def test_default_init_is_pytorchs_own_multihead_attention_and_linear():
    net = build_network(validate_config(dict(DEEP, width=128)))
    in_proj, out_proj, ffn_in, ffn_out = (w for ws in net.layer_weights[:2] for w in ws)
    width = 128
    # Xavier-uniform on the stacked (3w, w) in_proj: Var = 2 / (w + 3w); nn.Linear: 1/(3 fan_in).
    assert in_proj.shape == (3 * width, width)
    assert float(in_proj.detach().var()) == pytest.approx(2.0 / (4 * width), rel=0.05)
    assert float(out_proj.detach().var()) == pytest.approx(1.0 / (3 * width), rel=0.05)
    assert float(ffn_in.detach().var()) == pytest.approx(1.0 / (3 * width), rel=0.05)
    assert float(ffn_out.detach().var()) == pytest.approx(1.0 / (3 * 4 * width), rel=0.05)


def test_attention_matches_pytorchs_multihead_attention():
    cfg = validate_config(dict(DEEP, depth=1, norm="none", seed=3))
    torch.manual_seed(3)
    attention = torch.nn.MultiheadAttention(64, 4, batch_first=True)
    from quizapp.sim.networks import _Block, _self_attention

    block = _Block(
        (attention.in_proj_weight, attention.in_proj_bias),
        (attention.out_proj.weight, attention.out_proj.bias),
        (None, None), (None, None), [None, None],
    )  # fmt: skip
    x = torch.randn(2, 16, 64)
    ours, weights = _self_attention(x, block, cfg["heads"])
    theirs, their_weights = attention(x, x, x, average_attn_weights=False)
    assert torch.allclose(ours, theirs, atol=1e-5)
    assert torch.allclose(weights, their_weights, atol=1e-6)


@pytest.mark.parametrize("seed", SEEDS)
def test_deep_unnormalised_transformer_explodes_and_pre_ln_keeps_it_healthy(seed):
    # Xiong et al. 2020: without normalisation the residual stream's variance multiplies at
    # every sub-layer; with pre-LN each branch sees a normalised copy and adds ~1/depth.
    plain = run(init="xavier_normal", norm="none", seed=seed)
    pre_ln = run(init="xavier_normal", norm="layer", norm_position="pre", seed=seed)
    assert plain["verdict"] == "exploding"
    assert pre_ln["verdict"] == "healthy"


@pytest.mark.parametrize("seed", SEEDS)
def test_unnormalised_attention_saturates_and_collapses_the_tokens(seed):
    # Dong, Cordonnier & Loukas 2021: attention drives the tokens towards rank one; with
    # growing scores the softmax saturates (one key per query).
    plain = run(init="xavier_normal", norm="none", seed=seed)["probes"]["attention"]
    pre_ln = run(seed=seed)["probes"]["attention"]
    last = plain["blocks"][-1]
    assert min(last["softmax_saturated_fraction"]) > 0.9
    assert last["attention_entropy_mean"] < 0.1
    assert plain["output_token_similarity"] > 0.8
    assert pre_ln["output_token_similarity"] < 0.5
    assert pre_ln["blocks"][-1]["attention_entropy_mean"] > 0.9 * pre_ln["max_entropy"]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("scale", [1.0 / math.sqrt(24), 0.0])
def test_scaled_or_zeroed_branches_keep_an_unnormalised_transformer_healthy(seed, scale):
    # Fixup (Zhang et al. 2019), ReZero (Bachlechner et al. 2020): branches scaled ~1/√L, or
    # zero at initialisation, keep the stream an identity map at the start of training.
    result = run(init="xavier_normal", norm="none", residual_scale=scale, seed=seed)
    assert result["verdict"] == "healthy"
    variances = [layer["activation_std"] ** 2 for layer in result["layers"][:-1]]
    assert max(variances) < 3.0


@pytest.mark.parametrize("seed", SEEDS)
def test_post_ln_keeps_the_stream_at_unit_variance_and_pre_ln_lets_it_grow(seed):
    post = run(norm_position="post", seed=seed)
    pre = run(norm_position="pre", seed=seed)
    assert all(
        layer["activation_std"] == pytest.approx(1.0, abs=0.02) for layer in post["layers"][:-1]
    )
    pre_variance = [layer["activation_std"] ** 2 for layer in pre["layers"][:-1]]
    assert pre_variance[-1] > 1.3 * pre_variance[0]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    "extra",
    [{}, {"norm_position": "post"}, {"norm": "none"}, {"activation": "relu"},
     {"norm": "none", "residual_scale": 0.3}, {"activation": "tanh", "norm_position": "post"}],
)  # fmt: skip
def test_transformer_theory_agrees_where_it_claims_to(seed, extra):
    # The residual recursion: stream variance within 10 % per sub-layer, backward decades
    # within 0.3 at width 128, wherever it says it applies.
    result = run(width=128, seq_len=32, seed=seed, **extra)
    theory = result["theory"]
    assert theory["covered"] is True
    assert abs(theory["predicted_decades"] - theory["measured_decades"]) <= 0.3
    for predicted, measured in zip(
        theory["predicted_stream_variance"], theory["measured_stream_variance"], strict=True
    ):
        assert measured == pytest.approx(predicted, rel=0.1)


def test_transformer_theory_says_where_it_does_not_apply():
    theory = run(init="he_normal")["theory"]
    assert theory["covered"] is False
    assert theory["predicted_decades"] is None
    assert "does not apply" in theory["note"]


def test_cross_entropy_and_training_run_on_a_transformer():
    result = run(depth=2, loss="cross_entropy", train_steps=3, optimizer="adam")
    assert result["training"]["steps_completed"] == 3
    assert len(result["training"]["update_ratio_per_layer"]) == len(result["layers"])


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_pre_ln_weight_gradients_are_largest_near_the_input_as_predicted(seed):
    # Xiong et al. 2020: in pre-LN the stream grows with depth, so the gradient reaching a
    # block's branch, and its weight gradient, shrink towards the output.
    theory = run(depth=24, width=128, seq_len=32, seed=seed)["theory"]
    predicted = theory["predicted_ffn_weight_grad_profile"]
    measured = theory["measured_ffn_weight_grad_profile"]
    assert predicted[0] > 1.3 and measured[0] > 1.3
    assert 1 / 1.5 < measured[0] / predicted[0] < 1.5
