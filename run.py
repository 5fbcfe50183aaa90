"""Train or evaluate a TWOSOME agent: the whole experiment, top to bottom.

Implements: TWOSOME (Tan et al., ICLR 2024, arXiv 2401.14151), the training loop: a frozen LLM
scores every valid action phrase (llm_policy.py), PPO trains the LoRA actor and the value-head
critic online (ppo.py) in a text-described environment (overcooked_env.py, virtualhome_env.py,
with the text from prompts.py).
Builds on: CleanRL's ppo.py (the layout of main: seed, envs, agent, optimisers, storage, loop).

Try it:
    python run.py --env overcooked --norm word            # Tomato Salad, the default model
    python run.py --env virtualhome --task food --steps 3000
    python run.py --evaluate runs/<run>                   # reload a checkpoint and evaluate it
    python run.py --env virtualhome --play                # choose the actions yourself
The last line on stdout is a JSON summary; runs/<run>/ holds config.json, metrics.jsonl,
the latest checkpoint and curves.png.
"""
import argparse
import dataclasses
import json
import math
import os
import pickle
import random
import shutil
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import torch

import overcooked_env
import ppo
import virtualhome_env

# Task-dependent defaults: OURS, found by experiment for Gemma 3 270M in fp32 on a 2-core CPU,
# and the PAPER's (for LLaMA-7B in fp16), which --paper restores. The discount is the paper's in
# both: each environment module's GAMMA and discount(info, gamma).
# DIFFERS: the learning rates. The paper's 5e-7 / 1e-6 move a 270M model's LoRA by nothing
# measurable. With the paper's rollout and standardised advantages, a sweep on Tomato Salad
# (bench/results/lr-sweep/) found 1e-4 learnt nothing in 2,300 decisions (a KL of ~1e-4 per
# update) and 1e-3 collapsed the entropy within 10 updates, onto "chop the tomato" forever; 3e-4
# learnt. With our wider rollout and raw advantages (below), 1e-3 learns both environments: on
# Tomato Salad seed 1 it ended at 100 % sampled success (return 0.79) where 3e-4 ended at 80 %
# (0.55), and on Food Preparation it reached greedy success sooner (4,096 and 5,632 decisions,
# two seeds, against 7,680). Runs: bench/results/defaults-search/.
TASK_DEFAULTS = {
    "tomato":         dict(steps=8_192, actor_lr=1e-3, critic_lr=1e-3),
    "tomato-lettuce": dict(steps=32_768, actor_lr=1e-3, critic_lr=1e-3),
    "food":           dict(steps=8_192, actor_lr=1e-3, critic_lr=1e-3),
    "entertainment":  dict(steps=16_384, actor_lr=1e-3, critic_lr=1e-3),
}
PAPER_TASK_DEFAULTS = {
    "tomato":         dict(steps=500_000, actor_lr=5e-7, critic_lr=1e-5),
    "tomato-lettuce": dict(steps=500_000, actor_lr=5e-7, critic_lr=1e-5),
    "food":           dict(steps=50_000, actor_lr=1e-6, critic_lr=5e-5),
    "entertainment":  dict(steps=200_000, actor_lr=1e-6, critic_lr=5e-5),
}
# DIFFERS: the rollout and the policy group. The paper collects 4 envs x 32 steps = 128 decisions
# per update and steps the actor on groups of 4 x 8 = 32 states; ours are 16 x 32 = 512 decisions
# and groups of 4 x 32 = 128 states. An update costs one LLM pass per DISTINCT state (the rollout's
# score cache and the update's deduplicated batches), and these tasks have a few dozen distinct
# states, so four times the decisions cost little more compute: four times the episodes, and the
# chances to meet a first sparse reward, per minute, and a less noisy gradient per actor step.
# DIFFERS: advantages are used as they are, not standardised per batch (the paper, as CleanRL,
# standardises them). In a sparse-reward task a batch without a single reward has advantages
# that are only the critic's noise, ~1e-5; standardising blows that noise up to unit size, it
# outweighs the entropy bonus, and the policy collapses before it ever meets the reward: Food
# Preparation seeds 3 and 4 went from 1.2 nats to 0.03 and 0.28 in 8,192 decisions without one
# success (bench/results/reliability-ablation/). Raw, the entropy bonus keeps them exploring.
ROLLOUT_DEFAULTS = dict(num_envs=16, grad_accum=32, norm_adv=False)
PAPER_ROLLOUT_DEFAULTS = dict(num_envs=4, grad_accum=8, norm_adv=True)
# Each environment module owns its TASKS, its discount (GAMMA, discount(info, gamma)) and its
# oracle_plan(env); run.py only picks the module.
ENVS = {"overcooked": overcooked_env, "virtualhome": virtualhome_env}
ENV_TASKS = {name: tuple(module.TASKS) for name, module in ENVS.items()}


TASK_ENV = {task: env for env, tasks in ENV_TASKS.items() for task in tasks}
ALGOS = ("twosome", "ppo", "saycan", "random", "oracle")
TRAINED = ("twosome", "ppo")  # saycan, random and oracle are evaluated as they are


def arg(default, help):
    return field(default=default, metadata={"help": help})


