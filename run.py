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
    python run.py --resume runs/<run> --steps 16384       # continue a run, to a new budget
    python run.py --env virtualhome --play                # choose the actions yourself
The last line on stdout is a JSON summary; runs/<run>/ holds config.json, metrics.jsonl,
the latest checkpoint, curves.png and policy.png.
"""
import argparse
import dataclasses
import io
import json
import math
import os
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
# Tomato Salad seeds 1-3 it ended at 95-100 % sampled success (return 0.72-0.76) where 3e-4
# ended at 75-90 % (0.52-0.56), though 3e-4 passed 90 % sooner; on Food Preparation it reached
# greedy success sooner (4,096 and 5,632 decisions, two seeds, against 7,680). Runs:
# bench/results/defaults-search/ and the lr-3e-4 ablation in bench/README.md.
TASK_DEFAULTS = {
    # DIFFERS: the budgets (the paper's are PAPER_TASK_DEFAULTS'; ours fit a 2-core CPU).
    # Tomato Salad: 32,768 decisions, though sampled success passes 90 % after about 3,600. The
    # greedy agent needs more: two no-ops sit beside the plan's actions at near-ties, and with a
    # budget of 8,192 the ties had not broken when the learning rate (annealed to 0 over the
    # budget) was spent (greedy success 0 of 5 seeds); with 32,768 it came after 6,656-13,312
    # decisions on 5 of 5 seeds (with the earlier serve phrase 8,192-12,288, and 7,168-12,288 on
    # 10 of 10 GPU seeds; bench/README.md).
    # --stop-at-greedy 0.9 stops a run there.
    "tomato":         dict(steps=32_768, actor_lr=1e-3, critic_lr=1e-3),
    "tomato-lettuce": dict(steps=32_768, actor_lr=1e-3, critic_lr=1e-3),
    "food":           dict(steps=8_192, actor_lr=1e-3, critic_lr=1e-3),
    # Entertainment: a 16x wider rollout (ROLLOUT_DEFAULTS' note), 16 updates of 8,192 decisions
    "entertainment":  dict(steps=131_072, actor_lr=1e-3, critic_lr=1e-3, num_envs=256, grad_accum=512),
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
# states, so four times the decisions cost little more compute: 1.37 times the decisions per
# second on Food Preparation, and a less noisy gradient per actor step. (It is not what makes a
# seed learn: with the paper's rollout and raw advantages, 3 of 3 Food seeds learnt too.)
# DIFFERS: advantages are used as they are, not standardised per batch (the paper, as CleanRL,
# standardises them). In a sparse-reward task a batch without a single reward has advantages
# that are only the critic's small errors; standardising blows them up to unit size, they
# outweigh the entropy bonus, and the policy collapses before it ever meets the reward: Food
# Preparation seeds 3 and 4 went from 1.2 nats to 0.03 and 0.28 in 8,192 decisions without one
# success (bench/README.md, the norm-adv ablation). Raw, the entropy bonus keeps them exploring.
# Entertainment pays only at the end of an 11-step plan, and the untrained policy walks it in
# only 1.8 % of its episodes (exactly: bench/exact.py). Until its rollout meets a success an
# update has nothing of the reward to follow (only the entropy bonus and the critic's errors),
# so Entertainment's TASK_DEFAULTS widen the rollout to 256 x 32 = 8,192
# decisions (about 160 episodes, about 3 successes) in groups of 4 x 512: still 4 actor steps per
# update, each on at most the task's ~100 distinct prompts, so an update costs 2.6x a 16 x 32
# one on 2 CPU cores (median 217 s against 82 s, seeds 1-4) and meets the reward sixteen times as often:
# 5 of 5 seeds reached 90 % sampled success, after a median 28 minutes (bench/README.md). With 16 x 32 and with
# 64 x 32 seed 1 never passed 10 % sampled success on 2 CPU cores (32 updates each; bench/README.md).
ROLLOUT_DEFAULTS = dict(num_envs=16, grad_accum=32, norm_adv=False)
PAPER_ROLLOUT_DEFAULTS = dict(num_envs=4, grad_accum=8, norm_adv=True)
# DIFFERS: two sentences of the prompt ("serve-held"; the paper's text is "good"):
# - VirtualHome: the paper's prompt lists the four rooms and then says where the agent is; ours
#   says where it is first and lists the rooms after (the same facts). Listed first, the rooms
#   draw the 270M model to "walk to the bathroom": before training it walks Entertainment's
#   shortest plan with probability e^-19.3, and e^-15.8 with the room first; Food Preparation's
#   plan goes from e^-9.4 to e^-7.9 and 5 of 5 seeds reach 90 % sampled success after a median
#   1,024 decisions, against 2,048 with the paper's order (bench/README.md).
# - Overcooked: the paper's agent holding anything may "serve the dish", the same words whatever
#   it holds; ours may "serve the" + what it holds, in the observation's words ("serve the
#   unchopped tomato", "serve the bowl of chopped tomato and lettuce"). In training, the wrong
#   deliveries (a penalty, the food back raw) pushed the one shared phrase down everywhere, the
#   finished salad's state included, and Tomato-Lettuce did not learn. Named, the right delivery
#   and the wrong ones are different phrases: Tomato-Lettuce's 5 seeds learnt (90 % sampled
#   success after 13,312-20,480 decisions), and Tomato Salad's 5 seeds reached 90 % sampled success
#   after a median 3,584 decisions and greedy success after a median 9,728 (the paper's wording:
#   4,096 and 8,704). Untrained, P(serve) with the finished salad in hand goes from 0.01-0.02
#   to 0.16-0.18.
VARIANT, PAPER_VARIANT = "serve-held", "good"
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
    resume: str = arg(None, "continue the run in this directory from its last checkpoint, with its own settings; "
                            "--steps sets a new total budget (a finished run can be extended; the learning rates' "
                            "linear decay is recomputed over it from there on); of the other flags only --threads, "
                            "--device, --fast, --checkpoint-every, --eval-* and --stop-at-* may differ from the run's")
    evaluate: str = arg(None, "only evaluate the checkpoint in this run directory, in the run's own env, task, "
                              "variant, model and normalisation (RUN_IDENTITY)")
    play: bool = arg(False, "interactive: you choose each action and see the policy's probabilities (with "
                            "--resume DIR: of that run's agent, in its own env and task)")
    watch: str = arg(None, "play one sampled episode of the agent in this run directory, in its own env and task: "
                           "each decision's world, prompt and action probabilities")
    gif: str = arg(None, "with --watch: write the episode to this new .gif file instead of the terminal")
    checkpoint_every: int = arg(1, "updates between checkpoints (ours)")
    # --- task and algorithm
    algo: str = arg("twosome", "twosome | ppo (from scratch, MLPs) | saycan (untrained LLM) | random | oracle")
    env: str = arg("overcooked", "overcooked | virtualhome")
    task: str = arg(None, "None = tomato (overcooked) or food (virtualhome); see ENV_TASKS")
    variant: str = arg(None, "prompt variant (prompts.VARIANTS); None = serve-held (ours), good with --paper")
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
    num_envs: int = arg(None, "parallel environments; None = 16 (ours; 256 for entertainment), 4 with --paper")
    num_steps: int = arg(32, "decisions per environment per rollout (paper)")
    gamma: float = arg(None, "discount; None = the env module's GAMMA (paper)")
    gae_lambda: float = arg(0.95, "GAE lambda (paper)")
    clip_coef: float = arg(0.2, "policy and value clip (paper)")
    ent_coef: float = arg(0.01, "entropy bonus (paper)")
    vf_coef: float = arg(0.5, "value-loss coefficient (paper)")
    max_grad_norm: float = arg(0.5, "gradient-norm clip (paper)")
    target_kl: float = arg(0.02, "approximate-KL early stop of the policy phase (paper); inf: none")
    update_epochs: int = arg(1, "epochs over each rollout (paper)")
    value_epochs: int = arg(1, "passes of each epoch's value phase over the rollout (paper: 1)")
    value_minibatch: int = arg(32, "states per value-phase minibatch (paper)")
    policy_microbatch: int = arg(4, "states per policy-phase micro-batch (paper)")
    grad_accum: int = arg(None, "micro-batches accumulated per policy step; None = 32 (ours; 512 for entertainment), 8 with "
                                    "--paper")
    actor_lr: float = arg(None, "LoRA learning rate; None = TASK_DEFAULTS (--algo ppo: 2.5e-4, CleanRL's)")
    critic_lr: float = arg(None, "value-head learning rate; None = TASK_DEFAULTS (--algo ppo: 2.5e-4, CleanRL's)")
    anneal_lr: bool = arg(True, "linear decay of both learning rates to 0 (paper)")
    norm_adv: bool = arg(None, "standardise the advantages over each batch; None = no (ours), yes with --paper")
    fast: bool = arg(True, "exact speed-ups: one prompt encoding per state (shared action beginnings once), the "
                           "rollout's and evaluation's score cache, evaluation episodes side by side, deduplicated "
                           "update batches, cached critic features (--no-fast: none of them)")
    # --- evaluation
    eval_episodes: int = arg(20, "sampled-policy episodes of each evaluation (plus one greedy episode)")
    eval_every: int = arg(1, "updates between evaluations (0 = only at the end)")
    stop_at_greedy: float = arg(None, "stop training once greedy success reaches this (e.g. 1.0)")
    stop_at_sampled: float = arg(None, "stop training once an evaluation's sampled success reaches this; "
                                       "with --stop-at-greedy, once both do")


# Every numeric flag's range, checked before anything is loaded or written (NaN fails every test).
POSITIVE = ("a positive integer", lambda v: 1 <= v < math.inf)
RANGES = {
    **dict.fromkeys(("checkpoint_every", "threads", "lora_r", "lora_alpha", "steps", "num_envs", "num_steps",
                     "update_epochs", "value_epochs", "value_minibatch", "policy_microbatch", "grad_accum"), POSITIVE),
    **dict.fromkeys(("eval_episodes", "eval_every"), ("an integer >= 0", lambda v: 0 <= v < math.inf)),
    "seed": ("an integer from 0 to 2**32 - 1", lambda v: 0 <= v < 2**32),  # numpy's seeds
    **dict.fromkeys(("gamma", "gae_lambda", "stop_at_greedy", "stop_at_sampled"),
                    ("a number from 0 to 1", lambda v: 0 <= v <= 1)),
    **dict.fromkeys(("actor_lr", "critic_lr", "clip_coef", "max_grad_norm"),
                    ("a finite number > 0", lambda v: 0 < v < math.inf)),
    "target_kl": ("a number > 0 (inf: no early stop)", lambda v: 0 < v <= math.inf),
    **dict.fromkeys(("ent_coef", "vf_coef"), ("a finite number >= 0", lambda v: 0 <= v < math.inf)),
}
# What a run is: --evaluate, --watch and --play --resume DIR act as the saved run did (its config.json).
RUN_IDENTITY = ("algo", "env", "task", "variant", "model", "dtype", "norm")
# --resume DIR continues the run its config.json describes. Only these flags may differ from it: the
# budget, and how the run is executed, evaluated and checkpointed (--no-fast is exact, see --fast).
MAY_CHANGE_ON_RESUME = ("steps", "threads", "device", "fast", "checkpoint_every", "eval_episodes", "eval_every",
                        "stop_at_greedy", "stop_at_sampled")
MODE_FLAGS = ("out", "resume", "evaluate", "play", "watch", "gif")  # what to do, not what the run is


class UsageError(Exception):
    """Bad input: reported as one line on stderr, exit code 2, nothing written."""


def parse_args(argv=None):
    """Args from the command line, with a saved run's own values where a command reads one (from_run)."""
    # ~10 lines of argparse built from the dataclass: every field a flag, its help from the metadata.
    # SUPPRESS: the namespace holds the flags typed only, which from_run needs to know.
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], argument_default=argparse.SUPPRESS)
    for f in dataclasses.fields(Args):
        flag = "--" + f.name.replace("_", "-")
        if f.type is bool or f.type == "bool":
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, help=f.metadata["help"])
        else:
            kind = {"int": int, "float": float, "str": str}[f.type if isinstance(f.type, str) else f.type.__name__]
            parser.add_argument(flag, type=kind, help=f.metadata["help"])

    def one_line_error(message):  # argparse prints usage + message; we promise one line
        raise UsageError(message)
    parser.error = one_line_error
    typed = vars(parser.parse_args(argv))
    return from_run(Args(**typed), typed)


