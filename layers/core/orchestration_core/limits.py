"""Limits on the JSON the service accepts and stores (pure)."""

from __future__ import annotations

from typing import Any

# Deeper documents are refused (400 for a request, ResultTooDeep for a task result): every
# response embeds stored JSON a few levels down, and serialisers have depth limits of their own.
MAX_JSON_DEPTH = 64


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