@dataclass
class Args:
    # --- IO
    out: str = arg(None, "run directory (default runs/<env>-<task>-<norm>-s<seed>-<time>); must not exist yet")
    resume: str = arg(None, "continue the run in this directory from its last checkpoint")
    evaluate: str = arg(None, "only evaluate the checkpoint in this run directory")
    play: bool = arg(False, "interactive: you choose each action and see the policy's probabilities")
    watch: str = arg(None, "play one sampled episode of the agent in this run directory: each decision's "
                           "world, prompt and action probabilities")
    gif: str = arg(None, "with --watch: write the episode to this new .gif file instead of the terminal")
    checkpoint_every: int = arg(1, "updates between checkpoints (ours)")
    # --- task and algorithm
    algo: str = arg("twosome", "twosome | ppo (from scratch, MLPs) | saycan (untrained LLM) | random | oracle")
    env: str = arg("overcooked", "overcooked | virtualhome")
    task: str = arg(None, "None = tomato (overcooked) or food (virtualhome); see ENV_TASKS")
    variant: str = arg("good", "prompt variant, for the ablation: see prompts.VARIANTS")
    # --- model / LoRA
    model: str = arg("gemma3-270m", "gemma3-270m | smollm2-135m | a local transformers directory")
    dtype: str = arg("float32", "dtype of the frozen LLM (LoRA and the value head stay fp32)")
    device: str = arg("cpu", "cpu | cuda")
    threads: int = arg(2, "torch CPU threads")
    norm: str = arg("word", "action-score normalisation: none | token | word (paper: word is best)")
    lora_r: int = arg(8, "LoRA rank (paper)")
    lora_alpha: int = arg(16, "LoRA alpha (paper)")
    # --- PPO (paper values unless marked)
    steps: int = arg(None, "training budget in decisions; None = TASK_DEFAULTS (PAPER_TASK_DEFAULTS with --paper)")
    seed: int = arg(1, "seed of the policy's sampling and the update shuffles (the envs are deterministic)")
    paper: bool = arg(False, "the paper's settings for everything marked DIFFERS in these defaults: 4 envs, "
                             "groups of 4 x 8, its learning rates and budgets (PAPER_TASK_DEFAULTS)")
    num_envs: int = arg(None, "parallel environments; None = 16 (ours), 4 with --paper")
    num_steps: int = arg(32, "decisions per environment per rollout (paper)")
    gamma: float = arg(None, "discount; None = the env module's GAMMA (paper)")
    gae_lambda: float = arg(0.95, "GAE lambda (paper)")
    clip_coef: float = arg(0.2, "policy and value clip (paper)")
    ent_coef: float = arg(0.01, "entropy bonus (paper)")
    vf_coef: float = arg(0.5, "value-loss coefficient (paper)")
    max_grad_norm: float = arg(0.5, "gradient-norm clip (paper)")
    target_kl: float = arg(0.02, "approximate-KL early stop of the policy phase (paper)")
    update_epochs: int = arg(1, "epochs over each rollout (paper)")
    value_epochs: int = arg(1, "passes of each epoch's value phase over the rollout (paper: 1)")
    value_minibatch: int = arg(32, "states per value-phase minibatch (paper)")
    policy_microbatch: int = arg(4, "states per policy-phase micro-batch (paper)")
    grad_accum: int = arg(None, "micro-batches accumulated per policy step; None = 32 (ours), 8 with --paper")
    actor_lr: float = arg(None, "LoRA learning rate; None = TASK_DEFAULTS (--algo ppo: 2.5e-4, CleanRL's)")
    critic_lr: float = arg(None, "value-head learning rate; None = TASK_DEFAULTS (--algo ppo: 2.5e-4, CleanRL's)")
    anneal_lr: bool = arg(True, "linear decay of both learning rates to 0 (paper)")
    norm_adv: bool = arg(None, "standardise the advantages over each batch; None = no (ours), yes with --paper")
    fast: bool = arg(True, "exact speed-ups: one prompt encoding per state, rollout score cache, "
                           "deduplicated update batches, cached critic features")
    # --- evaluation
    eval_episodes: int = arg(20, "sampled-policy episodes of each evaluation (plus one greedy episode)")
    eval_every: int = arg(1, "updates between evaluations (0 = only at the end)")
    stop_at_greedy: float = arg(None, "stop training once greedy success reaches this (e.g. 1.0)")
    stop_at_sampled: float = arg(None, "stop training once an evaluation's sampled success reaches this; "
                                       "with --stop-at-greedy, once both do")


class UsageError(Exception):
    """Bad input: reported as one line on stderr, exit code 2, nothing written."""


def parse_args(argv=None):
    # ~10 lines of argparse built from the dataclass: every field a flag, its help from the metadata.
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for f in dataclasses.fields(Args):
        flag = "--" + f.name.replace("_", "-")
        if f.type is bool or f.type == "bool":
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default, help=f.metadata["help"])
        else:
            kind = {"int": int, "float": float, "str": str}[f.type if isinstance(f.type, str) else f.type.__name__]
            parser.add_argument(flag, type=kind, default=f.default, help=f.metadata["help"])

    def one_line_error(message):  # argparse prints usage + message; we promise one line
        raise UsageError(message)
    parser.error = one_line_error
    return Args(**vars(parser.parse_args(argv)))