def check_args(args):
    """Reject bad input with one line (UsageError) before anything is loaded or written; fill in the
    task's defaults, or, for a command that reads a saved run, the run's own values (from_run)."""
    import prompts
    args = from_run(args)
    if args.algo not in ALGOS:
        raise UsageError(f"unknown --algo {args.algo!r}; choose one of: {', '.join(ALGOS)}")
    if args.env not in ENV_TASKS:
        raise UsageError(f"unknown --env {args.env!r}; choose one of: {', '.join(ENV_TASKS)}")
    args.task = args.task or ENV_TASKS[args.env][0]
    if args.task not in ENV_TASKS[args.env]:
        raise UsageError(f"unknown --task {args.task!r} for --env {args.env}; choose one of: {', '.join(ENV_TASKS[args.env])}")
    args.variant = variant_of(args)
    if args.variant not in prompts.VARIANTS:
        raise UsageError(f"unknown --variant {args.variant!r}; choose one of: {', '.join(prompts.VARIANTS)}")
    table = PAPER_TASK_DEFAULTS if args.paper else TASK_DEFAULTS
    defaults = dict(PAPER_ROLLOUT_DEFAULTS if args.paper else ROLLOUT_DEFAULTS)
    defaults.update(table.get(args.task, table["food"]))  # a task's own values win; unseen tasks = food's
    if args.algo == "ppo":
        defaults.update(actor_lr=2.5e-4, critic_lr=2.5e-4)  # CleanRL's Adam learning rate for MLPs
    defaults["gamma"] = ENVS[args.env].GAMMA
    for name in ("steps", "actor_lr", "critic_lr", "gamma", "num_envs", "grad_accum", "norm_adv"):
        if getattr(args, name) is None:
            setattr(args, name, defaults[name])
    for name, (what, ok) in RANGES.items():
        value = getattr(args, name)
        if value is not None and not ok(value):
            raise UsageError(f"--{name.replace('_', '-')} must be {what}, got {value}")
    if args.gif is not None:
        if args.watch is None:
            raise UsageError("--gif writes what --watch shows: give --watch RUN_DIR too")
        if os.path.exists(args.gif) or not os.path.isdir(os.path.dirname(os.path.abspath(args.gif))):
            raise UsageError(f"--gif {args.gif!r} must be a new file in an existing directory")
    if args.play and args.algo == "oracle":
        raise UsageError("--play shows a policy's probabilities; the oracle has none (choose another --algo)")
    if args.out is not None and os.path.exists(args.out) and not args.resume:
        raise UsageError(f"--out {args.out!r} already exists; choose a new directory or --resume it")
    import llm_policy  # last: importing transformers takes seconds
    if args.norm not in llm_policy.NORMS:
        raise UsageError(f"unknown --norm {args.norm!r}; choose one of: {', '.join(llm_policy.NORMS)}")
    return args


