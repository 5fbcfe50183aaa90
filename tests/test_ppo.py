"""Ensure the PPO core is right: GAE, the clipped losses, KL early stop, dedup (paper: PPO)."""
import copy
import math

import pytest
import torch
import torch.nn.functional as F

import ppo

# A toy agent: 4 fixed states (ints, hashable), 3 actions, some masked out as invalid.
MASKS = torch.tensor([[1, 1, 1], [1, 1, 0], [1, 1, 1], [1, 0, 1]], dtype=torch.bool)  # (4, K)


def make_agent(seed=0):
    """A linear actor and a linear critic on one-hot states, with their two callables."""
    torch.manual_seed(seed)
    actor, critic = torch.nn.Linear(4, 3), torch.nn.Linear(4, 1)

    def policy_fn(states):
        x = F.one_hot(torch.tensor(states), 4).float()  # (B, 4)
        return actor(x).masked_fill(~MASKS[states], float("-inf"))  # (B, K)

    def value_fn(states):
        return critic(F.one_hot(torch.tensor(states), 4).float())[:, 0]  # (B,)

    return actor, critic, policy_fn, value_fn


def make_batch(policy_fn, B, seed=0):
    """A batch of B states (with many duplicates), actions sampled from the current policy."""
    g = torch.Generator().manual_seed(seed)
    states = torch.randint(0, 4, (B,), generator=g).tolist()
    with torch.no_grad():
        actions, logprobs, _ = ppo.categorical(policy_fn(states), generator=g)
    advantages = ppo.normalize_advantages(torch.randn(B, generator=g))
    values = torch.randn(B, generator=g)
    returns = values + torch.randn(B, generator=g)
    return states, actions, logprobs, advantages, returns, values


def snapshot(module):
    return [p.detach().clone() for p in module.parameters()]


def same(params, module, atol=0.0):
    return all(torch.allclose(a, b, atol=atol, rtol=0) for a, b in zip(params, module.parameters()))


# ------------------------------------------------------------------------------------------ GAE
def test_gae_hand_computed_with_macro_discounts_and_done():
    """Ensure GAE matches a hand computation with gamma^k macro discounts and a mid-rollout done."""
    # gamma = 0.9, lambda = 0.5; step 0 is a macro of k=2 primitive steps -> discount 0.81.
    # Step 1 ends the episode (dones[2] = 1: obs 2 starts a new one), so nothing flows across it.
    rewards = torch.tensor([[1.0], [2.0], [3.0]])
    values = torch.tensor([[0.5], [1.0], [2.0]])
    dones = torch.tensor([[0.0], [0.0], [1.0]])
    discounts = torch.tensor([[0.81], [0.9], [0.9]])
    next_value, next_done = torch.tensor([4.0]), torch.tensor([0.0])
    # t=2: delta = 3 + 0.9 * 4 - 2 = 4.6                     A2 = 4.6
    # t=1: delta = 2 + 0 (episode ends) - 1 = 1.0            A1 = 1.0 + 0 = 1.0
    # t=0: delta = 1 + 0.81 * 1.0 - 0.5 = 1.31               A0 = 1.31 + 0.81 * 0.5 * 1.0 = 1.715
    adv, ret = ppo.compute_gae(rewards, values, dones, next_value, next_done, discounts, 0.5)
    assert torch.allclose(adv[:, 0], torch.tensor([1.715, 1.0, 4.6]))
    assert torch.allclose(ret[:, 0], torch.tensor([2.215, 2.0, 6.6]))


def gae_reference(rewards, values, dones, next_value, next_done, discounts, lam):
    """Textbook GAE, one env and one t at a time: the weighted sum of the deltas that follow.

    A_t = sum_u c_u delta_u over u >= t, c_t = 1, c_{u+1} = c_u * d_u * lambda * (1 - done_{u+1}).
    """
    T, N = rewards.shape
    V = torch.cat([values, next_value[None]]).tolist()  # (T+1, N)
    D = torch.cat([dones, next_done[None]]).tolist()  # (T+1, N)
    r, d = rewards.tolist(), discounts.tolist()
    adv = torch.zeros(T, N, dtype=torch.float64)
    for n in range(N):
        delta = [r[t][n] + d[t][n] * V[t + 1][n] * (1 - D[t + 1][n]) - V[t][n] for t in range(T)]
        for t in range(T):
            weight, total = 1.0, 0.0
            for u in range(t, T):
                total += weight * delta[u]
                weight *= d[u][n] * lam * (1 - D[u + 1][n])
            adv[t, n] = total
    return adv


