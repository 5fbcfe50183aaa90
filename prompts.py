"""All the text the LLM reads: observation -> prompt, valid action phrases, ablation variants.

Implements: TWOSOME (Tan et al., ICLR 2024, arXiv 2401.14151), the four prompt-design
principles, for both environments:
  1. the observation prompt ends in an open sentence that the action phrase completes;
  2. action phrases are natural verb phrases with articles ("pick up the tomato");
  3. each object keeps one everyday name in observation and action text;
  4. the state comes first, the goal last, right before the action slot.
"good" is the paper's text. For the prompt ablation every environment also has one variant
per broken principle, selected by name from VARIANTS (they break 1, 2, 3 or 4), and three that
keep all four and are meant to read more easily to a small model: "here-first" tells a
VirtualHome agent its room before listing the four rooms (listed first, the rooms draw a small
model to "walk to the bathroom"). "serve-held" does that too and has an Overcooked agent serve
what it holds, named as the observation names it ("serve the unchopped tomato", "serve the bowl
of chopped tomato and lettuce"), where the paper's text says "serve the dish" whatever is held;
run.py uses it unless told otherwise. "clear" is "here-first" with "serve the salad", the goal's
own word: it makes the untrained model succeed more often, yet Tomato Salad learnt later with it,
so it stays a measured candidate (bench/README.md).

The environments call these functions with a plain dict describing what the agent sees (the
"view"); nothing here knows about simulators, tokens or models.
Try it: python prompts.py   (one Overcooked and one VirtualHome state, in every variant)
"""

# Prompt variants for the ablation: "good" follows all four principles, each of the next four
# breaks exactly one of them (its number in the docstring above); "here-first", "clear" and
# "serve-held" keep all four.
VARIANTS = ("good", "no-open-slot", "terse-actions", "mixed-names", "goal-first", "here-first", "clear",
            "serve-held")
# The variants that tell a VirtualHome agent its room before listing the four rooms.
ROOM_FIRST = ("here-first", "clear", "serve-held")


def check_variant(variant):
    if variant not in VARIANTS:
        raise ValueError(f"unknown prompt variant {variant!r}; known: {', '.join(VARIANTS)}")


# ---------------------------------------------------------------------------------------------
# Overcooked (Tomato Salad, Tomato-Lettuce Salad)
# ---------------------------------------------------------------------------------------------
# overcooked_env.py describes what the agent sees as a plain dict, the "view":
#   task            "tomato" or "tomato-lettuce" (the salad to make)
#   foods           the task's foods in action-slot order, e.g. ("tomato", "lettuce", "onion")
#   boards          number of cutting boards, 1 or 2
#   on_table        visible items still on their starting counter, e.g. ["tomato", "plate"]
#   board_contents  one entry per board: a thing, or None (empty, or out of sight)
#   at_board        1 or 2 while standing in front of that board, else 0
#   held            the thing carried, or None
# A thing is {"name": "plate", "contents": [foods]} or {"name": food, "chopped": bool}.
# The simulator's plate is always "the bowl" in the text (principle 3).
_OC_ORDINALS = ("first", "second")


def _oc_article(phrase):
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def _oc_list(words):
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _oc_board(view, k, noun="cutting board"):
    return f"the {noun}" if view["boards"] == 1 else f"the {_OC_ORDINALS[k]} {noun}"


def _oc_noun(thing, bowl="bowl"):
    """A thing without its article: "unchopped tomato", "bowl of chopped tomato and lettuce"."""
    if thing["name"] == "plate":
        foods = thing["contents"]
        return f"{bowl} of chopped {_oc_list(foods)}" if foods else bowl
    return ("chopped " if thing["chopped"] else "unchopped ") + thing["name"]


def _oc_thing(thing, bowl="bowl"):
    return _oc_article(_oc_noun(thing, bowl))


