"""VirtualHome's household tasks on a small symbolic scene graph, described in text for an LLM.

Implements: TWOSOME (Tan et al., ICLR 2024, arXiv 2401.14151), the VirtualHome Food Preparation
and Entertainment tasks, plus the renamed unseen tasks of its generalisation test (cheese,
hamburger, apple-pie, pizza, washing-plate, laundry: Food Preparation with other names in the
text). Instead of VirtualHome's 358-node graph we keep the rooms, the relevant objects, the
surfaces they rest on, and the rules of TWOSOME's evolving graph that the tasks exercise.
Interface (as overcooked_env.py): gymnasium reset/step, obs = the binary feature vector, info =
"prompt", "action_texts", "action_ids", "action_mask", "success", "invalid_action". An action in
action_space but not in the valid set changes nothing (the original ran its script line all the
same), spends the decision (reward 0) and sets info["invalid_action"]; one outside action_space
raises ValueError. action_masks() gives info["action_mask"]; render_mode="ansi" prints the whole
scene. Quirks of the original, numbered here (the code and the tests refer to them by number);
fixed by default, kept with faithful=True (faithful=False | faithful=True):
  1  the 50-decision time limit is reported as `truncated` | as `terminated`
  2  "stand up" is offered while sitting | it is not, so sitting down early is a trap
  3  the kitchen offers "walk to" only visible items | also the unseen one (that walk fails)
Fixed in both: 4, one text function for env and policy, so the action list is never empty.
Kept in both, being the tasks' real difficulty: 5 is_sit_sofa stays 1 after standing up;
6 "turn on the TV" is offered with both hands full (and fails); 7 next to the coffee table
with empty hands only room walks are offered; 8 one fixed start, no randomness at all.
Features are read off the visible part of the graph only (so the start reaches 16 distinct
observations in Food Preparation and 84 in Entertainment, counted in tests/test_virtualhome_env.py);
the prompt uses the real SITTING flag, never claiming sitting after standing up.
Try it: python virtualhome_env.py
"""
import copy
from collections import deque
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np

import prompts

TASKS = tuple(prompts.VH_RENAMES)  # food, entertainment, then the six renamed food tasks
HORIZON = 50  # decisions per episode (original code)
GAMMA = 0.95  # PAPER: the discount per decision; the logged return uses it, whatever PPO's gamma
ROOMS = ("livingroom", "kitchen", "bathroom", "bedroom")  # actions 0-3 walk to these
PROPERTIES = {
    "pancake": {"GRABBABLE"}, "chips": {"GRABBABLE"}, "milk": {"GRABBABLE", "CAN_OPEN"},
    "microwave": {"CAN_OPEN", "CONTAINER", "HAS_SWITCH"}, "tv": {"HAS_SWITCH"},
    "sofa": {"SITTABLE", "SURFACE"}, "coffeetable": {"SURFACE"},
    "kitchentable": {"SURFACE"}, "kitchencounter": {"SURFACE"},
}
# (node, room, surface it stands ON) at the start; both tasks share the scene.
LAYOUT = [("kitchentable", "kitchen", None), ("kitchencounter", "kitchen", None),
          ("pancake", "kitchen", "kitchentable"), ("milk", "kitchen", "kitchentable"),
          ("microwave", "kitchen", "kitchencounter"), ("chips", "kitchen", "kitchencounter"),
          ("tv", "livingroom", None), ("sofa", "livingroom", None),
          ("coffeetable", "livingroom", None)]
# Action id -> simulator command. PAPER/original code: these orders are fixed.
FOOD_ACTIONS = [("walk", r) for r in ROOMS] + [
    ("walk", "pancake"), ("walk", "microwave"), ("grab", "pancake"),
    ("putin", "pancake", "microwave"), ("open", "microwave"), ("close", "microwave")]
ENTERTAINMENT_ACTIONS = [("walk", r) for r in ROOMS] + [
    ("walk", "chips"), ("walk", "milk"), ("walk", "coffeetable"), ("walk", "tv"), ("walk", "sofa"),
    ("grab", "chips"), ("grab", "milk"), ("putback", "chips", "coffeetable"),
    ("putback", "milk", "coffeetable"), ("switchon", "tv"), ("switchoff", "tv"), ("sit", "sofa"),
    ("standup",)]
