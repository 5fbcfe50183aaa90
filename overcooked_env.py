"""Macro-action Overcooked (Tomato Salad, Tomato-Lettuce Salad) as a gymnasium environment.

Implements: TWOSOME (Tan et al., ICLR 2024, arXiv 2401.14151), the macro-action Overcooked
environment: 7x7 map A, one agent with a 5x5 view, 5 or 8 macro-actions that run primitive
steps (move, or walk into a counter to interact) along shortest paths. Rewards: +0.2 per needed
food chopped, +1 for the right salad (terminates), -0.1 per wrong delivery, -0.001 per
primitive step. A macro's reward is sum_j 0.99^j r_j, so the logged return sum_t 0.99^t r_t is
the sum over macros of 0.99^(primitive steps before the macro) * its reward (GAMMA, discount()).
Interface: obs is the raw-integer feature vector; info has "prompt", "action_texts",
"action_ids", "action_mask", "success", "macro_steps", "invalid_action". step() after the end
raises, and so does an action outside action_space (ValueError). Every action in action_space is
valid in every state (info["invalid_action"] is always False): a macro with nothing to do waits
one primitive step and pays its cost. action_masks() gives info["action_mask"] (MaskablePPO's
convention). render_mode "ansi" draws the whole kitchen as text, "rgb_array" as 20-px tiles.
Quirks of the original, numbered here (the code refers to them by number): 1. the 200-step
limit gives truncated=True (faithful=True: terminated, as the original); 2. the rewards inside a
macro are discounted by a fixed 0.99, whatever gamma PPO is given; 3. "chop the <food>" for a
chopped food; 4. "walk to" while holding chopped food; 5. Tomato Salad's bowl is never "empty".
2-5 are kept in both modes: they are the task.
Decided here, where the paper leaves a choice: "get <food>" for an unchopped food on a board walks
to the board and stops (random play then succeeds ~46% of the time on Tomato Salad; staying put
would give ~42%); "chop" with full hands spends its 3 steps; items are found at their true
positions (what the original's agent remembers).
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
# PAPER: the discount, 0.99 per primitive step. The simulator discounts the rewards inside a macro
# by it (quirk 2), and the logged return uses it, whatever gamma PPO is given (discount() below).
GAMMA = 0.99
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
# An action is (kind, argument); ids follow the original code's order.
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


# render_mode="ansi": three characters a cell; a letter for each item, upper case once chopped.
LETTERS = {"tomato": "t", "lettuce": "l", "onion": "o", "plate": "p"}
# render_mode="rgb_array": one colour per kind of cell and per item; chopped food is paler.
TILE = 20  # pixels per cell
COLOURS = {"floor": (235, 225, 205), "counter": (140, 95, 60), "board": (205, 170, 110),
           "delivery": (90, 90, 100), "agent": (50, 90, 210), "plate": (250, 250, 250),
           ("tomato", False): (215, 30, 30), ("tomato", True): (255, 150, 140),
           ("lettuce", False): (30, 130, 30), ("lettuce", True): (160, 230, 110),
           ("onion", False): (130, 50, 150), ("onion", True): (225, 185, 240)}


def kind_of(cell, task):
    if is_floor(cell):
        return "floor"
    return ("board" if cell in TASKS[task]["boards"] else
            "delivery" if cell == DELIVERY else "counter")


def in_plate(s):
    return sorted(f for f, w in s["where"].items() if w == "plate")


def describe(s, name):
    return "plate" if name == "plate" else ("chopped " if chopped(s, name) else "raw ") + name


def render_ansi(s, task):
    """The whole kitchen (not only the agent's 5x5 view), a legend, the hands, the clock."""
    items = {w: n for n, w in s["where"].items() if isinstance(w, tuple)}
    rows = []
    for r in range(7):
        row = ""
        for c in range(7):
            cell, name = (r, c), items.get((r, c))
            letter = "" if name is None else LETTERS[name]
            if name is not None and (chopped(s, name) or (name == "plate" and in_plate(s))):
                letter = letter.upper()
            kind = kind_of(cell, task)
            if cell == s["agent"]:
                row += " @ "
            elif kind == "floor":
                row += " . "
            elif kind == "board":
                row += f"[{letter or ' '}]"
            else:
                row += f" {letter or ('D' if kind == 'delivery' else '#')} "
        rows.append(row.rstrip())
    foods = "  ".join(f"{LETTERS[f]} {f}" for f in TASKS[task]["foods"])
    hand = held(s)
    return "\n".join(rows + [
        "@ you  # counter  [ ] cutting board  D delivery",
        f"{foods}  p plate; upper case: chopped (a plate: with food in it)",
        f"holding: {describe(s, hand) if hand else 'nothing'}; in the plate: "
        f"{', '.join(describe(s, f) for f in in_plate(s)) or 'nothing'}",
        f"goal: {TASKS[task]['dish']}; primitive step {s['t']} of {HORIZON}"])


def render_rgb(s, task):
    """The whole kitchen as a (140, 140, 3) uint8 picture: cells, then the agent, then items
    (held ones small, on the agent); a plate shows its food as stripes inside it."""
    img = np.zeros((7 * TILE, 7 * TILE, 3), dtype=np.uint8)

    def paint(cell, colour, margin, part=0, parts=1):  # the part-th of `parts` vertical stripes
        top, left = cell[0] * TILE + margin, cell[1] * TILE + margin
        width = (TILE - 2 * margin) // parts
        img[top:top + TILE - 2 * margin, left + part * width:left + (part + 1) * width] = colour

    for r in range(7):
        for c in range(7):  # a darker outline keeps neighbouring cells apart
            colour = np.array(COLOURS[kind_of((r, c), task)])
            paint((r, c), colour * 3 // 4, 0)
            paint((r, c), colour, 1)
    paint(s["agent"], COLOURS["agent"], 2)
    for name, where in s["where"].items():
        if where == "plate":
            continue  # drawn inside the plate below
        margin = 5 if where == "held" else 3
        cell = position(s, name)
        paint(cell, COLOURS["plate" if name == "plate" else (name, chopped(s, name))], margin)
        if name == "plate":
            inside = in_plate(s)
            for k, food in enumerate(inside):
                paint(cell, COLOURS[(food, True)], margin + 2, k, len(inside))
    return img


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


def discount(info, gamma=GAMMA):
    """What one decision discounts the future by: gamma**k after a macro of k primitive steps (the
    paper's semi-MDP discount). gamma=GAMMA gives the logged return, PPO passes its own gamma."""
    return gamma ** info["macro_steps"]


class OvercookedEnv(gym.Env):
    """One kitchen, one agent; the policy picks macro-actions by id (see module docstring)."""

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    def __init__(self, task="tomato", variant="good", faithful=False, render_mode=None):
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}; known: {', '.join(TASKS)}")
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"unknown render_mode {render_mode!r}; known: "
                             f"{', '.join(self.metadata['render_modes'])} or None")
        prompts.check_variant(variant)
        self.task, self.variant, self.faithful = task, variant, faithful
        self.render_mode = render_mode
        n = len(ACTIONS[task])
        self.action_space = gym.spaces.Discrete(n)
        self.observation_space = gym.spaces.Box(0, 6, shape=(len(observe(new_state(task), task)),),
                                                dtype=np.int64)
        self.state, self.over = new_state(task), True

    def action_masks(self):
        """Which actions are valid now: all of them, in every state (see the module docstring)."""
        return np.ones(self.action_space.n, dtype=bool)

    def _info(self, macro_steps):
        view = make_view(self.state, self.task)
        n = self.action_space.n
        return {"prompt": prompts.overcooked_prompt(view, self.variant),
                "action_texts": prompts.overcooked_action_texts(view, self.variant),
                "action_ids": list(range(n)), "action_mask": self.action_masks(),
                "success": self.state["success"], "macro_steps": macro_steps,
                "invalid_action": False}

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)  # the task itself is deterministic: one start, no randomness
        self.state, self.over = new_state(self.task), False
        return observe(self.state, self.task), self._info(0)

    def step(self, action):
        if not self.action_space.contains(action):
            valid = dict(enumerate(prompts.overcooked_action_texts(
                make_view(self.state, self.task), self.variant)))
            raise ValueError(f"action {action!r} is outside the action space {self.action_space}; "
                             f"valid actions: {valid}")
        if self.over:
            raise RuntimeError("the episode is over (or never started): call reset() first")
        rewards = run_macro(self.state, int(action), self.task)
        reward = sum(GAMMA ** j * r for j, r in enumerate(rewards))  # quirk 2
        terminated = self.state["success"]
        # DIFFERS: the time limit is gymnasium's `truncated`; the original merged it into done
        truncated = not terminated and self.state["t"] >= HORIZON
        if self.faithful:  # quirk 1, as the original
            terminated, truncated = terminated or truncated, False
        self.over = terminated or truncated
        obs = observe(self.state, self.task)
        return obs, reward, terminated, truncated, self._info(len(rewards))

    def render(self):
        """The current state as text ("ansi") or a picture ("rgb_array"); None without a mode."""
        if self.render_mode is None:
            gym.logger.warn("render() without a render_mode: make the env with "
                            f"render_mode= one of {self.metadata['render_modes']}")
            return None
        draw = render_ansi if self.render_mode == "ansi" else render_rgb
        return draw(self.state, self.task)