def check_args(args):
    """Resolve task defaults and reject bad input before anything is loaded or written."""
    import prompts
    if args.algo not in ALGOS:
        raise UsageError(f"unknown --algo {args.algo!r}; choose one of: {', '.join(ALGOS)}")
    if args.env not in ENV_TASKS:
        raise UsageError(f"unknown --env {args.env!r}; choose one of: {', '.join(ENV_TASKS)}")
    args.task = args.task or ENV_TASKS[args.env][0]
    if args.task not in ENV_TASKS[args.env]:
        raise UsageError(f"unknown --task {args.task!r} for --env {args.env}; choose one of: {', '.join(ENV_TASKS[args.env])}")
    if args.norm not in ("none", "token", "word"):
        raise UsageError(f"unknown --norm {args.norm!r}; choose one of: none, token, word")
    if args.variant not in prompts.VARIANTS:
        raise UsageError(f"unknown --variant {args.variant!r}; choose one of: {', '.join(prompts.VARIANTS)}")
    table = PAPER_TASK_DEFAULTS if args.paper else TASK_DEFAULTS
    defaults = dict(table.get(args.task, table["food"]))  # unseen tasks = food's dynamics
    defaults.update(PAPER_ROLLOUT_DEFAULTS if args.paper else ROLLOUT_DEFAULTS)
    if args.algo == "ppo":
        defaults.update(actor_lr=2.5e-4, critic_lr=2.5e-4)  # CleanRL's Adam learning rate for MLPs
    defaults["gamma"] = ENVS[args.env].GAMMA
    for name in ("steps", "actor_lr", "critic_lr", "gamma", "num_envs", "grad_accum", "norm_adv"):
        if getattr(args, name) is None:
            setattr(args, name, defaults[name])
    for name in ("steps", "num_envs", "num_steps", "policy_microbatch", "grad_accum", "value_minibatch", "threads",
                 "update_epochs", "value_epochs"):
        if getattr(args, name) <= 0:
            raise UsageError(f"--{name.replace('_', '-')} must be a positive integer, got {getattr(args, name)}")
    for path in (args.resume, args.evaluate):
        if path is not None and not os.path.isfile(os.path.join(path, "checkpoint", "state.pt")):
            raise UsageError(f"{path!r} is not a run directory with a checkpoint (no {path}/checkpoint/state.pt)")
    if args.watch is not None and not os.path.isfile(os.path.join(args.watch, "checkpoint", "state.pt")):
        raise UsageError(f"{args.watch!r} is not a run directory with a checkpoint (no {args.watch}/checkpoint/state.pt)")
    if args.gif is not None:
        if args.watch is None:
            raise UsageError("--gif writes what --watch shows: give --watch RUN_DIR too")
        if os.path.exists(args.gif) or not os.path.isdir(os.path.dirname(os.path.abspath(args.gif))):
            raise UsageError(f"--gif {args.gif!r} must be a new file in an existing directory")
    if args.play and args.algo == "oracle":
        raise UsageError("--play shows a policy's probabilities; the oracle has none (choose another --algo)")
    if args.out is not None and os.path.exists(args.out) and not args.resume:
        raise UsageError(f"--out {args.out!r} already exists; choose a new directory or --resume it")
    return args


def env_module(env):
    """The module that defines env's class (it holds that env's oracle_plan)."""
    return sys.modules[type(env).__module__]


def make_env(args, render_mode=None):
    # A plain if/elif, no registry: both envs share the informal interface
    # reset/step + info["prompt"], info["action_texts"], info["action_ids"], info["success"].
    if args.env == "overcooked":
        from overcooked_env import OvercookedEnv
        return OvercookedEnv(task=args.task, variant=args.variant, render_mode=render_mode)
    from virtualhome_env import VirtualHomeEnv
    return VirtualHomeEnv(task=args.task, variant=args.variant, render_mode=render_mode)


def with_obs(obs, info):
    """The env's info plus its feature vector, which PPO from scratch reads instead of text."""
    return {**info, "obs": tuple(np.asarray(obs).tolist())}


def state_of(info, algo="twosome"):
    """What the policy sees, hashable so that it can be cached: the prompt and the valid action
    phrases for an LLM; the feature vector and the valid action ids for the MLPs."""
    if algo in ("ppo", "random"):
        return (info["obs"], tuple(info["action_ids"]))
    return (info["prompt"], tuple(info["action_texts"]))


def step_discount(args, info):
    # PAPER: semi-MDP discount gamma**k for a macro of k primitive steps (Overcooked); gamma per
    # decision (VirtualHome). The env module knows which.
    return ENVS[args.env].discount(info, args.gamma)


def cached_policy(policy_fn, states, cache):
    """Scores of each state's valid actions, (B, K); each distinct state scored once per update.

    Exact while the weights are fixed (a rollout, an evaluation): the cache is cleared after
    every update. `cache=None` is the plain path."""
    if cache is None:
        return policy_fn(states)
    todo = list(dict.fromkeys(s for s in states if s not in cache))
    if todo:
        for s, row in zip(todo, policy_fn(todo)):
            cache[s] = row[: len(s[1])]
    K = max(len(s[1]) for s in states)
    out = torch.full((len(states), K), -math.inf)  # (B, K), -inf = padding
    for b, s in enumerate(states):
        out[b, : len(s[1])] = cache[s]
    return out


