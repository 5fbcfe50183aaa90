"""The paper's comparison points, as agents that plug into the same PPO and evaluation code.

Implements: the baselines of TWOSOME (Tan et al., ICLR 2024, arXiv 2401.14151):
  - PPO from scratch: CleanRL's separate actor and critic MLPs (64-64, tanh, orthogonal init)
    on the environment's feature vector, masked to the same valid actions the LLM sees.
    # DIFFERS: the original gave PPO the full map and a smaller chopping bonus; here it has
    # exactly TWOSOME's observability and reward, so the comparison is about the prior only.
  - SayCan: the untrained LLM, greedy over the valid actions (no RL). That is run.py's
    LLMAgent before any update, so it needs no code here.
  - random: uniform over the valid actions. The oracle (ceiling) is each env's oracle_plan.
Builds on: CleanRL's ppo.py (layer_init, Agent).
Shapes: B states, K valid actions (padded), A = all actions of the task, D feature size.
Agents share run.py's informal interface: policy_logits(states) -> (B, K) scores with -inf
padding, value(states) -> (B,), actor_parameters(), critic_parameters(), save(path).
A state here is (obs_tuple, action_ids_tuple): what the MLP reads and which actions are valid.
"""
import json
import math
import os

import numpy as np
import torch
from torch import nn


def layer_init(layer, std=math.sqrt(2), bias=0.0):
    # CleanRL: orthogonal weights, constant bias; the policy head uses std 0.01 so the first
    # policy is close to uniform, the value head std 1.
    nn.init.orthogonal_(layer.weight, std)
    nn.init.constant_(layer.bias, bias)
    return layer


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

