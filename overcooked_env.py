"""Macro-action Overcooked (Tomato Salad, Tomato-Lettuce Salad) as a gymnasium environment.

Implements: TWOSOME (Tan et al., ICLR 2024, arXiv 2401.14151), the macro-action Overcooked
environment: 7x7 map A, one agent with a 5x5 view, 5 or 8 macro-actions that run primitive
steps (move, or walk into a counter to interact) along shortest paths. Rewards: +0.2 per needed
food chopped, +1 for the right salad (terminates), -0.1 per wrong delivery, -0.001 per
primitive step. A macro's reward is sum_j 0.99^j r_j, so the logged return sum_t 0.99^t r_t is
the sum over macros of 0.99^(primitive steps before the macro) * its reward.
Interface: obs is the raw-integer feature vector; info has "prompt", "action_texts",
"action_ids", "action_mask", "success", "macro_steps". step() after the end raises.
Quirks (spec section 3): 1. the 200-step limit gives truncated=True (faithful=True: terminated);
2. the 0.99 inside a macro, 3. "chop the <food>" for a chopped food, 4. "walk to" while holding
chopped food, 5. Tomato Salad's bowl never "empty": kept in both modes, they are the task.
Gaps in the spec, decided: "get <food>" for an unchopped food on a board walks to the board and
stops (random play then succeeds ~46% as in the spec; staying put gives ~42%); "chop" with full
hands spends its 3 steps; items are found at their true positions (= the original's memory).
Try it: python overcooked_env.py
"""
import copy
import textwrap
from collections import deque

import gymnasium as gym
import numpy as np

import prompts

# PAPER: reward values of the TWOSOME scripts (upstream defaults are 10 / 200 / -5 / -0.1).
SUBTASK, CORRECT, WRONG, STEP_COST = 0.2, 1.0, -0.1, -0.001
MACRO_GAMMA = 0.99  # hard-coded discount inside a macro (quirk 2)
HORIZON = 200  # primitive steps
START = (1, 4)  # cells are (row, column), row 0 at the top
SPAWN = {"tomato": (0, 5), "lettuce": (1, 6), "onion": (2, 6), "plate": (6, 5)}
DELIVERY = (3, 0)
RIGHT, DOWN, LEFT, UP = (0, 1), (1, 0), (0, -1), (-1, 0)
DISHES = ["tomato", "lettuce", "onion", "lettuce-tomato", "onion-tomato", "lettuce-onion",
          "lettuce-onion-tomato"]  # + " salad": the task one-hot of the observation
TASKS = {
    "tomato": dict(dish="tomato salad", foods=("tomato",), boards=((1, 0),)),
    "tomato-lettuce": dict(dish="lettuce-tomato salad", foods=("tomato", "lettuce", "onion"),
                           boards=((1, 0), (2, 0))),
}
# An action is (kind, argument); ids follow the spec's order.
ACTIONS = {
    "tomato": [("get", "tomato"), ("get", "plate"), ("board", 0), ("deliver", None),
               ("chop", None)],
    "tomato-lettuce": [("get", "tomato"), ("get", "lettuce"), ("get", "onion"), ("get", "plate"),
                       ("board", 0), ("board", 1), ("deliver", None), ("chop", None)],
}


def is_floor(cell):
    return 1 <= cell[0] <= 5 and 1 <= cell[1] <= 5


def add(cell, move):
    return cell[0] + move[0], cell[1] + move[1]


def position(s, name):
    """Held items move with the agent, items in the plate with the plate."""
    where = s["where"][name]
    return s["agent"] if where == "held" else position(s, "plate") if where == "plate" else where


def held(s):
    return next((n for n, w in s["where"].items() if w == "held"), None)


def chopped(s, name):
    return name != "plate" and s["chops"][name] == 3


def visible(s, cell):
    return abs(cell[0] - s["agent"][0]) <= 2 and abs(cell[1] - s["agent"][1]) <= 2


def new_state(task):
    items = TASKS[task]["foods"] + ("plate",)
    return {"agent": START, "where": {n: SPAWN[n] for n in items},
            "chops": {f: 0 for f in TASKS[task]["foods"]}, "t": 0, "success": False}