# Verb -> (property it needs, state before, state after).
TOGGLES = {"open": ("CAN_OPEN", "CLOSED", "OPEN"), "close": ("CAN_OPEN", "OPEN", "CLOSED"),
           "switchon": ("HAS_SWITCH", "OFF", "ON"), "switchoff": ("HAS_SWITCH", "ON", "OFF")}
ROOM_FLAGS = ("in_kitchen", "in_bathroom", "in_bedroom", "in_livingroom")
FOOD_FEATURES = ROOM_FLAGS + (
    "see_pancake", "close_to_pancake", "hold_pancake",
    "see_microwave", "close_to_microwave", "is_microwave_open", "pancake_in_microwave")  # 11
ENTERTAINMENT_FEATURES = ROOM_FLAGS + (
    "see_chips", "close_to_chips", "hold_chips", "chips_on_coffeetable",
    "see_milk", "close_to_milk", "hold_milk", "milk_on_coffeetable",
    "see_tv", "close_to_tv", "is_face_tv", "is_tv_on", "see_sofa", "close_to_sofa", "is_sit_sofa",
    "see_coffeetable", "close_to_coffeetable")  # 21


@dataclass
class Scene:
    """The scene graph: (source, RELATION, target) edges and (node, STATE) pairs."""
    edges: set = field(default_factory=set)
    states: set = field(default_factory=set)

    def key(self):
        return frozenset(self.edges), frozenset(self.states)

    def targets(self, source, relation):
        return {b for a, r, b in self.edges if a == source and r == relation}


def initial_scene():
    edges = {("character", "INSIDE", "kitchen"), ("sofa", "FACING", "tv")}
    for node, room, surface in LAYOUT:
        edges |= {(node, "INSIDE", room)} | ({(node, "ON", surface)} if surface else set())
    states = {("microwave", "CLOSED"), ("microwave", "OFF"), ("milk", "CLOSED"), ("tv", "OFF")}
    return Scene(edges, states)


def held(scene):
    return scene.targets("character", "HOLDS_RH") | scene.targets("character", "HOLDS_LH")


def room_of(scene, node):
    while node not in ROOMS:
        (node,) = scene.targets(node, "INSIDE")  # every node sits INSIDE exactly one parent
    return node


def visible(scene):
    """The POMDP mask: rooms, held objects, and what is in the character's room but not
    directly inside a closed container."""
    parent = {a: b for a, rel, b in scene.edges if rel == "INSIDE"}
    def room(node):
        while node not in ROOMS:
            node = parent[node]
        return node
    return set(ROOMS) | held(scene) | {n for n in PROPERTIES if room(n) == room("character")
                                       and (parent[n], "CLOSED") not in scene.states}


def link_close(scene, a, b):
    scene.edges |= {(a, "CLOSE", b), (b, "CLOSE", a)}


def enter(scene, room, hands):
    """Move the character, and what it holds, into a room; forget what it was close to or facing."""
    def forget(edge):
        a, rel, b = edge
        if rel == "CLOSE":
            return "character" in (a, b) and not {a, b} & hands  # held objects stay close
        if rel == "INSIDE":
            return a in hands or a == "character"
        return rel == "FACING" and a == "character"
    scene.edges -= {e for e in scene.edges if forget(e)}
    scene.edges |= {("character", "INSIDE", room)} | {(h, "INSIDE", room) for h in hands}


