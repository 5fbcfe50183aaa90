"""Ensure the prompts follow the four principles, per environment (paper: prompt design)."""
import pytest

import prompts
import virtualhome_env  # builds the VirtualHome views (13 or 24 keys each)


def test_unknown_variant_is_rejected():
    """An unknown ablation variant raises ValueError listing the known ones."""
    with pytest.raises(ValueError, match="no-open-slot"):
        prompts.check_variant("nonsense")


# ---- Overcooked
TOMATO_RESET = {"task": "tomato", "foods": ("tomato",), "boards": 1, "on_table": ["tomato"],
                "board_contents": [None], "at_board": 0, "held": None}
# Tomato-Lettuce, in front of board 1 with a bowl of chopped tomato, chopped lettuce on board 2.
BOWL_IN_HAND = {"task": "tomato-lettuce", "foods": ("tomato", "lettuce", "onion"), "boards": 2,
                "on_table": ["onion"], "at_board": 1,
                "board_contents": [None, {"name": "lettuce", "chopped": True}],
                "held": {"name": "plate", "contents": ["tomato"]}}
OVERCOOKED_VIEWS = [TOMATO_RESET, BOWL_IN_HAND]
VERBS = ("pick", "put", "take", "walk", "serve", "chop")


def test_overcooked_golden_prompt():
    """The Tomato Salad reset prompt and its five action phrases, word for word."""
    assert prompts.overcooked_prompt(TOMATO_RESET) == (
        "There is one cutting board in the kitchen. You notice a tomato on the table. "
        "You stand away from the cutting board with nothing in your hands. "
        "To make a tomato salad, you should first")
    assert prompts.overcooked_action_texts(TOMATO_RESET) == [
        "pick up the tomato", "take the bowl", "walk to the cutting board", "serve nothing",
        "chop nothing"]


def test_overcooked_action_names_follow_the_state():
    """The phrase table: serve/chop/put names change with what is held and where."""
    assert prompts.overcooked_action_texts(BOWL_IN_HAND) == [
        "put the tomato in the bowl", "put the lettuce in the bowl", "put the onion in the bowl",
        "take the bowl", "put the bowl on the first cutting board",
        "put the bowl on the second cutting board", "serve the dish", "chop nothing"]
    chopped_in_hand = dict(BOWL_IN_HAND, at_board=2, held={"name": "tomato", "chopped": True},
                           on_table=["plate"])
    texts = prompts.overcooked_action_texts(chopped_in_hand)
    # quirks kept: "walk to" while holding chopped food, "chop" names an already chopped food
    assert texts[3:] == ["take the empty bowl", "walk to the first cutting board",
                         "walk to the second cutting board", "serve the dish", "chop the lettuce"]
    raw_in_hand = dict(TOMATO_RESET, held={"name": "tomato", "chopped": False}, on_table=[])
    assert prompts.overcooked_action_texts(raw_in_hand)[1:3] == [
        "take the bowl", "put the tomato on the cutting board"]  # Tomato Salad never says "empty"


@pytest.mark.parametrize("view", OVERCOOKED_VIEWS)
def test_overcooked_open_slot(view):
    """Principle 1: "good" ends in an open continuation; "no-open-slot" closes it."""
    good = prompts.overcooked_prompt(view)
    assert good.endswith("you should first")
    closed = prompts.overcooked_prompt(view, "no-open-slot")
    assert closed.endswith("?")
    assert closed.split(". ")[:-1] == good.split(". ")[:-1]  # same state sentences
    assert prompts.overcooked_action_texts(view, "no-open-slot") == (
        prompts.overcooked_action_texts(view))


@pytest.mark.parametrize("view", OVERCOOKED_VIEWS)
def test_overcooked_natural_action_phrases(view):
    """Principle 2: "good" phrases are verb phrases with articles; "terse-actions" are not."""
    for text in prompts.overcooked_action_texts(view):
        assert text.split()[0] in VERBS and ("the " in text or text.endswith("nothing"))
    for text in prompts.overcooked_action_texts(view, "terse-actions"):
        assert "the " not in text and text.split()[0] not in VERBS
    assert prompts.overcooked_prompt(view, "terse-actions") == prompts.overcooked_prompt(view)


def test_overcooked_one_name_per_object():
    """Principle 3: "good" calls the plate "bowl" everywhere; "mixed-names" mixes names."""
    good = prompts.overcooked_prompt(BOWL_IN_HAND) + " ".join(
        prompts.overcooked_action_texts(BOWL_IN_HAND))
    assert "bowl" in good and "plate" not in good and "chopping block" not in good
    mixed_prompt = prompts.overcooked_prompt(BOWL_IN_HAND, "mixed-names")
    mixed_actions = " ".join(prompts.overcooked_action_texts(BOWL_IN_HAND, "mixed-names"))
    assert "plate" in mixed_prompt and "bowl" not in mixed_prompt
    assert "chopping block" in mixed_prompt and "cutting board" in mixed_actions
    assert "bowl" in mixed_actions and "dish" in mixed_actions and "plate" not in mixed_actions