def test_gae_matches_textbook_reference_on_random_data():
    """Ensure compute_gae equals the sum-of-deltas definition with random dones and discounts."""
    g = torch.Generator().manual_seed(0)
    T, N = 9, 4
    rewards = torch.randn(T, N, generator=g, dtype=torch.float64)
    values = torch.randn(T, N, generator=g, dtype=torch.float64)
    dones = (torch.rand(T, N, generator=g) < 0.3).double()
    discounts = 0.99 ** torch.randint(1, 5, (T, N), generator=g).double()  # gamma^k, k in 1..4
    next_value = torch.randn(N, generator=g, dtype=torch.float64)
    next_done = (torch.rand(N, generator=g) < 0.5).double()
    args = (rewards, values, dones, next_value, next_done)
    adv, ret = ppo.compute_gae(*args, discounts, 0.95)
    assert torch.allclose(adv, gae_reference(*args, discounts, 0.95))
    assert torch.allclose(ret, adv + values)
    # A plain float gamma (VirtualHome: one discount per decision) equals a constant table.
    adv_float, _ = ppo.compute_gae(*args, 0.95, 0.95)
    assert torch.allclose(adv_float, gae_reference(*args, torch.full((T, N), 0.95), 0.95))


# ----------------------------------------------------------------------------- distribution, losses
def test_entropy_and_logprob_with_padding_are_finite_and_correct():
    """Ensure entropy over valid actions ignores -inf padding (no 0 * -inf NaN), grads included."""
    logits = torch.tensor([[1.0, 2.0, float("-inf")], [0.5, float("-inf"), float("-inf")]],
                          requires_grad=True)
    _, logprobs, entropy = ppo.categorical(logits, torch.tensor([1, 0]))
    p = torch.softmax(torch.tensor([1.0, 2.0]), -1)
    assert torch.allclose(entropy, torch.stack([-(p * p.log()).sum(), torch.tensor(0.0)]))
    assert torch.allclose(logprobs, torch.stack([p[1].log(), torch.tensor(0.0)]))
    (entropy.sum() + logprobs.sum()).backward()
    assert torch.isfinite(logits.grad).all()
    # Sampling never picks a padding slot.
    actions, _, _ = ppo.categorical(logits.detach().expand(500, 2, 3).reshape(1000, 3))
    assert (actions.view(500, 2)[:, 1] == 0).all() and (actions != 2).all()


def test_policy_loss_has_zero_gradient_on_the_clipped_side():
    """Ensure the clipped surrogate has zero gradient once the ratio is clipped on the good side."""
    old = torch.zeros(4)
    # ratios 1.5 (A>0, clipped), 0.5 (A<0, clipped), 1.5 (A<0, unclipped), 1.05 (A>0, inside)
    new = torch.log(torch.tensor([1.5, 0.5, 1.5, 1.05])).requires_grad_()
    advantages = torch.tensor([1.0, -1.0, -1.0, 1.0])
    loss, info = ppo.policy_loss(new, old, advantages, clip_coef=0.2)
    loss.backward()
    assert new.grad[0] == 0 and new.grad[1] == 0
    assert new.grad[2] != 0 and new.grad[3] != 0
    assert info["clipfrac"] == 0.75


def test_approx_kl_is_nonnegative_and_zero_at_identity():
    """Ensure the k3 KL estimator is >= 0 for any log-ratio and exactly 0 when nothing changed."""
    logratio = torch.randn(1000, generator=torch.Generator().manual_seed(0)) * 3
    assert ((logratio.exp() - 1) - logratio >= 0).all() and ppo.approx_kl(logratio) >= 0
    assert ppo.approx_kl(torch.zeros(10)) == 0


def test_value_loss_clipped_is_pessimistic():
    """Ensure the clipped value loss is 0.5 * max(unclipped, clipped), as in CleanRL."""
    new, old, ret = torch.tensor([1.0]), torch.tensor([0.0]), torch.tensor([1.0])
    # unclipped (1 - 1)^2 = 0; clipped V = 0 + 0.2 -> (0.2 - 1)^2 = 0.64; max -> 0.5 * 0.64
    assert torch.isclose(ppo.value_loss(new, old, ret, 0.2)[0], torch.tensor(0.32))
    assert ppo.value_loss(new, old, ret, 0.2, clip_vloss=False)[0] == 0