def execute(scene, command):
    """Run one command on the scene in place. Return False, having changed nothing, if it fails."""
    verb, *args = command
    e, s, hands = scene.edges, scene.states, held(scene)
    sitting = ("character", "SITTING") in s
    if not set(args) <= visible(scene):
        return False  # POMDP: one cannot act on what one does not see
    o = args[0] if args else None
    props = PROPERTIES.get(o, set())
    close = ("character", "CLOSE", o) in e
    if verb == "walk":
        if sitting:
            return False
        enter(scene, o if o in ROOMS else room_of(scene, o), hands)
        if o not in ROOMS:
            near = {o} | scene.targets(o, "ON")
            if "CAN_OPEN" in props:
                near |= {a for a, rel, b in scene.edges if rel == "INSIDE" and b == o}
            for node in near:
                link_close(scene, "character", node)
    elif verb == "grab":
        if "GRABBABLE" not in props or not close or o in hands or len(hands) == 2:
            return False
        surfaces, room = scene.targets(o, "ON"), room_of(scene, o)
        e -= {x for x in e if x[0] == o or x[2] == o}  # loses its ON, INSIDE and CLOSE links
        hand = "HOLDS_LH" if scene.targets("character", "HOLDS_RH") else "HOLDS_RH"  # right first
        e |= {("character", hand, o), (o, "INSIDE", room)}
        for node in {o} | surfaces:
            link_close(scene, "character", node)
    elif verb in TOGGLES:
        need, now, then = TOGGLES[verb]
        # Opening, and switching (TWOSOME's change: upstream has that check commented out),
        # need a free hand.
        if need not in props or not close or (o, now) not in s:
            return False
        if verb != "close" and len(hands) == 2:
            return False
        if verb == "open" and (o, "ON") in s:
            return False  # a running microwave stays shut
        s ^= {(o, now), (o, then)}
    elif verb in ("putin", "putback"):
        dest = args[1]
        if o not in hands or ("character", "CLOSE", dest) not in e:
            return False
        need = "CONTAINER" if verb == "putin" else "SURFACE"
        if need not in PROPERTIES[dest] or (dest, "CLOSED") in s:
            return False
        e -= {("character", "HOLDS_RH", o), ("character", "HOLDS_LH", o)}
        if verb == "putin":
            e -= {(o, "INSIDE", room_of(scene, o))}
        e.add((o, "INSIDE" if verb == "putin" else "ON", dest))
        link_close(scene, "character", dest)
        link_close(scene, o, dest)
    elif verb == "sit":  # TWOSOME removed upstream's occupancy check
        if "SITTABLE" not in props or not close or sitting:
            return False
        s.add(("character", "SITTING"))
        e.add(("character", "ON", o))
        e |= {("character", "FACING", f) for f in scene.targets(o, "FACING")}
    elif verb == "standup":
        if not sitting:
            return False
        s.remove(("character", "SITTING"))  # quirk 5: the ON-sofa edge stays
    return True


def make_view(task, scene):
    """The named features (read off the visible part of the graph only, so e.g. the microwave's
    door is unknown, 0, outside the kitchen), plus the task, the room and the SITTING flag."""
    hands, room = held(scene), room_of(scene, "character")
    seen = visible(scene) | {"character"}
    e = {(a, rel, b) for a, rel, b in scene.edges if a in seen and b in seen}
    s = {(n, state) for n, state in scene.states if n in seen}
    f = {f"in_{r}": room == r for r in ROOMS}
    for o in ("pancake", "microwave", "chips", "milk", "tv", "sofa", "coffeetable"):
        f |= {f"see_{o}": o in seen, f"close_to_{o}": ("character", "CLOSE", o) in e,
              f"hold_{o}": o in hands}
    f |= {f"{o}_on_coffeetable": (o, "ON", "coffeetable") in e for o in ("chips", "milk")}
    f |= {"is_microwave_open": ("microwave", "OPEN") in s, "is_tv_on": ("tv", "ON") in s,
          "pancake_in_microwave": ("pancake", "INSIDE", "microwave") in e,
          "is_face_tv": ("character", "FACING", "tv") in e,
          "is_sit_sofa": ("character", "ON", "sofa") in e}
    names = ENTERTAINMENT_FEATURES if task == "entertainment" else FOOD_FEATURES
    view = {"task": task, "room": room, "sitting": ("character", "SITTING") in s}
    return view | {k: f[k] for k in names}


def food_valid_actions(v):
    """The policy's valid set in Food Preparation (the original code's rules)."""
    rooms = [i for i, r in enumerate(ROOMS) if r != v["room"]]
    if v["room"] != "kitchen" or not v["see_pancake"]:
        return rooms
    if v["hold_pancake"]:
        return rooms + ([4, 7, 8, 9] if v["close_to_microwave"] else [4, 5])
    return rooms + {(True, False): [5, 6], (False, True): [4, 8, 9], (False, False): [4, 5],
                    (True, True): [8, 9] if v["is_microwave_open"] else [9],
                    }[v["close_to_pancake"], v["close_to_microwave"]]