def interact(s, cell, task):
    """The agent walks into the non-floor `cell`; returns the reward of the interaction."""
    hand = held(s)
    here = next((n for n, w in s["where"].items() if w == cell), None)
    on_board = cell in TASKS[task]["boards"]
    if cell == DELIVERY:
        if hand is None:
            return 0.0
        contents = [f for f in ("lettuce", "onion", "tomato") if s["where"].get(f) == "plate"]
        if hand == "plate" and "-".join(contents) + " salad" == TASKS[task]["dish"]:
            s["success"] = True
            return CORRECT
        for name in [hand] + (contents if hand == "plate" else []):  # back to spawn, raw again
            s["where"][name] = SPAWN[name]
            if name != "plate":
                s["chops"][name] = 0
        return WRONG
    if hand is None:
        if here is not None and on_board and here != "plate" and not chopped(s, here):
            s["chops"][here] += 1
            return SUBTASK if chopped(s, here) and here in TASKS[task]["dish"] else 0.0
        if here is not None:
            s["where"][here] = "held"
    elif here is None:  # put it down, on a counter or a board
        s["where"][hand] = cell
    elif hand == "plate" and chopped(s, here):
        s["where"][here] = "plate"
    elif here == "plate" and chopped(s, hand):
        s["where"][hand] = "plate"
        if on_board:  # the board hands the plate back with the food in it
            s["where"]["plate"] = "held"
    return 0.0


def shortest_path(start, goal):
    """Moves along a shortest floor path. BFS gives A*'s result here: each target has a single
    access cell, so tie-breaking never changes where a macro ends or how long it takes."""
    parent, queue = {start: None}, deque([start])
    while queue:
        cell = queue.popleft()
        for move in (RIGHT, LEFT, DOWN, UP):  # the original's expansion order
            nxt = add(cell, move)
            if is_floor(nxt) and nxt not in parent:
                parent[nxt] = (cell, move)
                queue.append(nxt)
    moves = []
    while goal in parent and parent[goal] is not None:
        goal, move = parent[goal]
        moves.append(move)
    return moves[::-1]


def access(target):
    """The floor cell next to a counter cell (on map A every target has exactly one)."""
    return next(add(target, m) for m in (RIGHT, DOWN, LEFT, UP) if is_floor(add(target, m)))


def walk_into(s, target):
    """Moves to the target's access cell, then the direction that steps into the target."""
    cell = access(target)
    return shortest_path(s["agent"], cell), (target[0] - cell[0], target[1] - cell[1])


def plan_macro(s, action, task):
    """The primitive moves a macro-action makes from state `s` (None = stay)."""
    kind, arg = action
    hand = held(s)
    if kind == "get" and s["where"][arg] != "held":
        target = position(s, arg)
        path, into = walk_into(s, target)
        if arg == "plate":
            if hand is not None and hand != "plate" and not chopped(s, hand):
                return path  # raw food cannot go into the plate: stop next to it
            # chopped food in hand: drop it into the plate, then lift the plate (a board does both)
            twice = hand is not None and target not in TASKS[task]["boards"]
            return path + [into] * (2 if twice else 1)
        if target in TASKS[task]["boards"] and not chopped(s, arg):
            return path  # stop in front of the board without chopping (module docstring)
        if s["where"][arg] == "plate" and visible(s, target):
            return []  # already in the plate
        return path + [into]
    if kind in ("board", "deliver"):
        path, into = walk_into(s, TASKS[task]["boards"][arg] if kind == "board" else DELIVERY)
        return path + ([into] if hand is not None else [])
    if kind == "chop":  # with full hands the three steps into the board do nothing
        for board in TASKS[task]["boards"]:
            food = next((n for n, w in s["where"].items() if w == board and n != "plate"), None)
            if food and s["agent"] == access(board) and not chopped(s, food):
                return [walk_into(s, board)[1]] * (3 - s["chops"][food])
    return []