@pytest.mark.parametrize("view", OVERCOOKED_VIEWS)
def test_overcooked_goal_last(view):
    """Principle 4: "good" states the goal last; "goal-first" opens with it, slot still open."""
    good = prompts.overcooked_prompt(view).split(". ")
    assert "salad" in good[-1] and not any("salad" in s for s in good[:-1])
    first = prompts.overcooked_prompt(view, "goal-first").split(". ")
    assert "salad" in first[0] and not any("salad" in s for s in first[1:])
    assert first[1:-1] == good[:-1]  # same state sentences, in the same order
    assert first[-1][-1].isalpha()


# ---- VirtualHome

# Named states: (task, action ids played from reset).
VH_STATES = {"food reset": ("food", []), "near microwave": ("food", [5]),
             "pancake inside": ("food", [4, 6, 5, 8, 7]), "fun reset": ("entertainment", []),
             "near TV": ("entertainment", [0, 7]),
             "at table": ("entertainment", [4, 9, 5, 10, 0, 6]),
             "chips on table": ("entertainment", [4, 9, 5, 10, 0, 6, 11]),
             "by the sofa": ("entertainment", [4, 9, 5, 10, 0, 6, 11, 7, 13, 8]),
             "sitting": ("entertainment", [0, 7, 13, 8, 15])}


def vh_text(state, variant="good"):
    """(prompt, action phrases) built by prompts.py from the env's view of a named state, or of
    a renamed task after [4, 6, 5] (holding its object, next to its appliance)."""
    task, plan = VH_STATES[state] if state in VH_STATES else (state, [4, 6, 5])
    env = virtualhome_env.VirtualHomeEnv(task)
    env.reset()
    for a in plan:
        env.step(a)
    view = env.view()
    commands = [env.actions[i] for i in virtualhome_env.valid_actions(view)]
    return (prompts.virtualhome_prompt(view, variant),
            prompts.virtualhome_action_texts(view, commands, variant))


def test_virtualhome_golden_prompts():
    """Food Preparation's and Entertainment's reset prompts and phrases, word for word."""
    rooms = "There are four rooms: the kitchen, the bathroom, the bedroom and the living room. "
    assert vh_text("food reset") == (
        rooms + "You are in the kitchen. You notice the pancake and the microwave. You are not "
        "close to the pancake or the microwave. Your hands are empty. The microwave is closed. "
        "In order to heat up the pancake in the microwave, your next step is to",
        ["walk to the living room", "walk to the bathroom", "walk to the bedroom",
         "walk to the pancake", "walk to the microwave"])
    assert vh_text("fun reset")[0] == (
        rooms + "You are in the kitchen. You notice the chips and the milk. You are not close to "
        "the chips or the milk. Your hands are empty. In order to enjoy the chips and the milk "
        "while watching TV, your next step is to")
    assert vh_text("by the sofa")[0].endswith(
        "You are close to the sofa, but not to the chips, the coffee table or the TV. You are "
        "holding the milk. The chips are on the coffee table. The TV is on. In order to enjoy "
        "the chips and the milk while watching TV, your next step is to")
    assert "Your hands are empty. You are sitting on the sofa, facing the TV. The TV is on." in (
        vh_text("sitting")[0])


def test_virtualhome_principle_1_open_slot():
    """Good prompts end in "your next step is to"; "no-open-slot" ends in a question."""
    for state in VH_STATES:
        assert vh_text(state)[0].endswith(", your next step is to")
        assert vh_text(state, "goal-first")[0].endswith("Your next step is to")
        assert vh_text(state, "no-open-slot")[0].endswith("what is your next step?")


def test_virtualhome_principle_2_natural_phrases():
    """Good phrases are verb phrases with articles; "terse-actions" drops every article."""
    for state in VH_STATES:
        good, terse = vh_text(state)[1], vh_text(state, "terse-actions")[1]
        assert all(" the " in p or p == "stand up" for p in good)
        assert not any("the" in p.split() for p in terse) and len(terse) == len(good)
    terse = vh_text("pancake inside", "terse-actions")[1]
    assert terse[-2:] == ["open microwave", "close microwave"]
    assert "put the chips on the coffee table" in vh_text("at table")[1]
    assert "putback chips coffee table" in vh_text("at table", "terse-actions")[1]


def test_virtualhome_principle_3_one_name_per_object():
    """Good: each object in the phrases has the same name in the prompt; "mixed-names" differs."""
    for state in VH_STATES:
        prompt, phrases = vh_text(state)
        for name in set(prompts.VH_NAMES.values()):
            if any(f"the {name}" in p for p in phrases):
                assert f"the {name}" in prompt, (state, name)
    prompt, phrases = vh_text("near microwave", "mixed-names")
    assert "oven" in prompt and "microwave" not in prompt and "open the microwave" in phrases
    prompt, phrases = vh_text("near TV", "mixed-names")
    assert "television" in prompt and "TV" not in prompt and "turn on the TV" in phrases