def entertainment_valid_actions(v, faithful=False):
    """The policy's valid set in Entertainment (the original code's rules)."""
    rooms = [i for i, r in enumerate(ROOMS) if r != v["room"]]
    other = {"chips": "milk", "milk": "chips"}
    if v["room"] == "kitchen":
        walk, grab = {"chips": 4, "milk": 5}, {"chips": 9, "milk": 10}
        loose = [o for o in ("chips", "milk") if v[f"see_{o}"] and not v[f"hold_{o}"]]
        if v["see_chips"] and v["see_milk"]:
            extra = [grab[o] if v[f"close_to_{o}"] else walk[o] for o in loose]
        elif loose:  # DIFFERS (quirk 3): the original offers the *other*, unseen item's walk
            o = loose[0]
            extra = [grab[o] if v[f"close_to_{o}"] else walk[other[o] if faithful else o]]
        else:
            extra = []
    elif v["room"] != "livingroom":
        extra = []
    elif v["sitting"]:
        extra = [] if faithful else [16]  # DIFFERS (quirk 2): the original has no way up
    elif v["close_to_coffeetable"]:
        hands = [o for o in ("chips", "milk") if v[f"hold_{o}"]]
        if len(hands) == 2:
            extra = [7, 8, 11, 12]
        elif hands:  # putting one down is offered only if the other is not on the table yet
            o = hands[0]
            put = [] if v[f"{other[o]}_on_coffeetable"] else [{"chips": 11, "milk": 12}[o]]
            extra = [7, 8] + put
        else:
            extra = []  # quirk 7
    elif v["close_to_tv"]:
        extra = [6, 8] if v["is_tv_on"] else [6, 8, 13, 14]  # quirk 6: offered even with full hands
    elif v["close_to_sofa"]:
        extra = [6, 7, 15, 16] if v["is_tv_on"] else [6, 7]
    else:
        extra = [6, 7, 8]
    return sorted(rooms + extra)


def valid_actions(view, faithful=False):
    if view["task"] == "entertainment":
        return entertainment_valid_actions(view, faithful)
    return food_valid_actions(view)


def is_success(v):
    if v["task"] != "entertainment":  # the pancake is shut inside the microwave
        return v["in_kitchen"] and not v["see_pancake"]
    return (v["in_livingroom"] and v["is_face_tv"] and v["is_tv_on"] and v["sitting"]
            and (v["close_to_milk"] or v["milk_on_coffeetable"])
            and (v["close_to_chips"] or v["chips_on_coffeetable"]))


def render_ansi(task, scene, t):
    """The whole scene (not only what the agent sees): each room with what stands in it, what
    lies on or in that, the objects' states; then where the agent is, what it is next to and
    what it holds. @ marks the agent's room and the lines about the agent."""
    names = prompts.VH_NAMES | prompts.VH_RENAMES[task] | {
        "kitchentable": "kitchen table", "kitchencounter": "kitchen counter"}
    order = [node for node, _, _ in LAYOUT]
    hands = held(scene)
    here = room_of(scene, "character")

    def listed(nodes, say=lambda n: names[n]):
        return ", ".join(say(n) for n in sorted(nodes, key=order.index)) or "nothing"

    def describe(node):  # open/closed before on/off
        states = ", ".join(sorted((st.lower() for n, st in scene.states if n == node),
                                  key=lambda st: (st in ("on", "off"), st)))
        text = names[node] + (f" [{states}]" if states else "")
        for relation, word in (("ON", "on"), ("INSIDE", "in")):
            inner = {a for a, rel, b in scene.edges
                     if rel == relation and b == node and a in order and a not in hands}
            text += f" ({word} it: {listed(inner, describe)})" if inner else ""
        return text

    lines = []
    for room in ROOMS:
        standing = {n for n in order if (n, "INSIDE", room) in scene.edges
                    and not scene.targets(n, "ON") and n not in hands}
        head = f"{'@' if room == here else ' '} {names[room]}: "
        things = [describe(n) for n in sorted(standing, key=order.index)] or ["nothing"]
        wide = len(head + ", ".join(things)) > 92  # then one thing a line
        lines.append(head + (",\n    " if wide else ", ").join(things))
    posture = "sitting on the sofa" if ("character", "SITTING") in scene.states else "standing"
    facing = ", facing the TV" if ("character", "FACING", "tv") in scene.edges else ""
    near = scene.targets("character", "CLOSE") - hands
    lines.append(f"@ you: in the {names[here]}, {posture}{facing}; decision {t} of {HORIZON}")
    lines.append(f"  next to: {listed(near)}; holding: {listed(hands)}")
    return "\n".join(lines)


