"""PPO with GAE for a policy over a changing set of valid actions, knowing nothing of LLMs.

Implements: TWOSOME (Tan et al., ICLR 2024, arXiv 2401.14151), its PPO: GAE with semi-MDP
discounts, the clipped losses, and the two-phase update (value phase, then a policy phase with
gradient accumulation and an approximate-KL early stop).
Builds on: PPO (arXiv 1707.06347), GAE (arXiv 1506.02438), CleanRL's `ppo.py` (names, GAE loop,
clipped value loss, k3 KL estimator, layer_init).

An agent plugs in through two callables; states are opaque hashable objects, e.g.
`(prompt, action_texts)` for the LLM or `(obs_tuple, mask_tuple)` for an MLP:
    policy_fn(states) -> logits (B, K), -inf on invalid or padding slots, grad into the actor
    value_fn(states)  -> values (B,), grad into the critic

Shapes: T rollout steps, N envs, B batch of states (T * N flattened), K valid actions (padded).
Try it: python ppo.py   (GAE on a five-step toy trajectory with one 3-step macro)
"""
import math

import torch


# ---------------------------------------------------------------------------------------------
# Advantages
# ---------------------------------------------------------------------------------------------
def compute_gae(rewards, values, dones, next_value, next_done, discounts, gae_lambda):
    """Generalised advantage estimation, CleanRL's backward loop with a per-step discount.

    rewards, values, dones, discounts: (T, N); next_value, next_done: (N,) for the obs after the
    last step. dones[t] = 1 when obs t is the first obs of a new episode (CleanRL's convention).
    discounts[t] multiplies the value of the state after step t: gamma**k_t for an Overcooked
    macro of k_t primitive steps, gamma for a VirtualHome decision (a float is broadcast).
    Returns (advantages, returns), both (T, N).
    """
    T, N = rewards.shape
    discounts = torch.as_tensor(discounts, dtype=rewards.dtype, device=rewards.device)
    discounts = discounts.expand(T, N)  # (T, N), a float gamma becomes a constant table
    # The value and "not a new episode" flag of the state after each step t.
    next_values = torch.cat([values[1:], next_value[None]])  # (T, N)
    next_nonterminal = 1.0 - torch.cat([dones[1:], next_done[None]]).to(rewards.dtype)  # (T, N)
    advantages = torch.zeros_like(rewards)  # (T, N)
    lastgaelam = torch.zeros_like(next_value, dtype=rewards.dtype)  # (N,)
    for t in reversed(range(T)):
        # PAPER: semi-MDP, a macro of k primitive steps discounts what follows by gamma^k.
        # delta_t = r_t + d_t * V(s_{t+1}) * (1 - done_{t+1}) - V(s_t)
        delta = rewards[t] + discounts[t] * next_values[t] * next_nonterminal[t] - values[t]
        # A_t = delta_t + d_t * lambda * (1 - done_{t+1}) * A_{t+1}
        lastgaelam = delta + discounts[t] * gae_lambda * next_nonterminal[t] * lastgaelam
        advantages[t] = lastgaelam  # (N,)
    returns = advantages + values  # (T, N), the value targets
    return advantages, returns