def from_run(args, typed=None):
    """For a command that reads a saved run (--resume, --evaluate, --watch DIR, --play --resume DIR):
    args with the run's own values from its config.json. Training goes on (--resume) with every
    value of the run but those of MAY_CHANGE_ON_RESUME that are typed; the other commands take the
    run's RUN_IDENTITY. A flag typed with another value than one the run fixes is refused
    (UsageError): it would change the run. typed: the names of the flags typed (parse_args knows
    them); for Args built in Python, the fields that differ from their defaults. Applying it twice
    changes nothing; args without a run to read come back as they are."""
    run_dir = [d for d in (args.resume, args.evaluate, args.watch) if d is not None]
    if len(run_dir) > 1 or (args.play and (args.evaluate or args.watch)):
        raise UsageError("--resume, --evaluate, --watch and --play are separate commands: give one of them "
                         "(--play may read a run with --resume DIR)")
    if not run_dir:
        return args
    run_dir = run_dir[0]
    if checkpoint_of(run_dir) is None or not os.path.isfile(os.path.join(run_dir, "config.json")):
        raise UsageError(f"{run_dir!r} is not a run directory with a checkpoint (no {run_dir}/checkpoint/state.pt)")
    names, default = [f.name for f in dataclasses.fields(Args)], Args()
    config = json.load(open(os.path.join(run_dir, "config.json")))
    saved = {**vars(default), **{k: v for k, v in config.items() if k in names}}  # older configs: defaults
    training = args.resume is not None and not args.play
    fixed = [n for n in names if n not in MAY_CHANGE_ON_RESUME + MODE_FLAGS] if training else RUN_IDENTITY
    if typed is None and all(getattr(args, n) == saved[n] for n in fixed):
        return args  # applied already (by parse_args)
    typed = typed if typed is not None else [n for n in names if getattr(args, n) != getattr(default, n)]
    for name in typed:
        if name in fixed and getattr(args, name) != saved[name]:
            value, flag = getattr(args, name), name.replace("_", "-")
            shown = (f"--{flag}" if value else f"--no-{flag}") if isinstance(value, bool) else f"--{flag} {value}"
            allowed = ("with --resume only " + ", ".join("--" + n.replace("_", "-") for n in MAY_CHANGE_ON_RESUME)
                       + " may be given" if training else "it is the run's own")
            raise UsageError(f"{shown} would change the run in {run_dir} (its {name} is {saved[name]}); {allowed}")
    if training and args.out not in (None, run_dir):
        raise UsageError(f"--out {args.out} with --resume {run_dir}: a resumed run stays in its own directory")
    for name in (n for n in names if n not in MODE_FLAGS) if training else RUN_IDENTITY:
        if name in fixed or name not in typed:
            setattr(args, name, saved[name])
    if training:
        args.out = run_dir
    return args


# ---------------------------------------------------------------------------------------------
# Environments: N of them per process, stepped together
# ---------------------------------------------------------------------------------------------
def variant_of(args):
    """The prompt variant: --variant, else ours (the paper's with --paper)."""
    return args.variant or (PAPER_VARIANT if args.paper else VARIANT)