class VirtualHomeEnv(gym.Env):
    """One VirtualHome task; +1 and terminated on success, 0 otherwise, 50 decisions at most."""
    metadata = {"render_modes": ["ansi"], "render_fps": 2}

    def __init__(self, task="food", variant="good", faithful=False, render_mode=None):
        if task not in TASKS:
            raise ValueError(f"unknown VirtualHome task {task!r}; known: {', '.join(TASKS)}")
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"unknown render_mode {render_mode!r}; known: ansi or None")
        prompts.check_variant(variant)
        self.task, self.variant, self.faithful = task, variant, faithful
        self.render_mode = render_mode
        fun = task == "entertainment"
        self.actions = ENTERTAINMENT_ACTIONS if fun else FOOD_ACTIONS
        self.feature_names = ENTERTAINMENT_FEATURES if fun else FOOD_FEATURES
        self.action_space = gym.spaces.Discrete(len(self.actions))
        self.observation_space = gym.spaces.Box(0.0, 1.0, (len(self.feature_names),), np.float32)
        self.scene, self.t = initial_scene(), 0

    def view(self):
        return make_view(self.task, self.scene)

    def action_masks(self):
        """Which actions are valid now, as a bool array over action_space (MaskablePPO's
        convention); the same as info["action_mask"] of the latest reset or step."""
        return np.isin(np.arange(self.action_space.n), valid_actions(self.view(), self.faithful))

    def _observe(self, invalid_action=False):
        view = self.view()
        ids = valid_actions(view, self.faithful)
        commands = [self.actions[i] for i in ids]
        info = {"prompt": prompts.virtualhome_prompt(view, self.variant),
                "action_texts": prompts.virtualhome_action_texts(view, commands, self.variant),
                "action_ids": ids, "action_mask": np.isin(np.arange(self.action_space.n), ids),
                "success": is_success(view),
                "invalid_action": invalid_action}
        return np.array([view[k] for k in self.feature_names], dtype=np.float32), info

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)  # seeds matter to the policy only: no randomness here (quirk 8)
        self.scene, self.t = initial_scene(), 0
        return self._observe()

    def step(self, action):
        if not self.action_space.contains(action):
            _, info = self._observe()
            offered = dict(zip(info["action_ids"], info["action_texts"]))
            raise ValueError(f"action {action!r} is outside the action space {self.action_space}; "
                             f"valid actions now: {offered}")
        # DIFFERS: an action outside the valid set is a no-op that spends the decision. The
        # original turns any action id into its script line and runs it: a line that fails is
        # such a no-op, but one that was merely not offered (walking to the room one is already
        # in, say) may run and change the scene. Here only the valid set, which the policy is
        # shown, can change the world.
        invalid = int(action) not in valid_actions(self.view(), self.faithful)
        if not invalid:  # a valid action may still fail: that too changes nothing, costs a step
            execute(self.scene, self.actions[int(action)])
        self.t += 1
        obs, info = self._observe(invalid)
        success = info["success"]
        out_of_time = self.t >= HORIZON and not success
        if self.faithful:  # quirk 1: the original merges the time limit into `done`
            return obs, float(success), success or out_of_time, False, info
        return obs, float(success), success, out_of_time, info  # DIFFERS: gymnasium's truncated

    def render(self):
        """The current scene as text (render_mode="ansi"); None without a render mode."""
        if self.render_mode is None:
            gym.logger.warn('render() without a render_mode: make the env with render_mode="ansi"')
            return None
        return render_ansi(self.task, self.scene, self.t)


