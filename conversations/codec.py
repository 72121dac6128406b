"""Drafts: typed dataclasses in the code, plain JSON-able dicts in `user_data`.

PTB persistence stores `user_data` as JSON (bot/persistence.py). `dump` turns a draft into such a
dict; `load` turns one back, strictly: every field present, no other key, every value of its
declared type (str, int, float, bool, None, unions of them, lists, tuples, nested dataclasses).
A draft stored by another version of a conversation — a field added, renamed or retyped — loads
as None, and the conversation starts again instead of guessing. (To change what a field means,
rename it: old drafts are then refused.)
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

D = TypeVar("D")


class _Mismatch(Exception):
    """A stored value that does not fit the draft's declared shape."""


def dump(draft: Any) -> dict[str, Any]:
    """The draft as a dict of JSON values (tuples become lists)."""
    return {field.name: _plain(getattr(draft, field.name)) for field in dataclasses.fields(draft)}


def load(cls: type[D], data: object) -> D | None:
    """The draft stored in `data`, or None if it was stored in another shape (or not at all)."""
    try:
        return _dataclass(cls, data)
    except _Mismatch:
        return None


def _plain(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dump(value)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _dataclass(cls: type[D], data: object) -> D:
    if not isinstance(data, dict):
        raise _Mismatch
    hints = get_type_hints(cls)
    names = [field.name for field in dataclasses.fields(cls)]  # type: ignore[arg-type]
    if set(data) != set(names):
        raise _Mismatch
    return cls(**{name: _value(hints[name], data[name]) for name in names})


def _value(hint: Any, value: object) -> Any:
    origin = get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        for option in get_args(hint):
            try:
                return _value(option, value)
            except _Mismatch:
                continue
        raise _Mismatch
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _dataclass(hint, value)
    if origin is list and isinstance(value, list):
        (item,) = get_args(hint)
        return [_value(item, each) for each in value]
    if origin is tuple and isinstance(value, list):
        items = get_args(hint)
        if len(items) == 2 and items[1] is Ellipsis:
            return tuple(_value(items[0], each) for each in value)
        if len(items) != len(value):
            raise _Mismatch
        return tuple(_value(item, each) for item, each in zip(items, value, strict=True))
    if _fits(hint, value):
        return float(value) if hint is float else value  # type: ignore[arg-type]
    raise _Mismatch


def _fits(hint: Any, value: object) -> bool:
    """Whether a JSON scalar is of the declared scalar type (a bool is no number here)."""
    if hint is type(None):
        return value is None
    if isinstance(value, bool):
        return hint is bool
    if hint is float:
        return isinstance(value, int | float)
    return hint in (int, str) and isinstance(value, hint)
