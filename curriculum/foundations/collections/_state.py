"""Pickle/copy state of our containers without their private storage slots."""

from __future__ import annotations

from typing import Any


def user_state(obj: object, internal: frozenset[str]) -> Any:
    """``obj``'s ``__getstate__()`` minus the slots that hold the container's own storage.

    The storage (ring buffer, linked list) travels as the items of ``__reduce__``; pickling it a
    second time as state would also restore a stale copy over the rebuilt one. What is left is
    whatever a subclass or user added: its ``__dict__`` and its own ``__slots__``.
    """
    state = obj.__getstate__()
    if not isinstance(state, tuple):
        return state or None
    attributes, slots = state
    slots = {name: value for name, value in slots.items() if name not in internal}
    if slots:
        return attributes, slots
    return attributes or None