def make_env(args, render_mode=None):
    # A plain if/else, no registry: both envs share the informal interface
    # reset/step + info["prompt"], info["action_texts"], info["action_ids"], info["success"].
    if args.env == "overcooked":
        return overcooked_env.OvercookedEnv(task=args.task, variant=variant_of(args), render_mode=render_mode)
    return virtualhome_env.VirtualHomeEnv(task=args.task, variant=variant_of(args), render_mode=render_mode)


def with_obs(obs, info):
    """The env's info plus its feature vector, which PPO from scratch reads instead of text."""
    return {**info, "obs": tuple(np.asarray(obs).tolist())}


def state_of(info, algo="twosome"):
    """What the policy sees, hashable so that it can be cached: the prompt and the valid action
    phrases for an LLM; the feature vector and the valid action ids for the MLPs."""
    if algo in ("ppo", "random"):
        return (info["obs"], tuple(info["action_ids"]))
    return (info["prompt"], tuple(info["action_texts"]))


@dataclass
class Envs:
    """One process's N environments with their episodes in progress, and the generator that samples
    its actions (CleanRL's vector env with its episode statistics). A checkpoint holds it whole, so
    a resumed run continues every episode where it was."""
    envs: list
    infos: list  # (N,) each env's latest info, with "obs"
    next_done: torch.Tensor  # (N,) 1 where the next state starts a new episode
    ep_return: np.ndarray  # (N,) logged discounted return of each episode so far
    ep_disc: np.ndarray  # (N,) the logged discount of its next reward
    ep_len: np.ndarray  # (N,) decisions so far
    recent: list  # (success, return, length) of this process's last 20 finished episodes
    gen: torch.Generator  # samples the rollout's actions


def make_envs(args, seed):
    """This process's --num-envs fresh environments; `seed` also seeds its action sampling."""
    N = args.num_envs
    envs = [make_env(args) for _ in range(N)]
    infos = [with_obs(*env.reset(seed=seed + i)) for i, env in enumerate(envs)]
    return Envs(envs, infos, torch.zeros(N), np.zeros(N), np.ones(N), np.zeros(N, dtype=int), [],
                torch.Generator().manual_seed(seed))


def step_envs(e, k, args):
    """Step env i with its k[i]-th valid action; a finished episode is recorded and reset.
    Returns this decision's rewards and discounts, (N,) each, and how many episodes finished and
    how many of those succeeded."""
    module = ENVS[args.env]
    rewards, discounts, finished, succeeded = torch.zeros(len(e.envs)), torch.zeros(len(e.envs)), 0, 0
    for i, env in enumerate(e.envs):
        obs, r, term, trunc, info = env.step(e.infos[i]["action_ids"][int(k[i])])
        info = with_obs(obs, info)
        # PAPER: semi-MDP discount gamma**k for a macro of k primitive steps (Overcooked); gamma per
        # decision (VirtualHome). The env module knows which.
        rewards[i], discounts[i], e.next_done[i] = r, module.discount(info, args.gamma), float(term or trunc)
        e.ep_return[i] += e.ep_disc[i] * r
        # The paper's logged return: its own discount (0.99 per primitive step in Overcooked, 0.95
        # per decision in VirtualHome), whatever gamma PPO was given.
        e.ep_disc[i] *= module.discount(info)
        e.ep_len[i] += 1
        if term or trunc:
            e.recent = (e.recent + [(bool(info["success"]), float(e.ep_return[i]), int(e.ep_len[i]))])[-20:]
            finished, succeeded = finished + 1, succeeded + bool(info["success"])
            e.ep_return[i], e.ep_disc[i], e.ep_len[i] = 0.0, 1.0, 0
            info = with_obs(*env.reset())
        e.infos[i] = info
    return rewards, discounts, finished, succeeded


# ---------------------------------------------------------------------------------------------
# Agents and their evaluation
# ---------------------------------------------------------------------------------------------
def load_agent_for(args, ckpt_dir=None):
    """The agent of --algo: fresh, or reloaded from a checkpoint's agent directory."""
    if args.algo in ("ppo", "random", "oracle"):
        import baselines
        if args.algo == "oracle":
            return None  # it plays the env's oracle_plan, see run_episodes
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
    speedups = dict(shared_prompt=args.fast, feature_cache=args.fast)  # exact: --no-fast turns both off
    if ckpt_dir is not None:
        return llm_policy.load_agent(ckpt_dir, model, tokenizer, **speedups)
    return llm_policy.LLMAgent(model, tokenizer, norm=args.norm, lora_r=args.lora_r, lora_alpha=args.lora_alpha,
                               **speedups)


def run_episodes(agent, args, greedy, generators, cache):
    """Evaluation episodes, each from the start, played side by side: [(success, logged discounted
    return, decisions)], one per entry of `greedy` (argmax, or sampled with its own generator).

    Side by side, each step scores the new states of every episode still running in one batch:
    1.26-1.45x faster than one after the other on 2 CPU cores (bench/results/eval-speed.json).
    Each episode draws from its own generator only, so they play as they would one after the
    other (evaluate() does that with --no-fast), up to float rounding: a batch scores a state to
    within about 1e-5 of scoring it alone, which could flip a sample that falls on a boundary."""
    module = ENVS[args.env]
    envs = [make_env(args) for _ in greedy]
    infos = [with_obs(*env.reset()) for env in envs]
    plans = [module.oracle_plan(env) if args.algo == "oracle" else None for env in envs]  # the ceiling
    ret, disc, n = [0.0] * len(envs), [1.0] * len(envs), [0] * len(envs)
    results, running = [None] * len(envs), list(range(len(envs)))

    def policy_fn(states):
        return agent.policy_logits(states).float().cpu()  # (B, K)
    while running:
        if args.algo != "oracle":
            states = [state_of(infos[i], args.algo) for i in running]
            logits = policy_fn(states) if cache is None else ppo.eval_unique(policy_fn, states, cache)  # (E, K)
        for j, i in enumerate(running):
            if plans[i] is not None:
                a = plans[i][n[i]]
            else:
                row = logits[j, : len(infos[i]["action_ids"])]  # (K_i,) this state's own actions, no padding
                k = int(row.argmax()) if greedy[i] else int(torch.multinomial(row.softmax(-1), 1, generator=generators[i]))
                a = infos[i]["action_ids"][k]
            obs, r, term, trunc, info = envs[i].step(a)
            infos[i] = with_obs(obs, info)
            ret[i] += disc[i] * r
            disc[i] *= module.discount(info)  # the paper's logged return
            n[i] += 1
            if term or trunc:
                results[i] = (bool(info["success"]), ret[i], n[i])
        running = [i for i in running if results[i] is None]
    return results