def overcooked_prompt(view, variant="good"):
    """Observation prompt: board count, items on the tables, boards, the agent, then the goal."""
    check_variant(variant)
    # "mixed-names" breaks principle 3: the observation uses other names than the actions do.
    if variant == "mixed-names":
        bowl, board = "plate", "chopping block"
    else:
        bowl, board = "bowl", "cutting board"
    n = view["boards"]
    state = [f"There is one {board} in the kitchen." if n == 1
             else f"There are two {board}s in the kitchen."]
    if view["on_table"]:
        items = [_oc_article(bowl if name == "plate" else name) for name in view["on_table"]]
        state.append(f"You notice {_oc_list(items)} on the table{'s' if len(items) > 1 else ''}.")
    for k, thing in enumerate(view["board_contents"]):
        if thing is not None:
            where = _oc_board(view, k, board).capitalize()
            state.append(f"{where} holds {_oc_thing(thing, bowl)}.")
    if view["at_board"]:
        place = f"in front of {_oc_board(view, view['at_board'] - 1, board)}"
    else:
        place = f"away from the {board}" + ("s" if n > 1 else "")
    hands = _oc_thing(view["held"], bowl) if view["held"] else "nothing"
    state.append(f"You stand {place} with {hands} in your hands.")
    salad = view["task"] + " salad"
    if variant == "goal-first":  # breaks principle 4; the slot stays open
        return " ".join([f"Your goal is to make a {salad}."] + state + ["You should first"])
    if variant == "no-open-slot":  # breaks principle 1: a closed question, nothing to complete
        return " ".join(state + [f"To make a {salad}, what should you do first?"])
    return " ".join(state + [f"To make a {salad}, you should first"])


def overcooked_action_texts(view, variant="good"):
    """The 5 or 8 macro-action phrases, in action-id order; the names follow the state."""
    check_variant(variant)
    bowl = "dish" if variant == "mixed-names" else "bowl"  # the food slots still say "bowl"
    held = view["held"]
    has_bowl = held is not None and held["name"] == "plate"
    raw_food = held is not None and held["name"] != "plate" and not held["chopped"]
    pairs = []  # (verb, object): "good" joins them, "terse-actions" strips them to keywords
    for food in view["foods"]:
        pairs.append(("put", f"the {food} in the bowl") if has_bowl else ("pick up", f"the {food}"))
    plates = [t for t in [held, *view["board_contents"]] if t is not None and t["name"] == "plate"]
    # Quirk kept: Tomato Salad always says "take the bowl", even when the bowl is empty.
    empty = view["task"] != "tomato" and not (plates and plates[0]["contents"])
    pairs.append(("take", f"the empty {bowl}" if empty else f"the {bowl}"))
    for k in range(view["boards"]):
        # Quirk kept: while holding a chopped food the board slots keep "walk to".
        if has_bowl:
            pairs.append(("put", f"the {bowl} on {_oc_board(view, k)}"))
        elif raw_food:
            pairs.append(("put", f"the {held['name']} on {_oc_board(view, k)}"))
        else:
            pairs.append(("walk to", _oc_board(view, k)))
    # "clear" names what is served as the goal does ("To make a tomato salad"): principle 3 asks
    # for one name per thing, and the paper's "the dish" is a third one beside "bowl" and "salad".
    # "serve-held" names what would be served in the observation's own words ("serve the unchopped
    # tomato", "serve the bowl of chopped tomato and lettuce"): one name per thing, and the
    # finished salad's phrase no longer reads the same as a raw tomato's.
    if not held:
        served = "nothing"
    elif variant == "serve-held":
        served = "the " + _oc_noun(held)
    else:
        served = "the salad" if variant == "clear" else "the dish"
    pairs.append(("serve", served))
    # Quirk kept: "chop the <food>" also for a food that is already chopped.
    board = view["board_contents"][view["at_board"] - 1] if view["at_board"] else None
    food = board["name"] if board and board["name"] != "plate" else None
    pairs.append(("chop", f"the {food}" if food else "nothing"))
    if variant == "terse-actions":  # breaks principle 2: keywords, no articles, verb last
        return [f"{obj.replace('the ', '')} {verb.split()[0]}" for verb, obj in pairs]
    return [f"{verb} {obj}" for verb, obj in pairs]


# ---------------------------------------------------------------------------------------------
# VirtualHome (Food Preparation, Entertainment, and the renamed unseen tasks)
# ---------------------------------------------------------------------------------------------
# virtualhome_env.py describes what the agent sees as a plain dict, the "view":
#   task      one of VH_RENAMES: "food", "entertainment" or a renamed food task ("pizza", ...)
#   room      the character's room: "kitchen", "bathroom", "bedroom" or "livingroom"
#   sitting   the character's SITTING flag (may differ from is_sit_sofa, which never clears)
#   ...       the task's named binary features from virtualhome_env.py (FOOD_FEATURES or
#             ENTERTAINMENT_FEATURES), e.g. see_pancake, close_to_tv, chips_on_coffeetable.
# Actions come as the simulator's commands, e.g. ("putin", "pancake", "microwave").
VH_NAMES = {"livingroom": "living room", "kitchen": "kitchen", "bathroom": "bathroom",
            "bedroom": "bedroom", "pancake": "pancake", "microwave": "microwave", "chips": "chips",
            "milk": "milk", "tv": "TV", "sofa": "sofa", "coffeetable": "coffee table"}