def run_macro(s, action_id, task):
    """Plays one macro-action on `s` in place; returns its primitive rewards."""
    rewards = []
    for move in plan_macro(s, ACTIONS[task][action_id], task) or [None]:  # costs >= 1 step
        if s["success"] or s["t"] >= HORIZON:
            break
        s["t"] += 1
        reward = STEP_COST
        if move is not None:
            cell = add(s["agent"], move)
            if is_floor(cell):
                s["agent"] = cell
            else:  # walking into a counter, board or the delivery spot interacts with it
                reward += interact(s, cell, task)
        rewards.append(reward)
    return rewards


def observe(s, task):
    """Feature vector: foods (x, y, chops), plate, boards, delivery (x, y), agent, task one-hot.

    Anything outside the 5x5 view is reported as zeros (partial observability)."""
    obs = []
    for name in TASKS[task]["foods"] + ("plate",):
        cell = position(s, name)
        values = [*cell, s["chops"][name]] if name != "plate" else [*cell]
        obs += values if visible(s, cell) else [0] * len(values)
    for cell in TASKS[task]["boards"] + (DELIVERY,):
        obs += cell if visible(s, cell) else (0, 0)
    obs += s["agent"]
    obs += [int(dish + " salad" == TASKS[task]["dish"]) for dish in DISHES]
    return np.array(obs, dtype=np.int64)


def make_view(s, task):
    """What the agent can see, as the dict that prompts.py turns into text (keys listed there)."""
    def thing(name):
        if name == "plate":
            return {"name": "plate", "contents": [f for f in TASKS[task]["foods"]
                                                  if s["where"][f] == "plate"]}
        return {"name": name, "chopped": chopped(s, name)}

    items = TASKS[task]["foods"] + ("plate",)
    boards = TASKS[task]["boards"]
    on_board = {s["where"][n]: n for n in items if s["where"][n] in boards}
    return {
        "task": task, "foods": TASKS[task]["foods"], "boards": len(boards),
        "on_table": [n for n in items if s["where"][n] == SPAWN[n] and visible(s, SPAWN[n])],
        "board_contents": [thing(on_board[b]) if b in on_board and visible(s, b) else None
                           for b in boards],
        "at_board": next((k + 1 for k, b in enumerate(boards) if s["agent"] == access(b)), 0),
        "held": thing(held(s)) if held(s) else None,
    }


def state_key(s):
    return s["agent"], tuple(sorted(s["where"].items())), tuple(sorted(s["chops"].items()))


def oracle_plan(env):
    """Fewest macro-actions from the env's current state to a served salad (breadth-first
    search over copies of the deterministic simulator); ties go to fewer primitive steps."""
    task, n = env.task, len(ACTIONS[env.task])
    level, seen = {state_key(env.state): (env.state, [])}, {state_key(env.state)}
    while level:
        successes, nxt = [], {}
        for s, plan in level.values():
            for a in range(n):
                s2 = copy.deepcopy(s)
                run_macro(s2, a, task)
                key = state_key(s2)
                if s2["success"]:
                    successes.append((s2["t"], plan + [a]))
                elif s2["t"] < HORIZON and key not in seen and (
                        key not in nxt or s2["t"] < nxt[key][0]["t"]):
                    nxt[key] = (s2, plan + [a])
        if successes:
            return min(successes)[1]
        seen |= nxt.keys()
        level = nxt
    return []  # no plan within the horizon