def episode_generator(seed, i):
    """Sampled evaluation episode i's own generator: a seed from (seed, i) by numpy's SeedSequence."""
    return torch.Generator().manual_seed(int(np.random.SeedSequence([seed, i]).generate_state(1)[0]))


def play_evaluation(agent, args, episodes, seed, cache, side_by_side):
    """One greedy episode, then `episodes` sampled ones (episode i with episode_generator(seed, i)):
    side by side, or one after the other (the same episodes: see run_episodes). [(success, return,
    decisions)], the greedy one first."""
    greedy = [True] + [False] * episodes
    generators = [None] + [episode_generator(seed, i) for i in range(episodes)]
    with torch.no_grad():
        if side_by_side:
            return run_episodes(agent, args, greedy, generators, cache)
        return [run_episodes(agent, args, [g], [gen], cache)[0] for g, gen in zip(greedy, generators)]


def evaluate(agent, args, episodes, seed, cache=None):
    """Greedy and sampled success, each episode from the start. Both envs have one fixed start and
    no randomness, and argmax is deterministic too, so one greedy episode is the greedy policy's
    exact success rate.
    `cache`: a score cache to fill (and reuse) for these weights; None = a fresh one (--fast;
    --no-fast uses none, and plays the episodes one after the other)."""
    if cache is None and args.fast:
        cache = {}
    played = play_evaluation(agent, args, episodes, seed, cache if args.fast else None, side_by_side=args.fast)
    (g_success, g_return, g_len), sampled = played[0], played[1:]
    return {
        "greedy_success": float(g_success), "greedy_return": g_return, "greedy_length": g_len,
        "success_rate": float(np.mean([s for s, _, _ in sampled])) if sampled else float(g_success),
        "mean_return": float(np.mean([r for _, r, _ in sampled])) if sampled else g_return,
        "mean_length": float(np.mean([n for _, _, n in sampled])) if sampled else float(g_len),
    }


def eval_metrics(agent, args, seed, cache):
    """The evaluation after an update, as metrics: eval/success_rate and eval/mean_return of
    --eval-episodes sampled episodes, eval/greedy_* of one argmax episode."""
    # DIFFERS (measurement): --eval-episodes sampled episodes from the start, after every
    # update. The success of the last finished training episodes overstates an early policy,
    # since short episodes (often successes) finish first and long failures are still running.
    ev = evaluate(agent, args, args.eval_episodes, seed, cache)
    return {f"eval/{k}": ev[k] for k in ("success_rate", "mean_return", "greedy_success", "greedy_return",
                                         "greedy_length")}


# ---------------------------------------------------------------------------------------------
# The run directory: config, metrics, checkpoints, pictures, all written atomically
# ---------------------------------------------------------------------------------------------
@dataclass
class TrainState:
    """What a checkpoint holds besides the agent: the counters, the optimisers' states and every
    process's Envs. The loop updates it; save_checkpoint writes it whole, load_checkpoint reads it."""
    update: int = 0  # updates done
    decisions: int = 0  # decisions made, all processes
    episodes: int = 0  # episodes finished (by rank 0's environments)
    wall_s: float = 0.0  # training and evaluation time, over every sitting
    actor_opt: dict = None  # the optimisers' state_dicts
    critic_opt: dict = None
    workers: list = None  # one Envs per process, in rank order


def atomic_write(path, data):
    """Replace the file or directory `path` by `data`, so that a reader, or a run killed at any
    moment, finds the old version or the new one, complete, never a mix.

    data: a str or bytes (a file), or a function that writes a directory at the path it is given.
    Either is written in full beside `path`, then renamed over it. A directory cannot be renamed over
    another, so it takes two renames, `path` to `path`.old and the new one to `path`; killed between
    them, `path`.old is the good one (checkpoint_of reads it; the next write puts it back first).
    One writer per path (rank 0 alone writes a run directory)."""
    tmp, old = f"{path}.tmp", f"{path}.old"
    if not callable(data):
        with open(tmp, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        return
    if not os.path.exists(path) and os.path.exists(old):
        os.replace(old, path)
    shutil.rmtree(tmp, ignore_errors=True)
    data(tmp)
    shutil.rmtree(old, ignore_errors=True)
    if os.path.exists(path):
        os.replace(path, old)
    os.replace(tmp, path)
    shutil.rmtree(old, ignore_errors=True)


def checkpoint_of(run_dir):
    """run_dir's checkpoint directory (checkpoint/, or checkpoint.old/ after a save killed between
    its two renames), or None if it has none."""
    for name in ("checkpoint", "checkpoint.old"):
        if os.path.isfile(os.path.join(run_dir, name, "state.pt")):
            return os.path.join(run_dir, name)
    return None


def save_checkpoint(run_dir, agent, state):
    """checkpoint/agent/ (the agent's weights and architecture) and checkpoint/state.pt (the
    TrainState), replaced together in one go."""
    def write(tmp):
        os.makedirs(tmp)
        agent.save(os.path.join(tmp, "agent"))
        # plain dicts: `python run.py` and `import run` would pickle these classes under two names
        torch.save({**vars(state), "workers": [vars(e) for e in state.workers]}, os.path.join(tmp, "state.pt"))
    atomic_write(os.path.join(run_dir, "checkpoint"), write)


def load_checkpoint(run_dir):
    """The TrainState that save_checkpoint wrote in run_dir."""
    saved = torch.load(os.path.join(checkpoint_of(run_dir), "state.pt"), weights_only=False)
    if "workers" not in saved:
        raise UsageError(f"{run_dir} was checkpointed by an earlier run.py (no TrainState); resume it with that version")
    return TrainState(**{**saved, "workers": [Envs(**e) for e in saved["workers"]]})


def resumed_state(args, world, num_updates):
    """The TrainState of --resume DIR, if this command can continue it (checked before any write)."""
    state = load_checkpoint(args.resume)
    if len(state.workers) != world:
        raise UsageError(f"{args.resume} was written by {len(state.workers)} process(es); resume it with as many, not {world}")
    if num_updates < state.update:
        raise UsageError(f"--steps {args.steps} allows {num_updates} update(s), fewer than the {state.update} "
                         f"{args.resume} has done")
    return state


def agent_dir(run_dir):
    return os.path.join(checkpoint_of(run_dir), "agent")


def start_run_dir(args, state):
    """A new run directory, or the resumed one, and the metrics logged in it so far. Rank 0 writes
    config.json (a resumed run's with its new budget and flags) and cuts a resumed metrics.jsonl to
    the checkpoint's updates: lines logged after it belong to the interrupted sitting."""
    if args.resume:
        run_dir = args.resume
        rows = [json.loads(line) for line in open(os.path.join(run_dir, "metrics.jsonl"))][:state.update]
        say(f"resumed {run_dir} at update {state.update}, {state.decisions} decisions")
    else:
        name = args.norm if args.algo == "twosome" else args.algo
        run_dir = args.out or os.path.join("runs", f"{args.env}-{args.task}-{name}-s{args.seed}-{time.strftime('%Y%m%d-%H%M%S')}")
        run_dir, rows = broadcast(run_dir), []  # torchrun: rank 0 names the run directory
    if int(os.environ.get("RANK", "0")) == 0:
        if args.resume:
            atomic_write(os.path.join(run_dir, "metrics.jsonl"), "".join(json.dumps(r) + "\n" for r in rows))
        else:
            os.makedirs(run_dir)
        atomic_write(os.path.join(run_dir, "config.json"),
                     json.dumps({**dataclasses.asdict(args), "resume": None, "out": run_dir}, indent=1))
    return run_dir, rows


def plot_curves(run_dir, rows):
    """curves.png: success (sampled, greedy, training episodes) and return, against decisions."""
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
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=80)
    plt.close(fig)
    atomic_write(os.path.join(run_dir, "curves.png"), png.getvalue())


