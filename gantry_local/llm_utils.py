"""Gantry's ``gantry.applications.llm_utils``: filling a prompt template's ``{{variables}}``."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from ._limits import shown
from ._names import is_valid_text
from .errors import ValidationError

__all__ = ["PROMPT_INPUT_REGEX", "fill_prompt"]

_logger = logging.getLogger(__name__)

PROMPT_INPUT_REGEX = re.compile(r"\{\{([^\}\{]+)\}\}")


def _get_prompt_inputs(prompt: str) -> list[str]:
    """The distinct ``{{variable}}`` names of `prompt`, in order of first appearance."""
    return list(dict.fromkeys(PROMPT_INPUT_REGEX.findall(prompt)))


def fill_prompt(prompt: str, values: Mapping[str, str], strict: bool = False) -> str:
    """Fill a prompt template's ``{{key}}`` variables with `values`, as Gantry did.

    Every ``{{key}}`` of a given key is replaced by its value (the value as written: no
    escapes are read in it). When a key fills nothing, or a variable stays unfilled, the
    message "Prompt '...' was not fully filled. Unused keys: [...]. Unfilled keys: [...]."
    is logged as a warning, or raised when `strict`.

    Example:
        >>> fill_prompt("This is a prompt template. {{input1}} {{input2}}",
        ...             {"input1": "foo", "input2": "bar"})
        'This is a prompt template. foo bar'

    Raises:
        ValidationError: (a `ValueError`) with `strict`, a prompt not fully filled; or a
            prompt that is not a string, or values that are not a dict of strings.
    """
    if not isinstance(prompt, str) or not is_valid_text(prompt):
        raise ValidationError(f"prompt must be a string of valid Unicode, got {shown(prompt)}")
    if not isinstance(values, Mapping):
        raise ValidationError(f"values must be a dict of variable names to strings, got "
                              f"{shown(values)}")
    for key, value in values.items():
        if not isinstance(key, str) or not isinstance(value, str) or not is_valid_text(value):
            raise ValidationError(f"values must map variable names to strings (convert others "
                                  f"with str()), got {shown(key)}: {shown(value)}")
    if not isinstance(strict, bool):
        raise ValidationError(f"strict must be True or False, got {shown(strict)}")
    unused_keys = []
    for key, value in values.items():
        marker = "{{" + key + "}}"
        if marker not in prompt:
            unused_keys.append(key)
        prompt = prompt.replace(marker, value)
    unfilled_keys = _get_prompt_inputs(prompt)
    if unused_keys or unfilled_keys:
        message = (f"Prompt {prompt!r} was not fully filled. Unused keys: {unused_keys}. "
                   f"Unfilled keys: {unfilled_keys}.")
        if strict:
            raise ValidationError(message)
        _logger.warning(message)
    return prompt