# ----------------------------------------------------------------------------------------- update
def test_update_moves_policy_toward_positive_advantage_and_values_toward_returns():
    """Ensure one update raises pi(a) where A > 0, lowers it where A < 0, and fits V to returns."""
    actor, critic, policy_fn, value_fn = make_agent()
    # B = 64: two accumulation groups. Each state once with action 0 (good, A = +1) and once
    # with a valid bad action (A = -1); state 3 has action 1 masked, so its bad action is 2.
    states = [0, 0, 1, 1, 2, 2, 3, 3] * 8
    bad = torch.tensor([1, 1, 1, 2])  # (4,)
    actions = torch.tensor([0, 1, 0, 1, 0, 1, 0, 2] * 8)
    advantages = torch.where(actions == 0, 1.0, -1.0)
    with torch.no_grad():
        logp_before = torch.log_softmax(policy_fn([0, 1, 2, 3]), -1)  # (4, K)
        _, logprobs, _ = ppo.categorical(policy_fn(states), actions)
        values = value_fn(states)
    returns = torch.tensor(states, dtype=torch.float32) + 1.0  # (B,), distinct per state
    mse_before = ((value_fn(states) - returns) ** 2).mean().item()
    actor_opt = torch.optim.SGD(actor.parameters(), lr=0.5)
    critic_opt = torch.optim.SGD(critic.parameters(), lr=0.5)
    metrics = ppo.update(policy_fn, value_fn, states, actions, logprobs, advantages, returns,
                         values, actor_opt, critic_opt, target_kl=None,
                         generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        logp_after = torch.log_softmax(policy_fn([0, 1, 2, 3]), -1)
        mse_after = ((value_fn(states) - returns) ** 2).mean().item()
    assert (logp_after[:, 0] > logp_before[:, 0]).all()
    assert (logp_after[range(4), bad] < logp_before[range(4), bad]).all()
    assert mse_after < mse_before
    assert metrics["policy/steps"] == 2 and metrics["policy/kl_stop"] == 0
    assert all(v == v for v in metrics.values()), metrics  # no NaN metric


def test_value_epochs_repeat_the_value_phase_and_leave_the_policy_alone():
    """Ensure value_epochs=k takes k times the critic steps (B=64, minibatches of 32: 2 per pass),
    fits the returns better than one pass, and does not touch the actor's update."""
    results = {}
    for k in (1, 3):
        actor, critic, policy_fn, value_fn = make_agent()
        states, actions, logprobs, advantages, returns, values = make_batch(policy_fn, 64)
        critic_opt = torch.optim.SGD(critic.parameters(), lr=0.1)
        steps = []
        critic_opt.step = lambda step=critic_opt.step: (steps.append(1), step())[1]  # count the steps
        ppo.update(policy_fn, value_fn, states, actions, logprobs, advantages, returns, values,
                   torch.optim.SGD(actor.parameters(), lr=0.1), critic_opt, value_epochs=k, target_kl=None,
                   clip_vloss=False, policy_microbatch=4, grad_accum=16, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            results[k] = (len(steps), ((value_fn(states) - returns) ** 2).mean().item(), snapshot(actor))
    assert results[1][0] == 2 and results[3][0] == 6
    assert results[3][1] < results[1][1]
    # one policy group holds the whole batch, so the actor's step does not depend on the order
    # drawn after the value phase: the extra value passes must leave it exactly as it was
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(results[1][2], results[3][2]))


def test_vf_coef_scales_the_critics_step_and_never_the_actors():
    """Ensure --vf-coef multiplies the value loss: with plain SGD and no clipping, twice the
    coefficient is twice the critic's step, 0 is no step; the actor steps the same either way."""
    steps = {}
    for vf_coef in (0.0, 1.0, 2.0):
        actor, critic, policy_fn, value_fn = make_agent()
        states, actions, logprobs, advantages, returns, values = make_batch(policy_fn, 32)
        before = snapshot(critic)
        ppo.update(policy_fn, value_fn, states, actions, logprobs, advantages, returns, values,
                   torch.optim.SGD(actor.parameters(), lr=0.1), torch.optim.SGD(critic.parameters(), lr=0.1),
                   vf_coef=vf_coef, max_grad_norm=1e9, clip_vloss=False, value_minibatch=32,
                   target_kl=None, generator=torch.Generator().manual_seed(0))
        steps[vf_coef] = ([a - b for a, b in zip(snapshot(critic), before)], snapshot(actor))
    assert all(torch.equal(d, torch.zeros_like(d)) for d in steps[0.0][0])
    assert any(d.abs().sum() > 0 for d in steps[1.0][0])
    assert all(torch.allclose(d2, 2 * d1, atol=1e-7) for d1, d2 in zip(steps[1.0][0], steps[2.0][0]))
    assert all(torch.equal(a, b) for a, b in zip(steps[0.0][1], steps[2.0][1]))


def test_kl_stop_on_first_group_discards_its_gradient():
    """Ensure a first group already above target_kl leaves the actor untouched and sets kl_stop."""
    actor, critic, policy_fn, value_fn = make_agent()
    states, actions, logprobs, advantages, returns, values = make_batch(policy_fn, 64)
    before = snapshot(actor)
    # Old log-probs 1 nat below the current ones: k3 KL = (e - 1) - 1 = 0.72 > 0.02 at once.
    metrics = ppo.update(policy_fn, value_fn, states, actions, logprobs - 1.0, advantages,
                         returns, values, torch.optim.SGD(actor.parameters(), lr=1.0),
                         torch.optim.SGD(critic.parameters(), lr=1.0), update_epochs=3)
    assert same(before, actor)
    assert metrics["policy/kl_stop"] == 1 and metrics["policy/steps"] == 0
    assert metrics["losses/approx_kl"] == pytest.approx(torch.e - 2, rel=1e-5)


def test_kl_stop_after_a_large_step():
    """Ensure a huge learning rate makes the second group's KL exceed the target: one step only."""
    actor, critic, policy_fn, value_fn = make_agent()
    states, actions, logprobs, advantages, returns, values = make_batch(policy_fn, 96)
    metrics = ppo.update(policy_fn, value_fn, states, actions, logprobs, advantages, returns,
                         values, torch.optim.SGD(actor.parameters(), lr=100.0),
                         torch.optim.SGD(critic.parameters(), lr=0.1), max_grad_norm=100.0)
    assert metrics["policy/steps"] == 1 and metrics["policy/kl_stop"] == 1


def test_entropy_before_is_the_rollout_policys_and_losses_entropy_is_not():
    """Ensure policy/entropy_before is the first group's entropy before any actor step (one group
    holds the whole batch here), while losses/entropy also averages the group of the second epoch,
    evaluated after a large step."""
    actor, critic, policy_fn, value_fn = make_agent()
    states, actions, logprobs, advantages, returns, values = make_batch(policy_fn, 64)
    with torch.no_grad():
        _, _, entropy = ppo.categorical(policy_fn(states))  # (B,) before the update
    metrics = ppo.update(policy_fn, value_fn, states, actions, logprobs, advantages, returns, values,
                         torch.optim.SGD(actor.parameters(), lr=5.0), torch.optim.SGD(critic.parameters(), lr=0.1),
                         update_epochs=2, target_kl=None, policy_microbatch=4, grad_accum=16,
                         generator=torch.Generator().manual_seed(0))
    assert metrics["policy/steps"] == 2
    assert metrics["policy/entropy_before"] == pytest.approx(entropy.mean().item(), rel=1e-6)
    assert abs(metrics["losses/entropy"] - metrics["policy/entropy_before"]) > 1e-3


def test_accumulated_groups_equal_one_step_per_group_mean():
    """Ensure accumulated micro-batches = one step on each group's mean loss, partial group too."""
    actor, critic, policy_fn, value_fn = make_agent()
    states, actions, logprobs, advantages, returns, values = make_batch(policy_fn, 36)
    reference = copy.deepcopy(actor)
    g = torch.Generator().manual_seed(5)
    torch.randperm(36, generator=g)  # the value phase's shuffle comes first
    perm = torch.randperm(36, generator=g).tolist()
    for group in (perm[:32], perm[32:]):  # a full group of 32 states, then a partial one of 4
        reference.zero_grad()
        x = F.one_hot(torch.tensor([states[i] for i in group]), 4).float()  # (b, 4)
        logits = reference(x).masked_fill(~MASKS[[states[i] for i in group]], float("-inf"))
        _, lp, ent = ppo.categorical(logits, actions[group])
        loss, _ = ppo.policy_loss(lp, logprobs[group], advantages[group], clip_coef=0.2)
        (loss - 0.01 * ent.mean()).backward()
        with torch.no_grad():
            for p in reference.parameters():
                p -= 0.1 * p.grad  # plain SGD, no clipping
    ppo.update(policy_fn, value_fn, states, actions, logprobs, advantages, returns, values,
               torch.optim.SGD(actor.parameters(), lr=0.1),
               torch.optim.SGD(critic.parameters(), lr=0.1), target_kl=None, max_grad_norm=1e9,
               generator=torch.Generator().manual_seed(5))
    assert same(snapshot(reference), actor, atol=1e-6)


def test_eval_unique_with_a_cache_scores_each_state_once_across_calls():
    """Ensure a cache shares rows across calls, and pads them again as fn pads its own batch."""
    def scores(states):  # state s has s + 1 valid actions, scored s + k; (B, K) padded with -inf
        K = max(states) + 1
        return torch.tensor([[float(s + k) if k <= s else -math.inf for k in range(K)] for s in states])
    seen, cache = [], {}
    for batch in ([2, 0, 2], [0, 1, 1], [0, 0]):  # widths 3, 2, 1
        out = ppo.eval_unique(lambda states: seen.extend(states) or scores(states), batch, cache)
        assert torch.equal(out, scores(batch))
    assert seen == [2, 0, 1]  # each distinct state evaluated once, in order of first appearance


def test_dedup_is_exact():
    """Ensure dedup=True gives the same gradients, metrics and weights as the plain path."""
    results, calls = [], []
    for dedup in (True, False):
        actor, critic, policy_fn, value_fn = make_agent(seed=1)
        n = [0]

        def counting_policy_fn(states, policy_fn=policy_fn, n=n):
            n[0] += len(states)
            return policy_fn(states)

        # B = 46: a partial last group (14 states) ending in a partial micro-batch (2 states).
        states, actions, logprobs, advantages, returns, values = make_batch(policy_fn, 46)
        # Gradient of one micro-batch of duplicates.
        actor.zero_grad()
        logits = ppo.eval_unique(policy_fn, [2, 2, 1, 2]) if dedup else policy_fn([2, 2, 1, 2])
        _, lp, ent = ppo.categorical(logits, actions[:4])
        (lp.sum() + ent.sum()).backward()
        grads = [p.grad.clone() for p in actor.parameters()]
        metrics = ppo.update(counting_policy_fn, value_fn, states, actions, logprobs + 0.01,
                             advantages, returns, values,
                             torch.optim.Adam(actor.parameters(), lr=1e-2),
                             torch.optim.Adam(critic.parameters(), lr=1e-2), update_epochs=2,
                             value_minibatch=8, target_kl=None, dedup=dedup,
                             generator=torch.Generator().manual_seed(123))
        results.append((grads, metrics, snapshot(actor) + snapshot(critic)))
        calls.append(n[0])
    (g1, m1, p1), (g2, m2, p2) = results
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(g1, g2))
    assert m1.keys() == m2.keys()
    assert all(m1[k] == pytest.approx(m2[k], abs=1e-6) for k in m1), (m1, m2)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(p1, p2))
    assert calls[0] < calls[1] == 2 * 46  # dedup really evaluated fewer states
    # each of the 4 distinct states is evaluated once per group: 2 epochs x 2 groups x 4 states
    assert calls[0] <= 2 * 2 * 4