# ---------------------------------------------------------------------------------------------
# torchrun: a plain `python run.py` goes through none of this
# ---------------------------------------------------------------------------------------------
def setup_distributed(args):
    """Join torchrun's process group. Returns (world, rank, all_reduce): the number of processes,
    this one's rank and a function that averages a tensor over them in place; (1, 0, None) for a
    plain `python run.py` (no WORLD_SIZE), for which broadcast and gather below do nothing."""
    world, rank = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0"))
    if world == 1:
        return 1, 0, None
    import torch.distributed as dist
    if args.device.startswith("cuda"):  # one GPU per process
        args.device = f"cuda:{os.environ['LOCAL_RANK']}"
        torch.cuda.set_device(args.device)
    dist.init_process_group("nccl" if args.device.startswith("cuda") else "gloo")

    def all_reduce(t):  # average over the processes, in place (nccl needs device tensors)
        buf = t.to(args.device)
        dist.all_reduce(buf)
        t.copy_(buf / world)
    return world, rank, all_reduce


def broadcast(obj):
    """torchrun: rank 0's value of a picklable object, on every process (obj itself without torchrun)."""
    if int(os.environ.get("WORLD_SIZE", "1")) == 1:
        return obj
    import torch.distributed as dist
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather(obj):
    """torchrun: every process's object, as a list on rank 0 (None elsewhere); [obj] without torchrun."""
    if int(os.environ.get("WORLD_SIZE", "1")) == 1:
        return [obj]
    import torch.distributed as dist
    out = [None] * dist.get_world_size() if dist.get_rank() == 0 else None
    dist.gather_object(obj, out, dst=0)
    return out


def leave_distributed(agent, args):
    """At the end: the largest difference between any process's trained weights and rank 0's (0.0
    when they stayed in sync), then leave the process group."""
    import torch.distributed as dist
    flat = torch.cat([p.detach().reshape(-1) for p in agent.actor_parameters() + agent.critic_parameters()])
    ref = flat.clone().to(args.device)
    dist.broadcast(ref, 0)
    diff = (flat.to(args.device) - ref).abs().max()
    dist.all_reduce(diff, op=dist.ReduceOp.MAX)
    dist.destroy_process_group()
    return diff.item()


# ---------------------------------------------------------------------------------------------
# Logging
# ---------------------------------------------------------------------------------------------
def say(message):
    """Print from one process only (rank 0 under torchrun)."""
    if int(os.environ.get("RANK", "0")) == 0:
        print(message, flush=True)


def episode_stats(recent):
    """Mean success, logged return and length of the last finished training episodes (0 if none)."""
    return {f"charts/{name}": float(np.mean([e[i] for e in recent])) if recent else 0.0
            for i, name in enumerate(("success_rate", "episodic_return", "episodic_length"))}


def progress(update, num_updates, decisions, args, recent):
    """The progress bar within an update: rank 0, on a terminal only."""
    if int(os.environ.get("RANK", "0")) == 0 and sys.stderr.isatty():
        sr = np.mean([e[0] for e in recent]) if recent else float("nan")
        ret = np.mean([e[1] for e in recent]) if recent else float("nan")
        print(f"\rupdate {update + 1}/{num_updates}  decisions {decisions:,}/{args.steps:,}  "
              f"success {sr:.0%}  return {ret:.3f}", end="", file=sys.stderr, flush=True)


def log(run_dir, row):
    """Rank 0, after each update: a line of metrics.jsonl, and one on stdout."""
    with open(os.path.join(run_dir, "metrics.jsonl"), "a") as f:
        f.write(json.dumps(row) + "\n")
    if sys.stderr.isatty():
        print(file=sys.stderr)  # ends the progress bar's line
    # "sampled": how the policy acts in training (and how the paper evaluates it); "greedy": one
    # argmax episode, which can loop forever on a near-tie even when sampling succeeds
    greedy, sampled = "-", "-"
    if "eval/greedy_success" in row:
        greedy = f"{'solved in' if row['eval/greedy_success'] else 'unsolved after'} {row['eval/greedy_length']}"
        sampled = f"{row['eval/success_rate']:.0%}"
    say(f"update {row['update']:4d} | decisions {row['decisions']:7,d} | sampled success {sampled} | "
        f"return {row.get('eval/mean_return', row['charts/episodic_return']):+.3f} | greedy {greedy} | "
        f"kl {row['losses/approx_kl']:.4f} | entropy {row['losses/entropy']:.3f} | "
        f"v_loss {row['losses/value_loss']:.4f} | {row['charts/decisions_per_s']:.1f} dec/s")