# PAPER: the unseen tasks of the generalisation test keep Food Preparation's dynamics and only
# rename its objects in the text.
VH_RENAMES = {
    "food": {}, "entertainment": {},
    "cheese": {"pancake": "cheese"}, "hamburger": {"pancake": "hamburger"},
    "apple-pie": {"pancake": "apple pie"}, "pizza": {"pancake": "pizza"},
    "washing-plate": {"pancake": "dishes", "microwave": "dishwasher"},
    "laundry": {"pancake": "clothes", "microwave": "washing machine"},
}
VH_GOALS = {task: "heat up the {pancake} in the {microwave}" for task in VH_RENAMES} | {
    "washing-plate": "wash the {pancake} in the {microwave}",
    "laundry": "wash the {pancake} in the {microwave}",
    "entertainment": "enjoy the {chips} and the {milk} while watching {tv}",
}
# "mixed-names" breaks principle 3: the observation calls these objects something else.
VH_ALIASES = {"microwave": "oven", "dishwasher": "dish machine", "washing machine": "washer",
              "TV": "television", "sofa": "couch"}
VH_PHRASES = {"walk": "walk to the {0}", "grab": "grab the {0}", "open": "open the {0}",
              "close": "close the {0}", "putin": "put the {0} in the {1}",
              "putback": "put the {0} on the {1}", "switchon": "turn on the {0}",
              "switchoff": "turn off the {0}", "sit": "sit on the {0}", "standup": "stand up"}
# "terse-actions" breaks principle 2: bare script keywords, no articles, no prepositions.
VH_TERSE = {"walk": "walk {0}", "grab": "grab {0}", "open": "open {0}", "close": "close {0}",
            "putin": "putin {0} {1}", "putback": "putback {0} {1}", "switchon": "switchon {0}",
            "switchoff": "switchoff {0}", "sit": "sit {0}", "standup": "standup"}


def _vh_names(task, variant="good"):
    names = VH_NAMES | VH_RENAMES[task]
    if variant == "mixed-names":
        names = {k: VH_ALIASES.get(name, name) for k, name in names.items()}
    return names


def _the(names, ids, conj="and"):
    words = [f"the {names[i]}" for i in ids]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + f" {conj} " + words[-1]


def virtualhome_prompt(view, variant="good"):
    """Observation prompt: rooms, what is seen, what is close, hands, appliances, then the goal."""
    check_variant(variant)
    n = _vh_names(view["task"], variant)
    fun = view["task"] == "entertainment"
    objects = ("chips", "milk", "coffeetable", "tv", "sofa") if fun else ("pancake", "microwave")
    held = [o for o in objects if view.get(f"hold_{o}")]
    seen = [o for o in objects if view[f"see_{o}"] and o not in held]
    near = [o for o in seen if view[f"close_to_{o}"]]
    far = [o for o in seen if o not in near]
    rooms = "the kitchen, the bathroom, the bedroom and the living room"
    if variant in ROOM_FIRST:  # the same facts, the agent's own room first
        state = [f"You are in the {n[view['room']]} (the four rooms are {rooms})."]
    else:
        state = [f"There are four rooms: {rooms}. You are in the {n[view['room']]}."]
    # An unseen pancake in the kitchen can only be behind the microwave's closed door.
    inside = not fun and view["see_microwave"] and (
        view["pancake_in_microwave"] or not view["see_pancake"])
    if inside:
        state.append(f"You notice the {n['microwave']} with the {n['pancake']} inside it.")
    else:
        state.append(f"You notice {_the(n, seen)}." if seen else "You notice nothing useful here.")
    if near and far:
        state.append(f"You are close to {_the(n, near)}, but not to {_the(n, far, 'or')}.")
    elif near:
        state.append(f"You are close to {_the(n, near)}.")
    elif far:
        state.append(f"You are not close to {_the(n, far, 'or')}.")
    state.append(f"You are holding {_the(n, held)}." if held else "Your hands are empty.")
    if fun:
        on_table = [o for o in ("chips", "milk") if view[f"{o}_on_coffeetable"]]
        if on_table:
            items = _the(n, on_table)
            be = "is" if on_table == ["milk"] else "are"  # "the chips are"
            state.append(f"{items[0].upper()}{items[1:]} {be} on the {n['coffeetable']}.")
        if view["sitting"]:
            facing = f", facing the {n['tv']}" if view["is_face_tv"] else ""
            state.append(f"You are sitting on the {n['sofa']}{facing}.")
        if view["see_tv"]:
            state.append(f"The {n['tv']} is {'on' if view['is_tv_on'] else 'off'}.")
    elif view["see_microwave"]:
        door = "open" if view["is_microwave_open"] else "closed"
        state.append(f"The {n['microwave']} is {door}.")
    goal = VH_GOALS[view["task"]].format(**n)
    if variant == "goal-first":  # breaks principle 4; the slot stays open
        return " ".join([f"Your goal is to {goal}."] + state + ["Your next step is to"])
    if variant == "no-open-slot":  # breaks principle 1: a closed question, nothing to complete
        return " ".join(state + [f"In order to {goal}, what is your next step?"])
    return " ".join(state + [f"In order to {goal}, your next step is to"])