def discount(info, gamma=GAMMA):
    """What one decision discounts the future by: gamma, every decision being one step here.
    gamma=GAMMA gives the logged return, PPO passes its own gamma."""
    return gamma


def oracle_plan(env):
    """Shortest list of action ids from env's current state to success: BFS over valid actions."""
    env = env.unwrapped
    start = copy.deepcopy(env.scene)
    frontier, seen = deque([(start, [])]), {start.key()}
    while frontier:
        scene, plan = frontier.popleft()
        for a in valid_actions(make_view(env.task, scene), env.faithful):
            nxt = copy.deepcopy(scene)
            execute(nxt, env.actions[a])
            if is_success(make_view(env.task, nxt)):
                return plan + [a]
            if nxt.key() not in seen:
                seen.add(nxt.key())
                frontier.append((nxt, plan + [a]))
    return []  # unreachable (no task has such a state)


for _id, _task in (("TWOSOME/FoodPreparation-v0", "food"),
                   ("TWOSOME/Entertainment-v0", "entertainment")):
    if _id not in gym.registry:  # importing twice (tests, notebooks) must not re-register
        gym.register(_id, entry_point="virtualhome_env:VirtualHomeEnv", kwargs={"task": _task})


if __name__ == "__main__":
    import textwrap
    for task in ("food", "entertainment"):
        env = VirtualHomeEnv(task, render_mode="ansi")
        obs, info = env.reset()
        plan = oracle_plan(env)
        print(f"=== {task}: the shortest plan takes {len(plan)} decisions")
        print(env.render())
        print(textwrap.fill(info["prompt"], 96))
        for t, a in enumerate(plan, 1):
            phrase = info["action_texts"][info["action_ids"].index(a)]
            obs, reward, terminated, truncated, info = env.step(a)
            print(f"{t:4d}. {phrase:<34} reward {reward:.0f}" + ("  success" * info["success"]))

# Expected output (the BFS turns the TV on first; putting the chips on the coffee table first is
# another plan of the same length):
# === food: the shortest plan takes 6 decisions
#   living room: TV [off], sofa, coffee table
# @ kitchen: kitchen table (on it: pancake, milk [closed]),
#     kitchen counter (on it: microwave [closed, off], chips)
#   bathroom: nothing
#   bedroom: nothing
# @ you: in the kitchen, standing; decision 0 of 50
#   next to: nothing; holding: nothing
# There are four rooms: the kitchen, the bathroom, the bedroom and the living room. You are in the
# kitchen. You notice the pancake and the microwave. You are not close to the pancake or the
# microwave. Your hands are empty. The microwave is closed. In order to heat up the pancake in the
# microwave, your next step is to
#    1. walk to the pancake                reward 0
#    2. grab the pancake                   reward 0
#    3. walk to the microwave              reward 0
#    4. open the microwave                 reward 0
#    5. put the pancake in the microwave   reward 0
#    6. close the microwave                reward 1  success
# === entertainment: the shortest plan takes 11 decisions
#   living room: TV [off], sofa, coffee table
# @ kitchen: kitchen table (on it: pancake, milk [closed]),
#     kitchen counter (on it: microwave [closed, off], chips)
#   bathroom: nothing
#   bedroom: nothing
# @ you: in the kitchen, standing; decision 0 of 50
#   next to: nothing; holding: nothing
# There are four rooms: the kitchen, the bathroom, the bedroom and the living room. You are in the
# kitchen. You notice the chips and the milk. You are not close to the chips or the milk. Your
# hands are empty. In order to enjoy the chips and the milk while watching TV, your next step is
# to
#    1. walk to the living room            reward 0
#    2. walk to the TV                     reward 0
#    3. turn on the TV                     reward 0
#    4. walk to the kitchen                reward 0
#    5. walk to the chips                  reward 0
#    6. grab the chips                     reward 0
#    7. walk to the milk                   reward 0
#    8. grab the milk                      reward 0
#    9. walk to the living room            reward 0
#   10. walk to the sofa                   reward 0
#   11. sit on the sofa                    reward 1  success