def stop_reason(args, row):
    """Why training stops now: every --stop-at-* threshold given is met by this update's evaluation
    (if it had one). None: go on."""
    checks = [(args.stop_at_greedy, row.get("eval/greedy_success", -1)),
              (args.stop_at_sampled, row.get("eval/success_rate", -1))]
    if any(t is not None for t, _ in checks) and all(v >= t for t, v in checks if t is not None):
        return (f"stopping: sampled success {row['eval/success_rate']:.0%}, greedy success "
                f"{row['eval/greedy_success']:.0%} (--stop-at-sampled {args.stop_at_sampled}, "
                f"--stop-at-greedy {args.stop_at_greedy})")
    return None


# ---------------------------------------------------------------------------------------------
# The commands that train nothing: --play, --watch, --evaluate
# ---------------------------------------------------------------------------------------------
def play(args):
    """Teaching mode: a person picks each action and sees the policy's probability for each."""
    agent = load_agent_for(args, agent_dir(args.resume) if args.resume else None)
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


def watch_run(args):
    """--watch: one sampled episode of a saved agent, in its own env and task, shown or as a GIF."""
    import watch
    if args.algo != "twosome":
        raise UsageError(f"--watch shows an LLM agent's action probabilities; {args.watch} is a {args.algo} run")
    agent = load_agent_for(args, agent_dir(args.watch))
    picture = args.gif and args.env == "overcooked"  # Overcooked draws tiles; VirtualHome is text
    steps = list(watch.episode(agent, make_env(args, "rgb_array" if picture else "ansi"), seed=args.seed))
    if args.gif:
        atomic_write(args.gif, watch.gif(steps, title=f"{args.task}, {os.path.basename(os.path.normpath(args.watch))}"))
    else:
        watch.show(steps)
    return {"success": steps[-1]["success"], "decisions": len(steps) - 1, "gif": args.gif}


def evaluate_run(args):
    """--evaluate DIR: the run's saved agent, evaluated in the run's env and task; writes nothing."""
    t_start = time.time()
    agent = load_agent_for(args, agent_dir(args.evaluate))
    result = evaluate(agent, args, args.eval_episodes, args.seed)
    decisions = torch.load(os.path.join(checkpoint_of(args.evaluate), "state.pt"), weights_only=False)["decisions"]
    return {**result, "decisions": decisions, "wall_s": time.time() - t_start}