def normalize_advantages(advantages, all_reduce=None):
    """(adv - mean) / (std + 1e-8) over the whole batch, done once by the caller.

    all_reduce: for a multi-process run (torchrun), a function that averages a tensor over the
    processes in place; every process holds as many samples, so the mean of the means is the
    global mean and the statistics are those of the global batch."""
    # DIFFERS: CleanRL normalises inside each minibatch; a policy micro-batch here holds only 4
    # states, far too few for a mean and std. Normalising the whole batch once, outside update(),
    # also makes a multi-process run simple: average the mean and the mean square first.
    if all_reduce is None:
        return (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    moments = torch.stack([advantages.mean(), advantages.pow(2).mean()])  # (2,) local
    all_reduce(moments)  # (2,) global E[A], E[A^2]
    var = moments[1] - moments[0] ** 2  # population variance: differs from .std()'s by n/(n-1)
    return (advantages - moments[0]) / (var.clamp_min(0).sqrt() + 1e-8)


def linear_lr(lr0, update_idx, num_updates):
    """Learning rate for update `update_idx` (0-based): linear decay from lr0 towards 0."""
    # PAPER: linear decay to 0; the caller sets param_group["lr"] before each update (CleanRL).
    return lr0 * (1.0 - update_idx / num_updates)


def layer_init(layer, std=math.sqrt(2), bias_const=0.0):
    """CleanRL's initialisation of an actor's or a critic's linear layer: orthogonal weights with
    gain `std` (sqrt 2 for hidden layers; small, e.g. 0.01, for a last layer whose first outputs
    should be near 0, such as a policy head, so that the first policy is near uniform), constant bias."""
    torch.nn.init.orthogonal_(layer.weight, std)
    torch.nn.init.constant_(layer.bias, bias_const)
    return layer


# ---------------------------------------------------------------------------------------------
# Distribution and losses
# ---------------------------------------------------------------------------------------------
def categorical(logits, actions=None, generator=None):
    """Categorical over the valid actions: sample if `actions` is None.

    logits: (B, K) with -inf on invalid/padding slots. Returns (actions, logprobs, entropy),
    each (B,). Use logits.argmax(-1) for greedy evaluation.
    """
    logp = torch.log_softmax(logits.float(), dim=-1)  # (B, K), -inf stays -inf on padding
    if actions is None:
        actions = torch.multinomial(logp.exp(), 1, generator=generator)[:, 0]  # (B,)
    logprobs = logp.gather(-1, actions[:, None])[:, 0]  # (B,)
    # H = -sum_k p_k log p_k over valid k. A padding slot has p = 0 and log p = -inf, and
    # 0 * -inf = NaN (also in the backward pass), so log p is zeroed there before multiplying.
    logp_valid = logp.masked_fill(torch.isneginf(logp), 0.0)  # (B, K)
    entropy = -(logp.exp() * logp_valid).sum(-1)  # (B,)
    return actions, logprobs, entropy


def approx_kl(logratio):
    """KL(old || new) estimated as mean((r - 1) - log r), r = new/old: unbiased and >= 0 (k3)."""
    # http://joschu.net/blog/kl-approx.html (the estimator CleanRL logs as approx_kl)
    return ((logratio.exp() - 1) - logratio).mean()


def policy_loss(new_logprobs, old_logprobs, advantages, clip_coef):
    """Clipped surrogate loss, mean over the batch. All inputs (B,). Returns (loss, info)."""
    # r_t(theta) = pi_theta(a_t|s_t) / pi_old(a_t|s_t)   (a probability ratio, not a reward)
    logratio = new_logprobs - old_logprobs  # (B,)
    ratio = logratio.exp()  # (B,)
    # L = E[ max(-A_t r_t, -A_t clip(r_t, 1 - eps, 1 + eps)) ]: the pessimistic side of the two
    pg_loss1 = -advantages * ratio  # (B,)
    pg_loss2 = -advantages * torch.clamp(ratio, 1 - clip_coef, 1 + clip_coef)  # (B,)
    loss = torch.max(pg_loss1, pg_loss2).mean()
    with torch.no_grad():
        clipfrac = ((ratio - 1.0).abs() > clip_coef).float().mean()
        info = {"approx_kl": approx_kl(logratio), "clipfrac": clipfrac}
    return loss, info


def value_loss(new_values, old_values, returns, clip_coef, clip_vloss=True):
    """CleanRL's (clipped) value loss 0.5 * max((V - R)^2, (V_clip - R)^2). Returns (loss, info)."""
    v_loss_unclipped = (new_values - returns) ** 2  # (B,)
    if not clip_vloss:
        return 0.5 * v_loss_unclipped.mean(), {"clipfrac": torch.zeros(())}
    # PAPER: clip 0.2 for the value too. V_clip = V_old + clip(V - V_old, -eps, eps)
    v_clipped = old_values + torch.clamp(new_values - old_values, -clip_coef, clip_coef)  # (B,)
    v_loss_clipped = (v_clipped - returns) ** 2  # (B,)
    loss = 0.5 * torch.max(v_loss_unclipped, v_loss_clipped).mean()
    clipfrac = ((new_values - old_values).abs() > clip_coef).float().mean().detach()
    return loss, {"clipfrac": clipfrac}


# ---------------------------------------------------------------------------------------------
# The two-phase update
# ---------------------------------------------------------------------------------------------
def eval_unique(fn, states, cache=None):
    """fn(states), (B, ...), with fn evaluated once per distinct (hashable) state.

    The one mechanism for "each distinct state once": the update's batches (below), run.py's
    rollout and evaluation, and the critic's features in llm_policy.py. Exact: duplicate states
    share one row of fn's output, and autograd sums their gradients.
    cache: a dict the caller keeps (state -> row of fn's (B, K) output), to share rows across calls
    too. That is exact
    only while fn stays the same function: within one rollout or evaluation (no_grad, fixed
    weights), or for the features of frozen weights (LLMAgent.value). A cached row keeps its
    entries up to the last one that is not -inf, and each call pads its rows again with -inf to
    its widest, so a policy's logits (B, K) come back exactly as fn pads them for these states
    (-inf must mark padding only: true of every policy here, which scores the valid actions alone).
    """
    # DIFFERS: a speed-up, pinned to the plain path by tests/test_ppo.py and tests/test_run.py. A
    # rollout revisits the same states (the same kitchen, the same prompt), and each LLM forward
    # pass is the cost.
    if cache is None:
        first = {}  # state -> its row among the distinct states, in order of first appearance
        inverse = [first.setdefault(s, len(first)) for s in states]
        out = fn(list(first))  # (U, ...) with U distinct states
        return out[torch.as_tensor(inverse, device=out.device)]  # (B, ...)
    todo = list(dict.fromkeys(s for s in states if s not in cache))
    if todo:
        for s, row in zip(todo, fn(todo)):  # row (K,): -inf padding up to this call's widest state
            cache[s] = row[: int((~torch.isneginf(row)).nonzero().max()) + 1]
    rows = [cache[s] for s in states]
    return torch.nn.utils.rnn.pad_sequence(rows, batch_first=True, padding_value=-math.inf)  # (B, K)


def _micro_batches(states, group_inds, size, dedup):
    """Split a group's sample indices into micro-batches of `size` samples, or, with dedup, of
    `size` DISTINCT states (all samples of a state together), so that each distinct state of the
    group is evaluated once. The accumulated gradient is the group's mean either way: exact."""
    if not dedup:
        return [group_inds[i:i + size] for i in range(0, len(group_inds), size)]
    by_state = {}  # state -> its samples in the group, in order of first appearance
    for i in group_inds:
        by_state.setdefault(states[i], []).append(i)
    chunks = list(by_state.values())
    return [sum(chunks[i:i + size], []) for i in range(0, len(chunks), size)]


def _average_grads(params, all_reduce):
    """Multi-process only: average each gradient over the processes (what DDP does)."""
    if all_reduce is not None:
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            all_reduce(p.grad)


def _params(optimizer):
    return [p for group in optimizer.param_groups for p in group["params"]]


def _check_finite(optimizer, what, *tensors):
    """Raise FloatingPointError (after dropping the gradients) unless every tensor is finite."""
    if not all(torch.isfinite(t).all() for t in tensors):
        optimizer.zero_grad()
        raise FloatingPointError(f"non-finite {what}: no optimizer step taken, reload a checkpoint")


def update(policy_fn, value_fn, states, actions, logprobs, advantages, returns, values,
           actor_opt, critic_opt, *, clip_coef=0.2, ent_coef=0.01, vf_coef=0.5,
           max_grad_norm=0.5, target_kl=0.02, update_epochs=1, value_epochs=1, value_minibatch=32,
           policy_microbatch=4, grad_accum=8, clip_vloss=True, dedup=True, generator=None,
           all_reduce=None):
    """One PPO update on a flattened batch: value phase, then policy phase. Returns metrics.

    states: list of B hashable states; actions, logprobs, advantages (already normalised),
    returns, values: (B,) from the rollout. The defaults are the paper's.
    A KL stop ends the whole update (remaining epochs too), as CleanRL's `break` does. Metrics
    are means over every minibatch and group evaluated, including a group that was discarded,
    except policy/entropy_before: the first group's entropy, before any step (this process's).
    Raises FloatingPointError before stepping on any non-finite value, log-prob, loss or grad.
    all_reduce (torchrun): averages a tensor over the processes in place; gradients and each
    group's KL are averaged before clipping, stepping and the early-stop test, so all processes
    take the same steps and stop together. Every process must hold a batch of the same size.
    value_epochs: passes of the value phase over the batch in each epoch (the paper: 1).
    dedup=True evaluates each distinct state once per value minibatch and once per policy
    group (micro-batches then hold `policy_microbatch` distinct states): exact, only faster.
    """
    B = len(states)
    b_actions, b_logprobs, b_advantages = actions, logprobs, advantages  # (B,) each
    b_returns, b_values = returns, values  # (B,) each
    critic_params, actor_params = _params(critic_opt), _params(actor_opt)
    group_size = policy_microbatch * grad_accum  # PAPER: 4 x 8 = 32 states per actor step

    def evaluate(fn, inds):  # fn on these samples' states: each distinct one once (dedup), or all
        return eval_unique(fn, [states[i] for i in inds]) if dedup else fn([states[i] for i in inds])

    m = {k: [] for k in ("value_loss", "policy_loss", "entropy", "approx_kl", "clipfrac", "policy_samples")}
    policy_steps, kl_stop = 0, False
    entropy_before = None  # the first group's mean entropy, evaluated before any actor step

    for epoch in range(update_epochs):
        # -- Value phase (PAPER: first): minibatches of 32 states, one critic step each ---------
        # The critic shares no trainable weight with the actor (it reads the frozen LLM), so
        # this phase cannot change the policy; a last partial minibatch steps on its own mean.
        # value_epochs > 1 passes over the batch again, each in a new order.
        for _ in range(value_epochs):
            b_inds = torch.randperm(B, generator=generator).tolist()
            for start in range(0, B, value_minibatch):
                mb_inds = b_inds[start:start + value_minibatch]
                newvalues = evaluate(value_fn, mb_inds)  # (mb,)
                v_loss, _ = value_loss(newvalues, b_values[mb_inds], b_returns[mb_inds],
                                       clip_coef, clip_vloss)
                critic_opt.zero_grad()
                _check_finite(critic_opt, "value or value loss", newvalues, v_loss)
                (vf_coef * v_loss).backward()
                _average_grads(critic_params, all_reduce)
                grad_norm = torch.nn.utils.clip_grad_norm_(critic_params, max_grad_norm)
                _check_finite(critic_opt, "critic gradient", grad_norm)
                critic_opt.step()
                m["value_loss"].append(v_loss.detach())

        # -- Policy phase: micro-batches of 4, gradients accumulated over a group of 8 ----------
        b_inds = torch.randperm(B, generator=generator).tolist()
        for g_start in range(0, B, group_size):
            group_inds = b_inds[g_start:g_start + group_size]
            actor_opt.zero_grad()
            g_logratio, g_losses = [], []
            for mb_inds in _micro_batches(states, group_inds, policy_microbatch, dedup):
                logits = evaluate(policy_fn, mb_inds)  # (mb, K)
                _, newlogprobs, entropy = categorical(logits, b_actions[mb_inds])  # (mb,) each
                pg_loss, pg_info = policy_loss(newlogprobs, b_logprobs[mb_inds],
                                               b_advantages[mb_inds], clip_coef)
                # loss = L_clip - c_ent * H   (PAPER: c_ent = 0.01); the bonus keeps exploring
                loss = pg_loss - ent_coef * entropy.mean()
                # Weight len(mb)/len(group) makes the accumulated gradient the group's mean: the
                # paper's 1/grad_accum for full groups. DIFFERS: a partial last group (B not a
                # multiple of the group size) still steps, on the mean over the states it has,
                # rather than being dropped or shrunk by 1/grad_accum.
                (loss * len(mb_inds) / len(group_inds)).backward()
                g_logratio.append((newlogprobs - b_logprobs[mb_inds]).detach())  # (mb,)
                g_losses.append(loss.detach())
                # metrics are sample-weighted, so they do not depend on how a group is split
                m["policy_loss"].append(pg_loss.detach() * len(mb_inds))
                m["entropy"].append(entropy.detach().sum())
                m["clipfrac"].append(pg_info["clipfrac"] * len(mb_inds))
                m["policy_samples"].append(torch.tensor(float(len(mb_inds))))
            # KL of this group's samples, from the weights the group was evaluated with (the
            # old log-probs come from the rollout, so earlier steps of this update count too).
            kl = approx_kl(torch.cat(g_logratio))
            if entropy_before is None:  # the group just evaluated is the first: no step yet
                entropy_before = (torch.stack(m["entropy"]).sum() / torch.stack(m["policy_samples"]).sum()).item()
            if all_reduce is not None:
                all_reduce(kl)  # every process decides on the same, global KL
            m["approx_kl"].append(kl)
            _check_finite(actor_opt, "log-prob or policy loss", kl, torch.stack(g_losses))
            # PAPER: above target_kl, discard this group's gradient and stop the policy phase.
            if target_kl is not None and kl > target_kl:
                actor_opt.zero_grad()
                kl_stop = True
                break
            _average_grads(actor_params, all_reduce)
            grad_norm = torch.nn.utils.clip_grad_norm_(actor_params, max_grad_norm)
            _check_finite(actor_opt, "actor gradient", grad_norm)
            actor_opt.step()
            policy_steps += 1
        if kl_stop:  # like CleanRL's `break`, the stop also ends the remaining epochs
            break

    samples = m.pop("policy_samples")
    n = torch.stack(samples).sum() if samples else float("nan")
    metrics = {f"losses/{k}": (torch.stack(v).sum() / n if k in ("policy_loss", "entropy", "clipfrac")
                               else torch.stack(v).mean()).item() if v else float("nan")
               for k, v in m.items()}
    # explained variance = 1 - Var[R - V_rollout] / Var[R]: the share of the returns' variance
    # that the rollout's value estimates already predicted (CleanRL's diagnostic, 1 is perfect).
    var_y = torch.var(b_returns, correction=0)
    explained_var = 1 - torch.var(b_returns - b_values, correction=0) / var_y
    metrics["losses/explained_variance"] = explained_var.item() if var_y > 0 else float("nan")
    metrics["policy/steps"], metrics["policy/kl_stop"] = policy_steps, float(kl_stop)
    # losses/entropy averages every group evaluated, some after a step; this one is the rollout
    # policy's own entropy, on the first group's states (a random group_size of the batch's)
    metrics["policy/entropy_before"] = entropy_before if entropy_before is not None else float("nan")
    return metrics


if __name__ == "__main__":
    # One Overcooked-like episode of five decisions; the second is a macro of k=3 primitive
    # steps, so the value after it is discounted by gamma^3. The episode ends after t=4.
    gamma, gae_lambda = 0.99, 0.95
    k = torch.tensor([1, 3, 1, 1, 1])
    rewards = torch.tensor([0.0, 0.2, 0.0, 0.0, 1.0])[:, None]  # (T, N) = (5, 1)
    values = torch.tensor([0.5, 0.6, 0.7, 0.8, 0.9])[:, None]  # (5, 1)
    dones = torch.zeros(5, 1)  # no episode starts inside the rollout
    discounts = (gamma ** k.float())[:, None]  # (5, 1)
    next_value, next_done = torch.tensor([0.3]), torch.tensor([1.0])  # obs 5 starts a new episode
    advantages, returns = compute_gae(rewards, values, dones, next_value, next_done,
                                      discounts, gae_lambda)
    print(" t  k  discount  reward  value  advantage  return")
    table = torch.cat([discounts, rewards, values, advantages, returns], dim=1)  # (T, 5)
    for t in range(5):
        d, r, v, a, ret = table[t].tolist()
        print(f"{t:2d} {k[t].item():2d}  {d:8.4f}  {r:6.2f}  {v:5.2f}  {a:9.4f}  {ret:6.4f}")
    # Read t=1 as: delta = 0.2 + 0.99^3 * 0.7 - 0.6, then A_1 = delta + 0.99^3 * 0.95 * A_2.
    # Expected output:
    #  t  k  discount  reward  value  advantage  return
    #  0  1    0.9900    0.00   0.50     0.5872  1.0872
    #  1  3    0.9703    0.20   0.60     0.5244  1.1244
    #  2  1    0.9900    0.00   0.70     0.2660  0.9660
    #  3  1    0.9900    0.00   0.80     0.1850  0.9850
    #  4  1    0.9900    1.00   0.90     0.1000  1.0000