def virtualhome_action_texts(view, commands, variant="good"):
    """One phrase per simulator command, e.g. ("putin", "pancake", "microwave")."""
    check_variant(variant)
    n = _vh_names(view["task"])  # the actions keep the everyday names in every variant
    table = VH_TERSE if variant == "terse-actions" else VH_PHRASES
    return [table[verb].format(*(n[o] for o in objects)) for verb, *objects in commands]


if __name__ == "__main__":
    import textwrap
    # Two states written out by hand as their environments would describe them: Tomato Salad in
    # front of the cutting board holding the unchopped tomato, and Food Preparation next to the
    # closed microwave holding the pancake (the keys each view needs are listed above).
    tomato = {"task": "tomato", "foods": ("tomato",), "boards": 1, "on_table": ["plate"],
              "board_contents": [None], "at_board": 1,
              "held": {"name": "tomato", "chopped": False}}
    food = {"task": "food", "room": "kitchen", "sitting": False, "see_pancake": True,
            "close_to_pancake": True, "hold_pancake": True, "see_microwave": True,
            "close_to_microwave": True, "is_microwave_open": False, "pancake_in_microwave": False}
    food_commands = [("walk", "livingroom"), ("walk", "bathroom"), ("walk", "bedroom"),
                     ("walk", "pancake"), ("putin", "pancake", "microwave"), ("open", "microwave"),
                     ("close", "microwave")]  # what virtualhome_env offers in that state
    for variant in VARIANTS:
        print(f"=== {variant}" + {"good": "", "here-first": ": keeps all four, the room first",
                                  "clear": ": keeps all four, the room first, serve the salad",
                                  "serve-held": ": keeps all four, the room first, serve what is held (run.py's default)"}.get(
            variant, f": breaks principle {VARIANTS.index(variant)}"))
        texts = [(overcooked_prompt(tomato, variant), overcooked_action_texts(tomato, variant)),
                 (virtualhome_prompt(food, variant), virtualhome_action_texts(food, food_commands, variant))]
        for prompt, actions in texts:
            print(textwrap.fill(prompt, 96, initial_indent="  ", subsequent_indent="  "))
            # no-break spaces inside each phrase, so that a line breaks between phrases only
            line = " | ".join(a.replace(" ", "\u00a0") for a in actions)
            print(textwrap.fill(line, 96, initial_indent="    -> ", subsequent_indent="       ").replace("\u00a0", " "))