def alignment_picture(agent, args, run_dir):
    """policy.png: the untrained and the trained probability of each action of the shortest plan."""
    import watch
    env = make_env(args)
    env.reset()
    untrained, trained, labels = watch.plan_probabilities(agent, env, ENVS[args.env].oracle_plan(env))
    atomic_write(os.path.join(run_dir, "policy.png"), watch.alignment_plot(untrained, trained, labels, title=args.task))


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------
def main(args: Args) -> dict:
    args = check_args(args)  # every flag; a saved run's own config for the commands that read one
    torch.set_num_threads(args.threads)
    if args.play or args.watch or args.evaluate:  # they train nothing: see the functions above
        return play(args) if args.play else watch_run(args) if args.watch else evaluate_run(args)
    # ---------------------------------------------------------------- (1) processes, seeds, budget
    world, rank, all_reduce = setup_distributed(args)  # (1, 0, None) without torchrun
    seed = args.seed + 1_000 * rank  # each process samples its own actions...
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)  # ...but all start from the same LoRA and value-head weights
    batch_size = args.num_envs * args.num_steps * world  # decisions per update, all processes
    num_updates = max(1, args.steps // batch_size) if args.algo in TRAINED else 0
    state = resumed_state(args, world, num_updates) if args.resume else TrainState()

    # ---------------------------------------------------------------- (2) frozen LLM + LoRA actor + critic
    agent = load_agent_for(args, agent_dir(args.resume) if args.resume else None)
    if args.algo in TRAINED:
        n_train = sum(p.numel() for p in agent.actor_parameters() + agent.critic_parameters())
        n_total = sum(p.numel() for p in agent.parameters())
        say(f"trainable parameters {n_train:,} of {n_total:,} ({n_train / n_total:.2%})")
    run_dir, rows = start_run_dir(args, state)
    say(f"run directory {run_dir}: {num_updates} updates of {batch_size} decisions")
    t_start = time.time() - state.wall_s  # the clock of training and evaluation, over every sitting
    if args.algo not in TRAINED:  # saycan, random and oracle are evaluated as they are
        return finish(agent, args, run_dir, state, rows, t_start)

    # ---------------------------------------------------------------- (3) optimisers
    # PAPER: AdamW for the LoRA actor, Adam for the value head, each with its own learning rate.
    actor_opt = torch.optim.AdamW(agent.actor_parameters(), lr=args.actor_lr, eps=1e-5)
    critic_opt = torch.optim.Adam(agent.critic_parameters(), lr=args.critic_lr, eps=1e-5)
    if args.resume:
        actor_opt.load_state_dict(state.actor_opt)
        critic_opt.load_state_dict(state.critic_opt)

    # ---------------------------------------------------------------- (4) environments, storage
    envs = state.workers[rank] if args.resume else make_envs(args, seed)  # this process's N envs
    T, N = args.num_steps, args.num_envs
    states = [[None] * N for _ in range(T)]  # (T, N) hashable states
    actions, logprobs, rewards, dones, values, discounts = (torch.zeros(T, N) for _ in range(6))

    def policy_fn(states):  # storage lives on the CPU; the agent's outputs come back to it
        return agent.policy_logits(states).float().cpu()  # (B, K)

    def value_fn(states):
        return agent.value(states).float().cpu()  # (B,)

    # ---------------------------------------------------------------- (5) the loop
    cache = {} if args.fast else None  # scores of the current weights, each distinct state once
    for update in range(state.update, num_updates):
        if args.anneal_lr:  # PAPER: linear decay to 0 (over the new budget after --resume --steps)
            actor_opt.param_groups[0]["lr"] = ppo.linear_lr(args.actor_lr, update, num_updates)
            critic_opt.param_groups[0]["lr"] = ppo.linear_lr(args.critic_lr, update, num_updates)
        t_update = time.time()

        # rollout: N envs x T decisions with the current policy
        rollout_episodes, rollout_successes = 0, 0  # this process's, in this rollout
        for t in range(T):
            states[t] = [state_of(info, args.algo) for info in envs.infos]
            dones[t] = envs.next_done
            with torch.no_grad():
                logits = policy_fn(states[t]) if cache is None else ppo.eval_unique(policy_fn, states[t], cache)  # (N, K)
                values[t] = value_fn(states[t])  # (N,)
            k, logprobs[t], _ = ppo.categorical(logits, generator=envs.gen)  # (N,) sampled, (N,)
            actions[t] = k.float()
            rewards[t], discounts[t], finished, succeeded = step_envs(envs, k, args)  # (N,), (N,), int, int
            state.decisions, state.episodes = state.decisions + N * world, state.episodes + finished
            rollout_episodes, rollout_successes = rollout_episodes + finished, rollout_successes + succeeded
            progress(update, num_updates, state.decisions, args, envs.recent)

        t_rollout = time.time() - t_update  # where the time goes: scoring states to act, or learning
        # bootstrap and GAE (ppo.compute_gae), then the two-phase update (ppo.update)
        with torch.no_grad():
            next_value = value_fn([state_of(info, args.algo) for info in envs.infos])  # (N,)
        advantages, returns = ppo.compute_gae(rewards, values, dones, next_value, envs.next_done, discounts,
                                              args.gae_lambda)  # (T, N) each
        b_states = [s for row in states for s in row]  # (B,) in (t, i) order, as .reshape(-1)
        try:
            stats = ppo.update(
                policy_fn, value_fn, b_states, actions.reshape(-1).long(), logprobs.reshape(-1),
                ppo.normalize_advantages(advantages.reshape(-1), all_reduce) if args.norm_adv else advantages.reshape(-1),
                returns.reshape(-1), values.reshape(-1),
                actor_opt, critic_opt, clip_coef=args.clip_coef, ent_coef=args.ent_coef, vf_coef=args.vf_coef,
                max_grad_norm=args.max_grad_norm, target_kl=args.target_kl, update_epochs=args.update_epochs,
                value_epochs=args.value_epochs, value_minibatch=args.value_minibatch,
                policy_microbatch=args.policy_microbatch, grad_accum=args.grad_accum, dedup=args.fast,
                generator=torch.Generator().manual_seed(seed * 1_000_003 + update), all_reduce=all_reduce)
        except FloatingPointError as e:
            print(f"\nerror: {e}; stopped at update {update + 1}, the last checkpoint in {run_dir} is kept", file=sys.stderr)
            raise SystemExit(3)
        state.update = update + 1

        # evaluate (rank 0), log, stop early if asked, checkpoint
        row = {"update": state.update, "decisions": state.decisions, "episodes": state.episodes,
               **episode_stats(envs.recent), **{k: float(v) for k, v in stats.items()},
               "charts/learning_rate": actor_opt.param_groups[0]["lr"],
               "charts/decisions_per_s": batch_size / (time.time() - t_update),
               "time/rollout_s": t_rollout, "time/update_s": time.time() - t_update - t_rollout,
               # every episode this rollout finished (charts/ keeps only the last 20, a small and,
               # with many envs ending together, unrepresentative sample)
               "rollout/episodes": rollout_episodes, "rollout/successes": rollout_successes}
        last = state.update == num_updates
        # The new weights score the evaluation's states and then the next rollout's: one cache
        # serves both, so states that the two share (most of them) are scored once.
        cache = {} if args.fast else None
        if rank == 0 and ((args.eval_every and state.update % args.eval_every == 0) or last):
            row.update(eval_metrics(agent, args, args.seed + 20_000 + update, cache))
        row["time/wall_s"] = time.time() - t_start  # training + evaluation so far
        rows.append(row)
        if rank == 0:
            log(run_dir, row)
        stop = broadcast(stop_reason(args, row) if rank == 0 else None)  # torchrun: all stop with rank 0
        if state.update % args.checkpoint_every == 0 or last or stop:
            state.wall_s = time.time() - t_start
            state.actor_opt, state.critic_opt = actor_opt.state_dict(), critic_opt.state_dict()
            state.workers = gather(envs)  # every process's environments and sampling generator
            if rank == 0:
                save_checkpoint(run_dir, agent, state)
                plot_curves(run_dir, rows)
        if stop:
            say(stop)
            break
    return finish(agent, args, run_dir, state, rows, t_start)


def finish(agent, args, run_dir, state, rows, t_start):
    """After training, or instead of it: under torchrun, the check that every process ended with the
    same weights; then, by rank 0, the final evaluation, an untrained baseline's one line of metrics,
    policy.png and summary.json."""
    extra = {}
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        if args.algo in TRAINED:
            extra["ranks_max_param_diff"] = leave_distributed(agent, args)
        if int(os.environ["RANK"]) != 0:
            return {}
    result = evaluate(agent, args, args.eval_episodes, args.seed + 10_000)
    if not rows:  # an untrained baseline: its evaluation is its one line of metrics
        row = {"update": 0, "decisions": 0, "episodes": 0, "charts/success_rate": result["success_rate"],
               "charts/episodic_return": result["mean_return"], "charts/episodic_length": result["mean_length"],
               "eval/greedy_success": result["greedy_success"], "eval/greedy_return": result["greedy_return"]}
        atomic_write(os.path.join(run_dir, "metrics.jsonl"), json.dumps(row) + "\n")
    summary = {"algo": args.algo, "evaluation": f"success_rate, mean_return, mean_length: {args.eval_episodes} "
               "sampled episodes (the paper's measure); greedy_*: one argmax episode", **result,
               "decisions": state.decisions, "episodes": state.episodes, "updates": len(rows),
               "wall_s": time.time() - t_start, "run_dir": run_dir, **extra}
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