def test_non_finite_policy_raises_before_any_actor_step():
    """Ensure NaN logits raise FloatingPointError and the actor weights stay unchanged."""
    actor, critic, policy_fn, value_fn = make_agent()
    states, actions, logprobs, advantages, returns, values = make_batch(policy_fn, 32)
    before = snapshot(actor)

    def nan_policy_fn(states):
        return policy_fn(states) * float("nan")

    with pytest.raises(FloatingPointError, match="non-finite"):
        ppo.update(nan_policy_fn, value_fn, states, actions, logprobs, advantages, returns,
                   values, torch.optim.SGD(actor.parameters(), lr=1.0),
                   torch.optim.SGD(critic.parameters(), lr=1.0))
    assert same(before, actor)
    # Same for a NaN value: the critic is never stepped.
    before = snapshot(critic)
    with pytest.raises(FloatingPointError, match="non-finite"):
        ppo.update(policy_fn, lambda s: value_fn(s) * float("nan"), states, actions, logprobs,
                   advantages, returns, values, torch.optim.SGD(actor.parameters(), lr=1.0),
                   torch.optim.SGD(critic.parameters(), lr=1.0))
    assert same(before, critic)


def test_linear_lr_decays_to_zero():
    """Ensure the learning rate decays linearly from lr0 (update 0) towards 0 (paper schedule)."""
    assert ppo.linear_lr(1e-6, 0, 10) == 1e-6
    assert ppo.linear_lr(1e-6, 5, 10) == pytest.approx(5e-7)