for _id, _task in (("TWOSOME/TomatoSalad-v0", "tomato"),
                   ("TWOSOME/TomatoLettuceSalad-v0", "tomato-lettuce")):
    if _id not in gym.registry:
        gym.register(_id, entry_point="overcooked_env:OvercookedEnv", kwargs={"task": _task})


if __name__ == "__main__":
    for task in TASKS:  # the oracle's plan, played as the LLM would read it
        env = OvercookedEnv(task, render_mode="ansi")
        obs, info = env.reset()
        print(f"=== {task}, first observation: {' '.join(map(str, obs))}")
        print(env.render())
        print(textwrap.fill(info["prompt"], 92))
        logged, t = 0.0, 0
        for a in oracle_plan(env):
            text = info["action_texts"][a]
            obs, reward, terminated, truncated, info = env.step(a)
            logged += GAMMA ** t * reward
            t += info["macro_steps"]
            print(f"  {text:<45} k={info['macro_steps']:<3} reward {reward:+.4f}")
        print(f"success={info['success']} after {t} primitive steps, logged return {logged:.4f}")

# Expected output:
# === tomato, first observation: 0 5 0 0 0 0 0 0 0 1 4 1 0 0 0 0 0 0
#  #  #  #  #  #  t  #
# [ ] .  .  .  @  .  #
#  #  .  .  .  .  .  #
#  D  .  .  .  .  .  #
#  #  .  .  .  .  .  #
#  #  .  .  .  .  .  #
#  #  #  #  #  #  p  #
# @ you  # counter  [ ] cutting board  D delivery
# t tomato  p plate; upper case: chopped (a plate: with food in it)
# holding: nothing; in the plate: nothing
# goal: tomato salad; primitive step 0 of 200
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
#  #  #  #  #  #  t  #
# [ ] .  .  .  @  .  l
# [ ] .  .  .  .  .  o
#  D  .  .  .  .  .  #
#  #  .  .  .  .  .  #
#  #  .  .  .  .  .  #
#  #  #  #  #  #  p  #
# @ you  # counter  [ ] cutting board  D delivery
# t tomato  l lettuce  o onion  p plate; upper case: chopped (a plate: with food in it)
# holding: nothing; in the plate: nothing
# goal: lettuce-tomato salad; primitive step 0 of 200
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