# Expected output:
# === good
#   There is one cutting board in the kitchen. You notice a bowl on the table. You stand in front
#   of the cutting board with an unchopped tomato in your hands. To make a tomato salad, you
#   should first
#     -> pick up the tomato | take the bowl | put the tomato on the cutting board | serve the dish
#        | chop nothing
#   There are four rooms: the kitchen, the bathroom, the bedroom and the living room. You are in
#   the kitchen. You notice the microwave. You are close to the microwave. You are holding the
#   pancake. The microwave is closed. In order to heat up the pancake in the microwave, your next
#   step is to
#     -> walk to the living room | walk to the bathroom | walk to the bedroom |
#        walk to the pancake | put the pancake in the microwave | open the microwave |
#        close the microwave
# === no-open-slot: breaks principle 1
#   There is one cutting board in the kitchen. You notice a bowl on the table. You stand in front
#   of the cutting board with an unchopped tomato in your hands. To make a tomato salad, what
#   should you do first?
#     -> pick up the tomato | take the bowl | put the tomato on the cutting board | serve the dish
#        | chop nothing
#   There are four rooms: the kitchen, the bathroom, the bedroom and the living room. You are in
#   the kitchen. You notice the microwave. You are close to the microwave. You are holding the
#   pancake. The microwave is closed. In order to heat up the pancake in the microwave, what is
#   your next step?
#     -> walk to the living room | walk to the bathroom | walk to the bedroom |
#        walk to the pancake | put the pancake in the microwave | open the microwave |
#        close the microwave
# === terse-actions: breaks principle 2
#   There is one cutting board in the kitchen. You notice a bowl on the table. You stand in front
#   of the cutting board with an unchopped tomato in your hands. To make a tomato salad, you
#   should first
#     -> tomato pick | bowl take | tomato on cutting board put | dish serve | nothing chop
#   There are four rooms: the kitchen, the bathroom, the bedroom and the living room. You are in
#   the kitchen. You notice the microwave. You are close to the microwave. You are holding the
#   pancake. The microwave is closed. In order to heat up the pancake in the microwave, your next
#   step is to
#     -> walk living room | walk bathroom | walk bedroom | walk pancake | putin pancake microwave
#        | open microwave | close microwave
# === mixed-names: breaks principle 3
#   There is one chopping block in the kitchen. You notice a plate on the table. You stand in
#   front of the chopping block with an unchopped tomato in your hands. To make a tomato salad,
#   you should first
#     -> pick up the tomato | take the dish | put the tomato on the cutting board | serve the dish
#        | chop nothing
#   There are four rooms: the kitchen, the bathroom, the bedroom and the living room. You are in
#   the kitchen. You notice the oven. You are close to the oven. You are holding the pancake. The
#   oven is closed. In order to heat up the pancake in the oven, your next step is to
#     -> walk to the living room | walk to the bathroom | walk to the bedroom |
#        walk to the pancake | put the pancake in the microwave | open the microwave |
#        close the microwave
# === goal-first: breaks principle 4
#   Your goal is to make a tomato salad. There is one cutting board in the kitchen. You notice a
#   bowl on the table. You stand in front of the cutting board with an unchopped tomato in your
#   hands. You should first
#     -> pick up the tomato | take the bowl | put the tomato on the cutting board | serve the dish
#        | chop nothing
#   Your goal is to heat up the pancake in the microwave. There are four rooms: the kitchen, the
#   bathroom, the bedroom and the living room. You are in the kitchen. You notice the microwave.
#   You are close to the microwave. You are holding the pancake. The microwave is closed. Your
#   next step is to
#     -> walk to the living room | walk to the bathroom | walk to the bedroom |
#        walk to the pancake | put the pancake in the microwave | open the microwave |
#        close the microwave
# === here-first: keeps all four, the room first
#   There is one cutting board in the kitchen. You notice a bowl on the table. You stand in front
#   of the cutting board with an unchopped tomato in your hands. To make a tomato salad, you
#   should first
#     -> pick up the tomato | take the bowl | put the tomato on the cutting board | serve the dish
#        | chop nothing
#   You are in the kitchen (the four rooms are the kitchen, the bathroom, the bedroom and the
#   living room). You notice the microwave. You are close to the microwave. You are holding the
#   pancake. The microwave is closed. In order to heat up the pancake in the microwave, your next
#   step is to
#     -> walk to the living room | walk to the bathroom | walk to the bedroom |
#        walk to the pancake | put the pancake in the microwave | open the microwave |
#        close the microwave
# === clear: keeps all four, the room first, serve the salad
#   There is one cutting board in the kitchen. You notice a bowl on the table. You stand in front
#   of the cutting board with an unchopped tomato in your hands. To make a tomato salad, you
#   should first
#     -> pick up the tomato | take the bowl | put the tomato on the cutting board |
#        serve the salad | chop nothing
#   You are in the kitchen (the four rooms are the kitchen, the bathroom, the bedroom and the
#   living room). You notice the microwave. You are close to the microwave. You are holding the
#   pancake. The microwave is closed. In order to heat up the pancake in the microwave, your next
#   step is to
#     -> walk to the living room | walk to the bathroom | walk to the bedroom |
#        walk to the pancake | put the pancake in the microwave | open the microwave |
#        close the microwave
# === serve-held: keeps all four, the room first, serve what is held
#   There is one cutting board in the kitchen. You notice a bowl on the table. You stand in front
#   of the cutting board with an unchopped tomato in your hands. To make a tomato salad, you
#   should first
#     -> pick up the tomato | take the bowl | put the tomato on the cutting board |
#        serve the unchopped tomato | chop nothing
#   You are in the kitchen (the four rooms are the kitchen, the bathroom, the bedroom and the
#   living room). You notice the microwave. You are close to the microwave. You are holding the
#   pancake. The microwave is closed. In order to heat up the pancake in the microwave, your next
#   step is to
#     -> walk to the living room | walk to the bathroom | walk to the bedroom |
#        walk to the pancake | put the pancake in the microwave | open the microwave |
#        close the microwave
