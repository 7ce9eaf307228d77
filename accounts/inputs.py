"""Checks on what clients send, made where the input is read: text PostgreSQL can store, JSON of
bounded nesting. A failed check raises `BadInput`, which the entry points answer 400 with its
message (config.errors), instead of the database refusing the value later with a 500.

PostgreSQL text cannot hold NUL (U+0000), and UTF-8 cannot encode an unpaired surrogate
(U+D800-U+DFFF, which JSON's \\ud800 escapes can produce): both are refused, with the field named.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Deeper JSON than any request of ours needs; json.loads itself recurses and would fail at ~1,000.
MAX_JSON_DEPTH = 32
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class BadInput(ValueError):
    """The client sent something we refuse; the message says what and where."""


def text_problem(value: str) -> str:
    """Why `value` cannot be stored as text ('' when it can)."""
    found = _UNSTORABLE.search(value)
    if found is None:
        return ""
    return "a NUL character" if found.group() == "\x00" else "an unpaired surrogate (invalid Unicode)"


def check_text(value: str, *, field: str) -> str:
    """`value`, or BadInput naming `field` when it holds a character text cannot store."""
    problem = text_problem(value)
    if problem:
        raise BadInput(f"`{field}` contains {problem}, which is not allowed in text.")
    return value


def check_tree(data: Any, *, where: str = "body", max_depth: int = MAX_JSON_DEPTH) -> Any:
    """`data` (parsed JSON) when every key and string in it is storable text and it nests at most
    `max_depth` levels; BadInput otherwise. Iterative, so any depth is checked without recursion."""
    stack: list[tuple[Any, str, int]] = [(data, where, 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            check_text(value, field=path)
        elif isinstance(value, (dict, list)):
            if depth > max_depth:
                raise BadInput(f"The JSON {where} nests deeper than {max_depth} levels.")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str):
                    check_text(key, field=f"{path} key")
                name = f"{path}[{key}]" if not isinstance(key, str) else key if depth == 1 else f"{path}.{key}"
                stack.append((item, name, depth + 1))
    return data


def json_loads_checked(raw: bytes | str, *, where: str = "body") -> Any:
    """Parse a JSON request body and check it with `check_tree`; BadInput for invalid JSON, nesting
    too deep for the parser, or text that cannot be stored."""
    try:
        data = json.loads(raw)
    except RecursionError:
        raise BadInput(f"The JSON {where} nests deeper than {MAX_JSON_DEPTH} levels.") from None
    except ValueError as exc:  # JSONDecodeError, and bytes that are not UTF-8
        raise BadInput(f"The {where} is not valid JSON: {exc}") from None
    return check_tree(data, where=where)
