"""Limits on the JSON the service accepts and stores, and on names AWS gives us (pure)."""

from __future__ import annotations

from typing import Any

# Deeper documents are refused (400 for a request, ResultTooDeep for a task result): every
# response embeds stored JSON a few levels down, and serialisers have depth limits of their own.
MAX_JSON_DEPTH = 64

# State machines are named <prefix><hash>: Step Functions allows 80 characters.
DEFAULT_STATE_MACHINE_PREFIX = "orch-"
STATE_MACHINE_HASH_LENGTH = 40
MAX_STATE_MACHINE_NAME = 80
MAX_STATE_MACHINE_PREFIX = MAX_STATE_MACHINE_NAME - STATE_MACHINE_HASH_LENGTH


def json_depth(value: Any) -> int:
    """Nesting depth of a JSON value (a scalar is 0, ``[]`` or ``{}`` is 1). Iterative."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            deepest = max(deepest, depth)
            continue
        deepest = max(deepest, depth + 1)
        stack.extend((child, depth + 1) for child in children)
    return deepest
