"""The paper's comparison points, as agents that plug into the same PPO and evaluation code.

Implements: the baselines of TWOSOME (Tan et al., ICLR 2024, arXiv 2401.14151):
  - PPO from scratch: CleanRL's separate actor and critic MLPs (64-64, tanh, orthogonal init)
    on the environment's feature vector, masked to the same valid actions the LLM sees.
    # DIFFERS: the original gave PPO the full map and a smaller chopping bonus; here it has
    # exactly TWOSOME's observability and reward, so the comparison is about the prior only.
  - SayCan: the untrained LLM over the valid actions (no RL), evaluated both ways: greedy, as
    SayCan picks, and sampled, as TWOSOME is evaluated (the comparisons quote sampled success).
    That is run.py's LLMAgent before any update, so it needs no code here.
  - random: uniform over the valid actions. The oracle (ceiling) is each env's oracle_plan.
Builds on: CleanRL's ppo.py (its Agent; layer_init is ppo.py's).
Shapes: B states, K valid actions (padded), A = all actions of the task, D feature size.
Agents share run.py's informal interface: policy_logits(states) -> (B, K) scores with -inf
padding, value(states) -> (B,), actor_parameters(), critic_parameters(), save(path).
A state here is (obs_tuple, action_ids_tuple): what the MLP reads and which actions are valid.
Try it: python baselines.py   (random, the oracle and an untrained MLP on the four tasks, ~10 s)
"""
import json
import math
import os

import numpy as np
import torch
from torch import nn

from ppo import layer_init  # CleanRL's: std 0.01 on the policy head (a near-uniform first policy), 1 on the value head


def gather_valid(all_logits, states):
    """(B, A) scores over every action -> (B, K) over each state's valid ones, -inf padding."""
    K = max(len(s[1]) for s in states)
    ids = torch.tensor([list(s[1]) + [0] * (K - len(s[1])) for s in states])  # (B, K)
    valid = torch.tensor([[k < len(s[1]) for k in range(K)] for s in states])  # (B, K)
    return all_logits.gather(1, ids).masked_fill(~valid, -math.inf)  # (B, K)


class MLPAgent(nn.Module):
    """PPO from scratch: actor and critic MLPs on the feature vector (CleanRL's Agent)."""

    def __init__(self, obs_dim, n_actions, hidden=64):
        super().__init__()
        self.config = {"obs_dim": obs_dim, "n_actions": n_actions, "hidden": hidden}
        self.critic = nn.Sequential(layer_init(nn.Linear(obs_dim, hidden)), nn.Tanh(),
                                    layer_init(nn.Linear(hidden, hidden)), nn.Tanh(),
                                    layer_init(nn.Linear(hidden, 1), std=1.0))
        self.actor = nn.Sequential(layer_init(nn.Linear(obs_dim, hidden)), nn.Tanh(),
                                   layer_init(nn.Linear(hidden, hidden)), nn.Tanh(),
                                   layer_init(nn.Linear(hidden, n_actions), std=0.01))

    def _obs(self, states):
        return torch.tensor(np.array([s[0] for s in states]), dtype=torch.float32)  # (B, D)

    def policy_logits(self, states):
        return gather_valid(self.actor(self._obs(states)), states)  # (B, K)

    def value(self, states):
        return self.critic(self._obs(states))[:, 0]  # (B,)

    def actor_parameters(self):
        return list(self.actor.parameters())

    def critic_parameters(self):
        return list(self.critic.parameters())

    def save(self, path):
        os.makedirs(path, exist_ok=True)
        torch.save(self.state_dict(), os.path.join(path, "mlp.pt"))
        with open(os.path.join(path, "mlp.json"), "w") as f:
            json.dump(self.config, f)


def load_mlp_agent(path):
    agent = MLPAgent(**json.load(open(os.path.join(path, "mlp.json"))))
    agent.load_state_dict(torch.load(os.path.join(path, "mlp.pt")))
    return agent


class RandomAgent(nn.Module):
    """Uniform over the valid actions: equal scores, so softmax gives 1/K each."""

    def policy_logits(self, states):
        return gather_valid(torch.zeros(len(states), 1 + max(max(s[1]) for s in states)), states)

    def value(self, states):
        return torch.zeros(len(states))


if __name__ == "__main__":
    # The levels every learning curve lies between: uniform random over the valid actions and the
    # oracle's shortest plan, with the paper's logged return (each env's GAMMA); and how close to
    # uniform CleanRL's initialisation makes an untrained MLP policy.
    import overcooked_env
    import virtualhome_env

    def play(env, module, choose):
        """One episode: (success, logged discounted return, decisions)."""
        obs, info = env.reset()
        ret, disc, n = 0.0, 1.0, 0
        while True:
            obs, r, terminated, truncated, info = env.step(choose(obs, info, n))
            ret, disc, n = ret + disc * r, disc * module.discount(info), n + 1
            if terminated or truncated:
                return info["success"], ret, n

    torch.manual_seed(0)  # the MLPs' initial weights
    gen, episodes = torch.Generator().manual_seed(0), 100  # gen: the random agent's choices
    print(f"{'task':15s} | random: success return decisions | oracle: decisions return | untrained MLP: max |p - 1/K|")
    for module, make, task in ((overcooked_env, overcooked_env.OvercookedEnv, "tomato"),
                               (overcooked_env, overcooked_env.OvercookedEnv, "tomato-lettuce"),
                               (virtualhome_env, virtualhome_env.VirtualHomeEnv, "food"),
                               (virtualhome_env, virtualhome_env.VirtualHomeEnv, "entertainment")):
        env, random_agent = make(task), RandomAgent()

        def sample(obs, info, n):  # the policy's interface, as run.py drives it
            logits = random_agent.policy_logits([(tuple(obs.tolist()), tuple(info["action_ids"]))])  # (1, K)
            return info["action_ids"][int(torch.multinomial(logits.softmax(-1)[0], 1, generator=gen))]
        runs = np.array([play(env, module, sample) for _ in range(episodes)], dtype=float)  # (episodes, 3)
        env.reset()
        plan = module.oracle_plan(env)
        _, best, _ = play(env, module, lambda obs, info, n: plan[n])
        obs, info = env.reset()
        mlp = MLPAgent(env.observation_space.shape[0], env.action_space.n)
        with torch.no_grad():
            p = mlp.policy_logits([(tuple(obs.tolist()), tuple(info["action_ids"]))]).softmax(-1)[0]  # (K,)
        print(f"{task:15s} | {runs[:, 0].mean():15.0%} {runs[:, 1].mean():+7.3f} {runs[:, 2].mean():9.1f} |"
              f" {len(plan):15d} {best:6.4f} | {(p - 1 / len(p)).abs().max():.4f} (K = {len(p)})")

# Expected output (random: 100 sampled episodes; the oracle's return is the optimum):
# task            | random: success return decisions | oracle: decisions return | untrained MLP: max |p - 1/K|
# tomato          |             40%  -0.147      60.8 |               6 0.9205 | 0.0011 (K = 5)
# tomato-lettuce  |              0%  -0.228      67.2 |              10 0.9477 | 0.0017 (K = 8)
# food            |              1%  +0.002      49.9 |               6 0.7738 | 0.0011 (K = 5)
# entertainment   |              0%  +0.000      50.0 |              11 0.5987 | 0.0013 (K = 5)