def test_virtualhome_principle_4_goal_last():
    """Good prompts state the world first and the goal last; "goal-first" opens with the goal."""
    for state in VH_STATES:
        good, first = vh_text(state)[0], vh_text(state, "goal-first")[0]
        assert good.startswith("There are four rooms")
        assert good.index("You are in") < good.index("In order to")
        assert first.startswith("Your goal is to ") and "In order to" not in first


def test_virtualhome_variants_break_only_their_principle():
    """Each variant changes only its own part: phrases, names, the ending or the goal's place."""
    for state in VH_STATES:
        prompt, phrases = vh_text(state)
        state_part = prompt[:prompt.index(" In order to")]
        assert vh_text(state, "terse-actions")[0] == prompt
        for variant in ("no-open-slot", "mixed-names", "goal-first"):
            assert vh_text(state, variant)[1] == phrases
        assert vh_text(state, "no-open-slot")[0].startswith(state_part)
        assert state_part in vh_text(state, "goal-first")[0]


@pytest.mark.parametrize("task, thing, place", [
    ("cheese", "cheese", "microwave"), ("hamburger", "hamburger", "microwave"),
    ("apple-pie", "apple pie", "microwave"), ("pizza", "pizza", "microwave"),
    ("washing-plate", "dishes", "dishwasher"), ("laundry", "clothes", "washing machine")])
def test_virtualhome_renamed_tasks_use_their_names(task, thing, place):
    """Unseen tasks rename the pancake and microwave everywhere, goal clause included."""
    prompt, phrases = vh_text(task)  # holding the object, next to the appliance
    assert f"You are holding the {thing}." in prompt and f"The {place} is closed." in prompt
    assert f"put the {thing} in the {place}" in phrases and "pancake" not in prompt + str(phrases)
    verb = "wash" if task in ("washing-plate", "laundry") else "heat up"
    assert prompt.endswith(f"In order to {verb} the {thing} in the {place}, your next step is to")


def test_here_first_only_moves_the_room():
    """"here-first" says the same as "good" with the agent's room before the list of rooms:
    VirtualHome's first two sentences become one, the rest and the phrases are unchanged;
    Overcooked's text is "good"'s."""
    for state in VH_STATES:
        (prompt, phrases), (moved, moved_phrases) = vh_text(state), vh_text(state, "here-first")
        rooms, here, rest = prompt.split(". ", 2)
        assert rooms == "There are four rooms: the kitchen, the bathroom, the bedroom and the living room"
        assert moved == f"{here} (the four rooms are {rooms.split(': ')[1]}). {rest}" and moved_phrases == phrases
    for view in OVERCOOKED_VIEWS:
        assert prompts.overcooked_prompt(view, "here-first") == prompts.overcooked_prompt(view)
        assert prompts.overcooked_action_texts(view, "here-first") == prompts.overcooked_action_texts(view)


def test_clear_is_here_first_serving_the_salad():
    """"clear" is "here-first" (VirtualHome's text word for word) except that an Overcooked agent
    holding something is offered "serve the salad", the goal's word, for "serve the dish"."""
    for state in VH_STATES:
        assert vh_text(state, "clear") == vh_text(state, "here-first")
    empty_handed = dict(BOWL_IN_HAND, held=None)
    raw_in_hand = dict(TOMATO_RESET, held={"name": "tomato", "chopped": False}, on_table=[])
    for view in (*OVERCOOKED_VIEWS, empty_handed, raw_in_hand):
        assert prompts.overcooked_prompt(view, "clear") == prompts.overcooked_prompt(view)
        good, clear = prompts.overcooked_action_texts(view), prompts.overcooked_action_texts(view, "clear")
        serve = "serve the salad" if view["held"] else "serve nothing"
        assert clear == [serve if text.startswith("serve") else text for text in good]
    assert "serve the salad" in prompts.overcooked_action_texts(BOWL_IN_HAND, "clear")


def test_serve_held_names_what_would_be_served():
    """"serve-held" is "here-first" except that the serve slot names what the agent holds in the
    observation's own words, so the finished salad and a raw tomato get different phrases."""
    for state in VH_STATES:
        assert vh_text(state, "serve-held") == vh_text(state, "here-first")
    cases = {None: "serve nothing",
             ("tomato", False): "serve the unchopped tomato", ("lettuce", True): "serve the chopped lettuce",
             ("plate", ()): "serve the bowl", ("plate", ("tomato", "lettuce")): "serve the bowl of chopped tomato and lettuce"}
    for held, serve in cases.items():
        thing = None if held is None else ({"name": "plate", "contents": list(held[1])} if held[0] == "plate"
                                           else {"name": held[0], "chopped": held[1]})
        view = dict(BOWL_IN_HAND, held=thing, at_board=0)
        assert prompts.overcooked_prompt(view, "serve-held") == prompts.overcooked_prompt(view)
        good, named = prompts.overcooked_action_texts(view), prompts.overcooked_action_texts(view, "serve-held")
        assert named == [serve if text.startswith("serve") else text for text in good]
        if thing is not None:  # the phrase's object is what the prompt says is in the agent's hands
            assert f"with {serve.replace('serve the ', 'a ').replace('a unchopped', 'an unchopped')} in your hands" \
                in prompts.overcooked_prompt(view)
