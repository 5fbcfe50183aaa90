"""All the text the LLM reads: observation -> prompt, valid action phrases, ablation variants.

Implements: TWOSOME (Tan et al., ICLR 2024, arXiv 2401.14151), the four prompt-design
principles, for both environments:
  1. the observation prompt ends in an open sentence that the action phrase completes;
  2. action phrases are natural verb phrases with articles ("pick up the tomato");
  3. each object keeps one everyday name in observation and action text;
  4. the state comes first, the goal last, right before the action slot.
For the prompt ablation every environment also has one variant per broken principle,
selected by name from VARIANTS ("good" is the default, the others break 1, 2, 3 or 4).

The environments call these functions with a plain dict describing what the agent sees (the
"view"); nothing here knows about simulators, tokens or models.
Try it: python prompts.py
"""

# Prompt variants for the ablation: "good" follows all four principles, each other name
# breaks exactly one of them (its number in the docstring above).
VARIANTS = ("good", "no-open-slot", "terse-actions", "mixed-names", "goal-first")


def check_variant(variant):
    if variant not in VARIANTS:
        raise ValueError(f"unknown prompt variant {variant!r}; known: {', '.join(VARIANTS)}")


# ---------------------------------------------------------------------------------------------
# Overcooked (Tomato Salad, Tomato-Lettuce Salad)
# ---------------------------------------------------------------------------------------------
# >>> OVERCOOKED SECTION START
# <<< OVERCOOKED SECTION END


# ---------------------------------------------------------------------------------------------
# VirtualHome (Food Preparation, Entertainment, and the renamed unseen tasks)
# ---------------------------------------------------------------------------------------------
# >>> VIRTUALHOME SECTION START
# <<< VIRTUALHOME SECTION END