def run_episode(agent, env, greedy, generator, cache, algo):
    """One evaluation episode: (success, logged discounted return, decisions)."""
    obs, info = env.reset()
    info = with_obs(obs, info)
    ret, disc, n = 0.0, 1.0, 0
    plan = env_module(env).oracle_plan(env) if algo == "oracle" else None  # the ceiling: shortest plan
    while True:
        if plan is not None:
            a = plan[n]
        else:
            logits = cached_policy(lambda s: agent.policy_logits(s).float().cpu(), [state_of(info, algo)], cache)[0]  # (K,)
            k = int(logits.argmax()) if greedy else int(torch.multinomial(logits.softmax(-1), 1, generator=generator))
            a = info["action_ids"][k]
        obs, r, term, trunc, info = env.step(a)
        info = with_obs(obs, info)
        ret += disc * r
        disc *= env_module(env).discount(info)  # the paper's logged return
        n += 1
        if term or trunc:
            return bool(info["success"]), ret, n


def env_log_discount(args, info):
    # The paper's logged return: its own discount (0.99 per primitive step in Overcooked, 0.95 per
    # decision in VirtualHome), whatever gamma PPO was given.
    return ENVS[args.env].discount(info)


def evaluate(agent, args, episodes, seed, cache=None):
    """Greedy and sampled success, each episode from the start. Both envs have one fixed start and
    no randomness, and argmax is deterministic too, so one greedy episode is the greedy policy's
    exact success rate.
    `cache`: a rollout score cache to fill (and reuse) for these weights; None = a fresh one."""
    if cache is None and args.fast:
        cache = {}
    env, gen = make_env(args), torch.Generator().manual_seed(seed)
    with torch.no_grad():
        g_success, g_return, g_len = run_episode(agent, env, True, gen, cache, args.algo)
        sampled = [run_episode(agent, env, False, gen, cache, args.algo) for _ in range(episodes)]
    return {
        "greedy_success": float(g_success), "greedy_return": g_return, "greedy_length": g_len,
        "success_rate": float(np.mean([s for s, _, _ in sampled])) if sampled else float(g_success),
        "mean_return": float(np.mean([r for _, r, _ in sampled])) if sampled else g_return,
        "mean_length": float(np.mean([n for _, _, n in sampled])) if sampled else float(g_len),
    }


def say(message):
    """Print from one process only (rank 0 under torchrun)."""
    if int(os.environ.get("RANK", "0")) == 0:
        print(message, flush=True)


def broadcast(obj):
    """torchrun: rank 0's value of a picklable object, on every process."""
    import torch.distributed as dist
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather(obj, world, rank):
    """torchrun: every process's object, as a list on rank 0 ([obj] for a single process)."""
    if world == 1:
        return [obj]
    import torch.distributed as dist
    out = [None] * world if rank == 0 else None
    dist.gather_object(obj, out, dst=0)
    return out


def atomic_write(path, data, mode="w"):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, mode) as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def save_checkpoint(run_dir, agent, state):
    """Write checkpoint.tmp/ in full, then swap it in: a kill at any moment leaves a good one."""
    tmp, final, old = (os.path.join(run_dir, n) for n in ("checkpoint.tmp", "checkpoint", "checkpoint.old"))
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    agent.save(os.path.join(tmp, "agent"))
    torch.save(state, os.path.join(tmp, "state.pt"))
    shutil.rmtree(old, ignore_errors=True)
    if os.path.exists(final):
        os.replace(final, old)  # between these two renames, checkpoint.old is the good one
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


def recover_checkpoint(run_dir):
    # A kill between the two renames above leaves only checkpoint.old: promote it.
    final, old = os.path.join(run_dir, "checkpoint"), os.path.join(run_dir, "checkpoint.old")
    if not os.path.exists(final) and os.path.exists(old):
        os.replace(old, final)


def plot_curves(run_dir, rows):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.5))
    x = [r["decisions"] for r in rows]
    ev = [r for r in rows if "eval/success_rate" in r]
    a.plot([r["decisions"] for r in ev], [r["eval/success_rate"] for r in ev], "o-",
           label="sampled: evaluation episodes (the paper's measure)")
    a.plot([r["decisions"] for r in ev], [r["eval/greedy_success"] for r in ev], "s--", ms=4,
           label="greedy: one argmax episode")
    a.plot(x, [r["charts/success_rate"] for r in rows], color="grey", lw=0.8, label="last 20 training episodes")
    a.set(xlabel="decisions", ylabel="success rate", ylim=(-0.05, 1.05))
    a.legend(fontsize=7)
    b.plot([r["decisions"] for r in ev], [r["eval/mean_return"] for r in ev], "o-", label="evaluation (sampled)")
    b.plot(x, [r["charts/episodic_return"] for r in rows], color="grey", lw=0.8, label="training episodes")
    b.set(xlabel="decisions", ylabel="discounted return")
    b.legend(fontsize=7)
    fig.suptitle(os.path.basename(os.path.normpath(run_dir)))
    fig.tight_layout()
    tmp = os.path.join(run_dir, f"curves.tmp{os.getpid()}.png")
    fig.savefig(tmp, dpi=80)
    plt.close(fig)
    os.replace(tmp, os.path.join(run_dir, "curves.png"))


