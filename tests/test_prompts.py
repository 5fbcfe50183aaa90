"""Ensure the prompts follow the four principles, per environment (paper: prompt design)."""
import pytest

import prompts


def test_unknown_variant_is_rejected():
    """An unknown ablation variant raises ValueError listing the known ones."""
    with pytest.raises(ValueError, match="no-open-slot"):
        prompts.check_variant("nonsense")


# >>> OVERCOOKED TESTS START
# <<< OVERCOOKED TESTS END


# >>> VIRTUALHOME TESTS START
# <<< VIRTUALHOME TESTS END
