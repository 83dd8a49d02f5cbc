"""Advantages, masks and losses against values computed by hand."""

import math

import pytest
import torch

from trainers.advantages import (
    aggregate,
    batch_total,
    clipped_policy_loss,
    clipped_value_loss,
    gae,
    group_advantages,
    informative_groups,
)
from trainers.batch import TokenMismatch, token_sample
from trainers.rollout import Rollout, Turn


def test_group_advantages():
    rewards, groups = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.5, 0.5]), torch.tensor([0, 0, 1, 1, 2, 2])
    expected = 0.5 / (math.sqrt(0.5) + 1e-4)  # centred by the group mean, over the unbiased std
    assert group_advantages(rewards, groups).tolist() == pytest.approx(
        [expected, -expected, -expected, expected, 0, 0]
    )
    assert group_advantages(rewards, groups, "dr_grpo").tolist() == pytest.approx(
        [0.5, -0.5, -0.5, 0.5, 0, 0]
    )
    assert informative_groups(rewards, groups).tolist() == [True, True, True, True, False, False]


def test_aggregations():
    per_token = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    assert aggregate(per_token, mask, "sequence_mean").item() == pytest.approx((1.5 + 4.0) / 2)
    assert aggregate(per_token, mask, "token_mean").item() == pytest.approx(7 / 3)
    assert aggregate(per_token, mask, "constant_length").item() == pytest.approx(7 / 6)


def test_clipped_policy_loss():
    ratios = torch.tensor([[1.5, 0.5], [1.5, 1.0]])
    loss, stats = clipped_policy_loss(
        torch.log(ratios), torch.zeros(2, 2), torch.tensor([1.0, -1.0]), torch.ones(2, 2)
    )
    # sample 0 (A=+1): min(1.5, 1.2) = 1.2 and min(0.5, 0.8) = 0.5 -> losses -1.2, -0.5
    # sample 1 (A=-1): min(-1.5, -1.2) = -1.5 and -1.0 -> losses 1.5, 1.0
    assert loss.item() == pytest.approx(((-1.2 - 0.5) / 2 + (1.5 + 1.0) / 2) / 2)
    assert stats["clip_fraction"] == pytest.approx(0.75)
    higher, _ = clipped_policy_loss(
        torch.log(ratios), torch.zeros(2, 2), torch.tensor([1.0, -1.0]), torch.ones(2, 2), clip_high=0.6
    )
    assert higher.item() == pytest.approx(
        ((-1.5 - 0.5) / 2 + (1.5 + 1.0) / 2) / 2
    )  # clip-higher lets 1.5 through


def test_masked_tokens_do_not_count_and_kl_is_zero_on_the_reference():
    logprobs = torch.log(torch.tensor([[2.0, 1.0]]))
    loss, stats = clipped_policy_loss(
        logprobs,
        torch.zeros(1, 2),
        torch.tensor([1.0]),
        torch.tensor([[0, 1]]),
        ref_logprobs=logprobs.clone(),
        kl_coef=0.1,
    )
    assert loss.item() == pytest.approx(-1.0) and stats["kl"] == pytest.approx(0.0)


def test_gae_skips_masked_tokens():
    rewards = torch.tensor([[0.0, 0.0, 1.0]])
    values = torch.tensor([[0.5, 9.0, 0.8]])
    mask = torch.tensor([[1, 0, 1]])
    advantages, returns = gae(rewards, values, mask, gamma=1.0, lam=1.0)
    assert advantages.tolist()[0] == pytest.approx([0.5, 0.0, 0.2])  # 0.3 + 0.2, skip, 1 - 0.8
    assert returns.tolist()[0] == pytest.approx([1.0, 0.0, 1.0])
    advantages, _ = gae(rewards, values, mask, gamma=1.0, lam=0.5)
    assert advantages.tolist()[0] == pytest.approx([0.3 + 0.5 * 0.2, 0.0, 0.2])