def load_agent_for(args, ckpt_dir=None):
    """The agent of --algo: fresh, or reloaded from a checkpoint's agent directory."""
    if args.algo in ("ppo", "random", "oracle"):
        import baselines
        if args.algo == "oracle":
            return None  # it plays the env's oracle_plan, see run_episode
        if args.algo == "random":
            return baselines.RandomAgent()
        if ckpt_dir is not None:
            return baselines.load_mlp_agent(ckpt_dir)
        env = make_env(args)
        return baselines.MLPAgent(int(env.observation_space.shape[0]), int(env.action_space.n))
    import llm_policy
    try:
        model, tokenizer = llm_policy.load_model(args.model, dtype=args.dtype, device=args.device)
    except (ValueError, OSError) as e:  # unknown or not installed: one line, before any write
        raise UsageError(str(e).splitlines()[0]) from None
    if ckpt_dir is not None:
        return llm_policy.load_agent(ckpt_dir, model, tokenizer)
    return llm_policy.LLMAgent(model, tokenizer, norm=args.norm, lora_r=args.lora_r,
                               lora_alpha=args.lora_alpha, shared_prompt=args.fast)


def adopt_run(args, run_dir):
    """--evaluate, --watch: act as the saved run did (its algorithm, env, task, prompt, model, norm)."""
    saved = json.load(open(os.path.join(run_dir, "config.json")))
    for k in ("algo", "env", "task", "variant", "model", "dtype", "norm"):
        setattr(args, k, saved[k])


def watch_run(args):
    """--watch: one sampled episode of a saved agent, in its own env and task, shown or as a GIF."""
    import watch
    adopt_run(args, args.watch)
    if args.algo != "twosome":
        raise UsageError(f"--watch shows an LLM agent's action probabilities; {args.watch} is a {args.algo} run")
    agent = load_agent_for(args, os.path.join(args.watch, "checkpoint", "agent"))
    picture = args.gif and args.env == "overcooked"  # Overcooked draws tiles; VirtualHome is text
    steps = list(watch.episode(agent, make_env(args, "rgb_array" if picture else "ansi"), seed=args.seed))
    if args.gif:
        atomic_write(args.gif, watch.gif(steps, title=f"{args.task}, {os.path.basename(os.path.normpath(args.watch))}"),
                     mode="wb")
    else:
        watch.show(steps)
    return {"success": steps[-1]["success"], "decisions": len(steps) - 1, "gif": args.gif}


def alignment_picture(agent, args, run_dir):
    """policy.png: the untrained and the trained probability of each action of the shortest plan."""
    import watch
    env = make_env(args)
    env.reset()
    untrained, trained, labels = watch.plan_probabilities(agent, env, env_module(env).oracle_plan(env))
    atomic_write(os.path.join(run_dir, "policy.png"), watch.alignment_plot(untrained, trained, labels, title=args.task),
                 mode="wb")


def play(args):
    """Teaching mode: a person picks each action and sees the policy's probability for each."""
    agent = load_agent_for(args, os.path.join(args.resume, "checkpoint", "agent") if args.resume else None)
    env = make_env(args, "ansi")
    info = with_obs(*env.reset())
    total, t = 0.0, 0
    while True:
        with torch.no_grad():
            probs = agent.policy_logits([state_of(info, args.algo)])[0].softmax(-1)  # (K,)
        print(f"\n--- decision {t}\n{env.render()}\n{info['prompt']} ...")
        for k, (text, p) in enumerate(zip(info["action_texts"], probs)):
            print(f"  [{k}] {text:45s} policy {p:6.1%}")
        choice = input("your choice (number, q to quit): ").strip()
        if choice == "q":
            return {"return": total, "decisions": t}
        if not choice.isdigit() or int(choice) >= len(info["action_texts"]):
            print(f"please type a number from 0 to {len(info['action_texts']) - 1}")
            continue
        obs, r, term, trunc, info = env.step(info["action_ids"][int(choice)])
        info = with_obs(obs, info)
        total, t = total + r, t + 1
        print(f"reward {r:+.4f}")
        if term or trunc:
            print("success!" if info["success"] else "episode over (time limit)")
            return {"return": total, "decisions": t, "success": bool(info["success"])}