class OvercookedEnv(gym.Env):
    """One kitchen, one agent; the policy picks macro-actions by id (see module docstring)."""

    metadata = {"render_modes": []}

    def __init__(self, task="tomato", variant="good", faithful=False):
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}; known: {', '.join(TASKS)}")
        prompts.check_variant(variant)
        self.task, self.variant, self.faithful = task, variant, faithful
        n = len(ACTIONS[task])
        self.action_space = gym.spaces.Discrete(n)
        self.observation_space = gym.spaces.Box(0, 6, shape=(len(observe(new_state(task), task)),),
                                                dtype=np.int64)
        self.state, self.over = new_state(task), True

    def _info(self, macro_steps):
        view = make_view(self.state, self.task)
        n = self.action_space.n
        return {"prompt": prompts.overcooked_prompt(view, self.variant),
                "action_texts": prompts.overcooked_action_texts(view, self.variant),
                "action_ids": list(range(n)), "action_mask": np.ones(n, dtype=bool),
                "success": self.state["success"], "macro_steps": macro_steps}

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)  # the task itself is deterministic (spec quirk 12)
        self.state, self.over = new_state(self.task), False
        return observe(self.state, self.task), self._info(0)

    def step(self, action):
        n = self.action_space.n
        if not (isinstance(action, (int, np.integer)) and 0 <= action < n):
            valid = dict(enumerate(prompts.overcooked_action_texts(
                make_view(self.state, self.task), self.variant)))
            raise ValueError(f"action {action!r} is not valid; valid actions: {valid}")
        if self.over:
            raise RuntimeError("the episode is over (or never started): call reset() first")
        rewards = run_macro(self.state, int(action), self.task)
        reward = sum(MACRO_GAMMA ** j * r for j, r in enumerate(rewards))
        terminated = self.state["success"]
        # DIFFERS: the time limit is gymnasium's `truncated`; the original merged it into done
        truncated = not terminated and self.state["t"] >= HORIZON
        if self.faithful:  # quirk 1, as the original
            terminated, truncated = terminated or truncated, False
        self.over = terminated or truncated
        obs = observe(self.state, self.task)
        return obs, reward, terminated, truncated, self._info(len(rewards))


for _id, _task in (("TWOSOME/TomatoSalad-v0", "tomato"),
                   ("TWOSOME/TomatoLettuceSalad-v0", "tomato-lettuce")):
    if _id not in gym.registry:
        gym.register(_id, entry_point="overcooked_env:OvercookedEnv", kwargs={"task": _task})


if __name__ == "__main__":
    for task in TASKS:  # the oracle's plan, played as the LLM would read it
        env = OvercookedEnv(task)
        obs, info = env.reset()
        print(f"=== {task}, first observation: {' '.join(map(str, obs))}")
        print(textwrap.fill(info["prompt"], 92))
        logged, t = 0.0, 0
        for a in oracle_plan(env):
            text = info["action_texts"][a]
            obs, reward, terminated, truncated, info = env.step(a)
            logged += MACRO_GAMMA ** t * reward
            t += info["macro_steps"]
            print(f"  {text:<45} k={info['macro_steps']:<3} reward {reward:+.4f}")
        print(f"success={info['success']} after {t} primitive steps, logged return {logged:.4f}")

# Expected output:
# === tomato, first observation: 0 5 0 0 0 0 0 0 0 1 4 1 0 0 0 0 0 0
# There is one cutting board in the kitchen. You notice a tomato on the table. You stand away
# from the cutting board with nothing in your hands. To make a tomato salad, you should first
#   pick up the tomato                            k=2   reward -0.0020
#   put the tomato on the cutting board           k=5   reward -0.0049
#   chop the tomato                               k=3   reward +0.1930
#   pick up the tomato                            k=1   reward -0.0010
#   take the bowl                                 k=10  reward -0.0096
#   serve the dish                                k=7   reward +0.9347
# success=True after 28 primitive steps, logged return 0.9205
# === tomato-lettuce, first observation: 0 5 0 1 6 0 2 6 0 0 0 0 0 0 0 0 0 1 4 0 0 0 1 0 0 0
# There are two cutting boards in the kitchen. You notice a tomato, a lettuce and an onion on
# the tables. You stand away from the cutting boards with nothing in your hands. To make a
# tomato-lettuce salad, you should first
#   pick up the tomato                            k=2   reward -0.0020
#   put the tomato on the first cutting board     k=5   reward -0.0049
#   chop the tomato                               k=3   reward +0.1930
#   pick up the lettuce                           k=5   reward -0.0049
#   put the lettuce on the second cutting board   k=6   reward -0.0059
#   chop the lettuce                              k=3   reward +0.1930
#   take the empty bowl                           k=8   reward -0.0077
#   put the tomato in the bowl                    k=9   reward -0.0086
#   put the lettuce in the bowl                   k=2   reward -0.0020
#   serve the dish                                k=2   reward +0.9880
# success=True after 45 primitive steps, logged return 0.9477