def test_clipped_value_loss():
    loss = clipped_value_loss(
        torch.tensor([[1.0]]), torch.tensor([[0.5]]), torch.tensor([[2.0]]), torch.ones(1, 1)
    )
    assert loss.item() == pytest.approx(0.5 * max((1.0 - 2.0) ** 2, (0.7 - 2.0) ** 2))


def _rollout(turns):
    return Rollout("t", 0, [], 1.0, {"x": 1.0}, "r", True, False, turns)


def test_token_sample_masks_everything_the_model_did_not_generate():
    sample = token_sample(
        _rollout(
            [Turn([1, 2, 3], [4, 5], [-0.1, -0.2], "stop"), Turn([1, 2, 3, 4, 5, 6, 7], [8], [-0.3], "stop")]
        ),
        "g",
    )
    assert sample.prompt_ids == [1, 2, 3]
    assert sample.completion_ids == [4, 5, 6, 7, 8]
    assert sample.mask == [1, 1, 0, 0, 1]
    assert sample.sampling_logprobs == [-0.1, -0.2, 0.0, 0.0, -0.3]
    assert sample.generated_tokens == 3 and sample.reward == 1.0


def test_a_re_tokenized_reply_keeps_the_models_own_tokens():
    # turn 1 generated [7, 8, END]; the template re-renders that reply as [78, END]
    END = 2
    turns = [
        Turn([1, 5], [7, 8, END], [-0.1, -0.2, -0.3], "stop"),
        Turn([1, 5, 78, END, 40, 41], [9, END], [-0.4, -0.5], "stop"),
    ]
    sample = token_sample(_rollout(turns), "g")
    assert sample.completion_ids == [
        7,
        8,
        END,
        40,
        41,
        9,
        END,
    ]  # the tool output [40, 41] follows the model's tokens
    assert sample.mask == [1, 1, 1, 0, 0, 1, 1]
    cut = [Turn([1, 5], [7, 8], [-0.1, -0.2], "length"), Turn([1, 5, 78, END, 40], [9], [-0.4], "stop")]
    assert token_sample(_rollout(cut), "g", end_of_turn=END).completion_ids == [7, 8, 40, 9]
    with pytest.raises(TokenMismatch):  # cut off by the token limit, and no EOS given to line up on
        token_sample(_rollout(cut), "g")


def test_turn_rewards_sit_on_each_turns_last_generated_token():
    turns = [
        Turn([1, 2, 3], [4, 5], [-0.1, -0.2], "stop", reward=0.25),
        Turn([1, 2, 3, 4, 5, 6, 7], [8], [-0.3], "stop"),
    ]
    sample = token_sample(_rollout(turns), "g")
    assert sample.token_rewards() == [0.0, 0.25, 0.0, 0.0, 1.0]  # the last turn carries the episode's score
    single = token_sample(_rollout([Turn([1], [2, 3, 4], [-0.1] * 3, "stop")]), "g")
    assert single.token_rewards() == [0.0, 0.0, 1.0]


@pytest.mark.parametrize("how", ["sequence_mean", "token_mean", "constant_length"])
def test_shares_of_a_whole_batch_loss_add_up_to_it(how):
    """Micro-batches (and ranks) normalised by the whole batch's total sum to its loss;
    an all-masked padding row adds nothing."""
    per_token = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 0.0], [6.0, 0.0, 0.0], [9.0, 9.0, 9.0]])
    mask = torch.tensor([[1, 1, 1], [1, 1, 0], [1, 0, 0], [0, 0, 0]])  # the last row: padding
    whole = aggregate(per_token[:3], mask[:3], how)
    total = batch_total([row.tolist() for row in mask[:3]], how)
    parts = aggregate(per_token[:2], mask[:2], how, total=total) + aggregate(
        per_token[2:], mask[2:], how, total=total
    )
    assert parts.item() == pytest.approx(whole.item())