def main(args: Args) -> dict:
    t_start = time.time()
    # ---------------------------------------------------------------- (1) args, run dir, seeds
    args = check_args(args)
    torch.set_num_threads(args.threads)
    if args.play:
        return play(args)
    if args.watch:
        return watch_run(args)
    if args.evaluate:
        adopt_run(args, args.evaluate)
        agent = load_agent_for(args, os.path.join(args.evaluate, "checkpoint", "agent"))
        result = evaluate(agent, args, args.eval_episodes, args.seed)
        return {**result, "decisions": torch.load(os.path.join(args.evaluate, "checkpoint", "state.pt"),
                                                   weights_only=False)["decisions"], "wall_s": time.time() - t_start}
    if args.resume:
        run_dir = args.resume
        recover_checkpoint(run_dir)
        saved = json.load(open(os.path.join(run_dir, "config.json")))
        args = Args(**{**saved, "resume": run_dir, "out": run_dir})
    # ==== torchrun, 1 of 4: join the process group (a plain `python run.py` has no WORLD_SIZE) ====
    world, rank, all_reduce = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0")), None
    if world > 1:
        import torch.distributed as dist
        if args.device == "cuda":
            args.device = f"cuda:{os.environ['LOCAL_RANK']}"
            torch.cuda.set_device(args.device)
        dist.init_process_group("nccl" if args.device.startswith("cuda") else "gloo")

        def all_reduce(t):  # average over the processes, in place (nccl needs device tensors)
            buf = t.to(args.device)
            dist.all_reduce(buf)
            t.copy_(buf / world)
    seed = args.seed + 1_000 * rank  # each process samples its own actions...
    # ==== end torchrun 1
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)  # ...but all start from the same LoRA and value-head weights
    batch_size = args.num_envs * args.num_steps * world  # decisions per update, all processes
    num_updates = max(1, args.steps // batch_size) if args.algo in TRAINED else 0

    # ---------------------------------------------------------------- (2) environments
    envs = [make_env(args) for _ in range(args.num_envs)]
    infos = [with_obs(*env.reset(seed=seed + i)) for i, env in enumerate(envs)]

    # ---------------------------------------------------------------- (3) frozen LLM + LoRA actor + critic
    ckpt = os.path.join(args.resume, "checkpoint") if args.resume else None
    agent = load_agent_for(args, os.path.join(ckpt, "agent") if ckpt else None)
    # Storage lives on the CPU; the agent's outputs come back to it (a no-op on a CPU run).
    def policy_fn(states):
        return agent.policy_logits(states).float().cpu()  # (B, K)

    def value_fn(states):
        return agent.value(states).float().cpu()  # (B,)
    trained = args.algo in TRAINED  # saycan, random and oracle skip (4)-(6)
    if trained:
        n_train = sum(p.numel() for p in agent.actor_parameters() + agent.critic_parameters())
        n_total = sum(p.numel() for p in agent.parameters())
        say(f"trainable parameters {n_train:,} of {n_total:,} ({n_train / n_total:.2%})")

    # ---------------------------------------------------------------- (4) optimisers
    # PAPER: AdamW for the LoRA actor, Adam for the value head, each with its own learning rate.
    if trained:
        actor_opt = torch.optim.AdamW(agent.actor_parameters(), lr=args.actor_lr, eps=1e-5)
        critic_opt = torch.optim.Adam(agent.critic_parameters(), lr=args.critic_lr, eps=1e-5)
    rollout_gen = torch.Generator().manual_seed(seed)  # samples the rollout's actions

    # ---------------------------------------------------------------- (5) storage, counters, resume
    T, N = args.num_steps, args.num_envs
    states = [[None] * N for _ in range(T)]
    actions, logprobs, rewards, dones, values, discounts = (torch.zeros(T, N) for _ in range(6))
    next_done = torch.zeros(N)
    ep_return, ep_disc, ep_len = np.zeros(N), np.ones(N), np.zeros(N, dtype=int)
    recent = []  # (success, return, length) of the last finished episodes, for the log
    start_update, decisions, episodes, wall_before = 0, 0, 0, 0.0
    if args.resume:
        s = torch.load(os.path.join(ckpt, "state.pt"), weights_only=False)
        if len(s["ranks"]) != world:
            raise UsageError(f"{run_dir} was written by {len(s['ranks'])} process(es); resume it with as many, not {world}")
        actor_opt.load_state_dict(s["actor_opt"])
        critic_opt.load_state_dict(s["critic_opt"])
        r = s["ranks"][rank]  # this process's environments and random streams
        rollout_gen.set_state(r["rollout_gen"])
        random.setstate(r["python_rng"]), np.random.set_state(r["numpy_rng"]), torch.set_rng_state(r["torch_rng"])
        envs, infos = pickle.loads(r["envs"]), r["infos"]
        next_done, ep_return, ep_disc, ep_len, recent = r["next_done"], r["ep_return"], r["ep_disc"], r["ep_len"], r["recent"]
        start_update, decisions, episodes, wall_before = s["update"], s["decisions"], s["episodes"], s["wall_s"]
        # Lines logged after the checkpoint belong to the interrupted run: drop them.
        rows = [json.loads(l) for l in open(os.path.join(run_dir, "metrics.jsonl"))][:start_update]
        if rank == 0:
            atomic_write(os.path.join(run_dir, "metrics.jsonl"), "".join(json.dumps(r) + "\n" for r in rows))
        say(f"resumed {run_dir} at update {start_update}, {decisions} decisions")
    else:
        name = args.norm if args.algo == "twosome" else args.algo
        run_dir = args.out or os.path.join("runs", f"{args.env}-{args.task}-{name}-s{args.seed}-{time.strftime('%Y%m%d-%H%M%S')}")
        if world > 1:  # ==== torchrun, 2 of 4: rank 0 names the run directory and writes it alone
            run_dir = broadcast(run_dir)
        if rank == 0:
            os.makedirs(run_dir)
            atomic_write(os.path.join(run_dir, "config.json"), json.dumps({**dataclasses.asdict(args), "out": run_dir}, indent=1))
        rows = []
    say(f"run directory {run_dir}: {num_updates} updates of {batch_size} decisions")

    # ---------------------------------------------------------------- (6) the loop
    t_loop = time.time()
    for update in range(start_update, num_updates):
        if args.anneal_lr:  # PAPER: linear decay to 0
            actor_opt.param_groups[0]["lr"] = ppo.linear_lr(args.actor_lr, update, num_updates)
            critic_opt.param_groups[0]["lr"] = ppo.linear_lr(args.critic_lr, update, num_updates)
        if update == start_update:  # later: the cache the evaluation after the last update began
            cache = {} if args.fast else None  # valid while the weights are fixed: one rollout
        t_update = time.time()

        # rollout: N envs x T decisions with the current policy
        for t in range(T):
            states[t] = [state_of(info, args.algo) for info in infos]
            dones[t] = next_done
            with torch.no_grad():
                logits = cached_policy(policy_fn, states[t], cache)  # (N, K)
                values[t] = value_fn(states[t])  # (N,)
            k, logprobs[t], _ = ppo.categorical(logits, generator=rollout_gen)  # (N,) sampled, (N,)
            actions[t] = k.float()
            for i, env in enumerate(envs):
                obs, r, term, trunc, info = env.step(infos[i]["action_ids"][int(k[i])])
                info = with_obs(obs, info)
                rewards[t, i], discounts[t, i], next_done[i] = r, step_discount(args, info), float(term or trunc)
                ep_return[i] += ep_disc[i] * r
                ep_disc[i] *= env_log_discount(args, info)
                ep_len[i] += 1
                if term or trunc:
                    recent = (recent + [(bool(info["success"]), float(ep_return[i]), int(ep_len[i]))])[-20:]
                    episodes += 1
                    ep_return[i], ep_disc[i], ep_len[i] = 0.0, 1.0, 0
                    info = with_obs(*env.reset())
                infos[i] = info
            decisions += N * world
            if rank == 0 and sys.stderr.isatty():  # the progress bar
                sr = np.mean([e[0] for e in recent]) if recent else float("nan")
                print(f"\rupdate {update + 1}/{num_updates}  decisions {decisions:,}/{args.steps:,}  "
                      f"success {sr:.0%}  return {np.mean([e[1] for e in recent]) if recent else float('nan'):.3f}",
                      end="", file=sys.stderr, flush=True)

        t_rollout = time.time() - t_update  # where the time goes: scoring states to act, or learning
        # bootstrap and GAE (ppo.compute_gae), then the two-phase update (ppo.update)
        with torch.no_grad():
            next_value = value_fn([state_of(info, args.algo) for info in infos])  # (N,)
        advantages, returns = ppo.compute_gae(rewards, values, dones, next_value, next_done, discounts, args.gae_lambda)
        b_states = [s for row in states for s in row]  # (B,) in (t, i) order, as .reshape(-1)
        try:
            stats = ppo.update(
                policy_fn, value_fn, b_states, actions.reshape(-1).long(), logprobs.reshape(-1),
                ppo.normalize_advantages(advantages.reshape(-1), all_reduce) if args.norm_adv else advantages.reshape(-1),
                returns.reshape(-1), values.reshape(-1),
                actor_opt, critic_opt, clip_coef=args.clip_coef, ent_coef=args.ent_coef, vf_coef=args.vf_coef,
                max_grad_norm=args.max_grad_norm, target_kl=args.target_kl, update_epochs=args.update_epochs,
                value_epochs=args.value_epochs,
                value_minibatch=args.value_minibatch, policy_microbatch=args.policy_microbatch,
                grad_accum=args.grad_accum, dedup=args.fast,
                generator=torch.Generator().manual_seed(seed * 1_000_003 + update), all_reduce=all_reduce)
        except FloatingPointError as e:
            print(f"\nerror: {e}; stopped at update {update + 1}, the last checkpoint in {run_dir} is kept", file=sys.stderr)
            raise SystemExit(3)

        row = {"update": update + 1, "decisions": decisions, "episodes": episodes,
               "charts/success_rate": float(np.mean([e[0] for e in recent])) if recent else 0.0,
               "charts/episodic_return": float(np.mean([e[1] for e in recent])) if recent else 0.0,
               "charts/episodic_length": float(np.mean([e[2] for e in recent])) if recent else 0.0,
               **{k: float(v) for k, v in stats.items()},
               "charts/learning_rate": actor_opt.param_groups[0]["lr"],
               "charts/decisions_per_s": batch_size / (time.time() - t_update),
               "time/rollout_s": t_rollout, "time/update_s": time.time() - t_update - t_rollout}
        last = update + 1 == num_updates
        # The new weights score the evaluation's states and then the next rollout's: one cache
        # serves both, so states that the two share (most of them) are scored once.
        cache = {} if args.fast else None
        if rank == 0 and ((args.eval_every and (update + 1) % args.eval_every == 0) or last):
            # DIFFERS (measurement): --eval-episodes sampled episodes from the start, after every
            # update. The success of the last finished training episodes overstates an early policy,
            # since short episodes (often successes) finish first and long failures are still running.
            ev = evaluate(agent, args, args.eval_episodes, args.seed + 20_000 + update, cache)
            row.update({f"eval/{k}": ev[k] for k in ("success_rate", "mean_return", "greedy_success",
                                                     "greedy_return", "greedy_length")})
        row["time/wall_s"] = wall_before + time.time() - t_loop  # training + evaluation so far
        rows.append(row)
        if rank == 0:
            with open(os.path.join(run_dir, "metrics.jsonl"), "a") as f:
                f.write(json.dumps(row) + "\n")
            if sys.stderr.isatty():
                print(file=sys.stderr)
        # "sampled": how the policy acts in training (and how the paper evaluates it); "greedy": one
        # argmax episode, which can loop forever on a near-tie even when sampling succeeds
        greedy, sampled = "-", "-"
        if "eval/greedy_success" in row:
            greedy = f"{'solved in' if row['eval/greedy_success'] else 'unsolved after'} {row['eval/greedy_length']}"
            sampled = f"{row['eval/success_rate']:.0%}"
        say(f"update {update + 1:4d} | decisions {decisions:7,d} | sampled success {sampled} | "
            f"return {row.get('eval/mean_return', row['charts/episodic_return']):+.3f} | greedy {greedy} | "
            f"kl {row['losses/approx_kl']:.4f} | entropy {row['losses/entropy']:.3f} | "
            f"v_loss {row['losses/value_loss']:.4f} | {row['charts/decisions_per_s']:.1f} dec/s")
        # stop early once every threshold given is met (greedy: this update's evaluation, if any)
        checks = [(args.stop_at_greedy, row.get("eval/greedy_success", -1)),
                  (args.stop_at_sampled, row.get("eval/success_rate", -1))]
        stop = any(t is not None for t, _ in checks) and all(v >= t for t, v in checks if t is not None)
        if world > 1:  # ==== torchrun, 3 of 4: everyone stops with rank 0
            stop = broadcast(stop)
        if (update + 1) % args.checkpoint_every == 0 or last or stop:
            local = {"rollout_gen": rollout_gen.get_state(), "python_rng": random.getstate(),
                     "numpy_rng": np.random.get_state(), "torch_rng": torch.get_rng_state(),
                     "envs": pickle.dumps(envs), "infos": infos, "next_done": next_done.clone(),
                     "ep_return": ep_return.copy(), "ep_disc": ep_disc.copy(), "ep_len": ep_len.copy(),
                     "recent": list(recent)}
            ranks = gather(local, world, rank)  # [local] for one process
            if rank == 0:
                save_checkpoint(run_dir, agent, {
                    "update": update + 1, "decisions": decisions, "episodes": episodes,
                    "wall_s": wall_before + time.time() - t_loop,
                    "actor_opt": actor_opt.state_dict(), "critic_opt": critic_opt.state_dict(), "ranks": ranks})
                plot_curves(run_dir, rows)
        if stop:
            say(f"stopping: sampled success {row['eval/success_rate']:.0%}, greedy success "
                f"{row.get('eval/greedy_success', float('nan')):.0%} (--stop-at-sampled {args.stop_at_sampled}, "
                f"--stop-at-greedy {args.stop_at_greedy})")
            break

    # ---------------------------------------------------------------- (7) evaluation, summary
    summary = {}
    if world > 1:  # ==== torchrun, 4 of 4: check that every process ended with the same weights
        flat = torch.cat([p.detach().reshape(-1) for p in agent.actor_parameters() + agent.critic_parameters()])
        ref = flat.clone().to(args.device)
        dist.broadcast(ref, 0)
        diff = (flat.to(args.device) - ref).abs().max()
        dist.all_reduce(diff, op=dist.ReduceOp.MAX)
        summary["ranks_max_param_diff"] = diff.item()
        dist.destroy_process_group()
        if rank != 0:
            return {}
    result = evaluate(agent, args, args.eval_episodes, args.seed + 10_000)
    if not rows:  # an untrained baseline: its evaluation is its one line of metrics
        row = {"update": 0, "decisions": 0, "episodes": 0, "charts/success_rate": result["success_rate"],
               "charts/episodic_return": result["mean_return"], "charts/episodic_length": result["mean_length"],
               "eval/greedy_success": result["greedy_success"], "eval/greedy_return": result["greedy_return"]}
        atomic_write(os.path.join(run_dir, "metrics.jsonl"), json.dumps(row) + "\n")
    summary = {"algo": args.algo, "evaluation": f"success_rate, mean_return, mean_length: {args.eval_episodes} "
               "sampled episodes (the paper's measure); greedy_*: one argmax episode", **result, "decisions": decisions, "episodes": episodes, "updates": len(rows),
               "wall_s": wall_before + time.time() - t_loop, "run_dir": run_dir, **summary}
    if args.algo == "twosome" and rows:  # what RL did to the LLM, for the teacher
        alignment_picture(agent, args, run_dir)
    atomic_write(os.path.join(run_dir, "summary.json"), json.dumps(summary, indent=1))
    return summary


if __name__ == "__main__":
    try:
        summary = main(parse_args())
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    if summary:  # under torchrun, rank 0 alone has one
        print(json.dumps(summary))
