"""Read the strategy snapshot of a format-1 journal without unpickling it.

Format 1 stored the snapshot with ``pickle``, and ``pickle.loads`` runs whatever code the bytes name,
so a run directory from someone else could execute code on resume. The snapshots hiernas wrote hold
plain data only (a dict of numbers, strings, None, lists, tuples and bytes), and a pickle of plain
data is a short program over a handful of opcodes. This module walks those opcodes with
``pickletools.genops`` (a disassembler: it parses, it never executes) and builds the values itself.
Any opcode that would look up or call something (GLOBAL, REDUCE, BUILD, NEWOBJ, ...) is refused, so
no byte of the blob can reach code.
"""

from __future__ import annotations

import pickletools
from typing import Any


class NotPlainData(ValueError):
    """The blob is not a pickle of plain data; it was not (and will not be) loaded."""


_PUSH = {
    "NONE": lambda arg: None,
    "NEWTRUE": lambda arg: True,
    "NEWFALSE": lambda arg: False,
    "EMPTY_DICT": lambda arg: {},
    "EMPTY_LIST": lambda arg: [],
    "EMPTY_TUPLE": lambda arg: (),
}
_SCALARS = {
    "BININT",
    "BININT1",
    "BININT2",
    "LONG1",
    "LONG4",
    "BINFLOAT",
    "SHORT_BINUNICODE",
    "BINUNICODE",
    "BINUNICODE8",
    "SHORT_BINBYTES",
    "BINBYTES",
    "BINBYTES8",
}
_IGNORED = {"PROTO", "FRAME"}


def read_plain_pickle(blob: bytes) -> Any:
    """The value a pickle of plain data stands for; ``NotPlainData`` for anything else."""
    stack: list[Any] = []
    marks: list[int] = []
    memo: dict[int, Any] = {}

    def since_mark() -> list[Any]:
        if not marks:
            raise NotPlainData("a MARK is missing")
        start = marks.pop()
        items = stack[start:]
        del stack[start:]
        return items

    try:
        for opcode, arg, _position in pickletools.genops(blob):
            name = opcode.name
            if name in _IGNORED:
                continue
            if name in _SCALARS:
                stack.append(arg)
            elif name in _PUSH:
                stack.append(_PUSH[name](arg))
            elif name == "MARK":
                marks.append(len(stack))
            elif name == "MEMOIZE":
                memo[len(memo)] = stack[-1]
            elif name in ("BINPUT", "LONG_BINPUT"):
                memo[arg] = stack[-1]
            elif name in ("BINGET", "LONG_BINGET"):
                stack.append(memo[arg])
            elif name == "APPEND":
                value = stack.pop()
                _list(stack[-1]).append(value)
            elif name == "APPENDS":
                items = since_mark()
                _list(stack[-1]).extend(items)
            elif name == "SETITEM":
                value, key = stack.pop(), stack.pop()
                _dict(stack[-1])[_key(key)] = value
            elif name == "SETITEMS":
                items = since_mark()
                target = _dict(stack[-1])
                for i in range(0, len(items) - 1, 2):
                    target[_key(items[i])] = items[i + 1]
            elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
                n = int(name[-1])
                items = stack[-n:]
                del stack[-n:]
                stack.append(tuple(items))
            elif name == "TUPLE":
                stack.append(tuple(since_mark()))
            elif name == "STOP":
                if len(stack) != 1:
                    raise NotPlainData("the pickle does not end with one value")
                return stack[0]
            else:
                raise NotPlainData(f"it uses the {name} opcode, which refers to code")
    except NotPlainData:
        raise
    except (ValueError, IndexError, KeyError, TypeError) as error:
        raise NotPlainData(f"it is not a well-formed pickle ({error})") from None
    raise NotPlainData("the pickle has no STOP opcode")


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise NotPlainData("APPEND to something that is not a list")
    return value


def _dict(value: Any) -> dict[Any, Any]:
    if not isinstance(value, dict):
        raise NotPlainData("SETITEM on something that is not a dict")
    return value


def _key(value: Any) -> Any:
    if not isinstance(value, str | int | float | bool | tuple | bytes) and value is not None:
        raise NotPlainData("a dict key that is not a plain value")
    return value
