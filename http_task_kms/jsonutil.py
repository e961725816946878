"""Strict JSON: what every parser here uses for text from outside.

Python's :func:`json.loads` accepts ``NaN`` and ``Infinity`` (not JSON), turns ``1e400``
into an infinity, keeps the last of two equal keys, passes ``"\\ud800"`` through as a
lone surrogate (not Unicode: it cannot be encoded, printed or sent), and raises
RecursionError on deeply nested input. :func:`loads` refuses every one of these with a
:class:`StrictJSONError` (a :class:`json.JSONDecodeError`, so a ``ValueError``) whose
``rule`` names the rule broken, so that what parses here also prints, redacts and
serialises without surprises. :func:`describe` turns any decode error into one sentence
naming the rule and the place.
"""

from __future__ import annotations

import functools
import json
import math
import re
import threading
from collections.abc import Callable, Iterator
from functools import cached_property
from typing import Any, Final

from .config import MAX_JSON_DEPTH

__all__ = [
    "MAX_DEPTH",
    "Document",
    "RepeatedKeys",
    "StrictJSONError",
    "describe",
    "dumps",
    "is_plain",
    "loads",
    "surrogates",
]

#: Deepest nesting accepted (key policies and AWS answers are a few levels deep).
MAX_DEPTH: Final = MAX_JSON_DEPTH

PairsHook = Callable[[list[tuple[str, Any]]], Any]

# A string token, or a number token: numbers are found outside strings only.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?', re.DOTALL)
_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|.)", re.DOTALL)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_RAW_SURROGATE = re.compile(r"[\ud800-\udfff]")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class StrictJSONError(json.JSONDecodeError):
    """Text refused by a strict rule: ``rule`` is one of ``constant`` (NaN, Infinity),
    ``number-range`` (overflows to infinity, or too many digits), ``duplicate-key``,
    ``lone-surrogate`` and ``depth``; ``path`` is a JSONPath when the rule has one.
    """

    def __init__(self, rule: str, msg: str, doc: str, pos: int | None, *, path: str | None = None) -> None:
        super().__init__(msg, doc, pos or 0)
        self.rule = rule
        self.path = path
        self.positioned = pos is not None

    def __reduce__(self) -> Any:  # JSONDecodeError's pickles the wrong arguments for a subclass
        return (_rebuild, (self.rule, self.msg, self.doc, self.pos if self.positioned else None, self.path))


def _rebuild(rule: str, msg: str, doc: str, pos: int | None, path: str | None) -> StrictJSONError:
    return StrictJSONError(rule, msg, doc, pos, path=path)


class _Refused(Exception):
    """An internal signal out of the C scanner's hooks (turned into a StrictJSONError)."""

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(detail)
        self.rule, self.detail = rule, detail


def _no_constant(name: str) -> Any:
    raise _Refused("constant", name)


def _finite_float(token: str) -> float:
    value = float(token)
    if math.isinf(value):
        raise _Refused("number-range", token)
    return value


class _Marked(dict[str, Any]):
    """An object that had a repeated key (only built to find where, after a refusal)."""

    duplicate: str | None = None


def _marking_pairs(pairs: list[tuple[str, Any]]) -> _Marked:
    result = _Marked()
    for key, value in pairs:
        if key in result and result.duplicate is None:
            result.duplicate = key
        result[key] = value
    return result


def _unique_pairs(hook: PairsHook | None) -> PairsHook:
    def unique(pairs: list[tuple[str, Any]]) -> Any:
        value = dict(pairs)
        if len(value) != len(pairs):
            raise _Refused("duplicate-key", "")
        return value if hook is None else hook(pairs)

    return unique


@functools.lru_cache(maxsize=64)
def _decoder(object_pairs_hook: PairsHook | None, allow_duplicate_keys: bool) -> json.JSONDecoder:
    """The strict decoder for a hook, made once (a decoder costs more to make than a small parse)."""
    hook = object_pairs_hook if allow_duplicate_keys else _unique_pairs(object_pairs_hook)
    return json.JSONDecoder(object_pairs_hook=hook, parse_constant=_no_constant, parse_float=_finite_float)


def loads(
    text: str,
    *,
    object_pairs_hook: PairsHook | None = None,
    allow_duplicate_keys: bool = False,
) -> Any:
    """Parse strict JSON; raise :class:`json.JSONDecodeError` for anything else.

    ``allow_duplicate_keys`` lets ``object_pairs_hook`` see repeated keys (the policy
    linter reports each one as a finding); by default a repeated key is an error.
    """
    if text.startswith("\ufeff"):  # what json.loads says (a decoder's decode does not check)
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    try:
        value = _decoder(object_pairs_hook, allow_duplicate_keys).decode(text)
    except RecursionError:
        raise _too_deep_error(text) from None
    except _Refused as refused:
        raise _refusal(refused, text) from None
    except json.JSONDecodeError:
        raise
    except ValueError as exc:
        if "digits" not in str(exc):  # not int()'s sys.get_int_max_str_digits() limit
            raise
        raise _number_error(text, "has too many digits") from None
    if _could_be_too_deep(text) and _too_deep(value, MAX_DEPTH):
        raise _too_deep_error(text)
    if ("\\u" in text and _SURROGATE_ESCAPE.search(text)) or (
        not text.isascii() and _RAW_SURROGATE.search(text)
    ):  # cheap tests first: most text has neither
        _check_surrogates(text)
    return value


class RepeatedKeys(dict[str, Any]):
    """An object of a :class:`Document` whose text repeated a key: ``repeated`` names them.

    The value kept for a repeated key is the last one (what Python's parser keeps).
    """

    repeated: tuple[str, ...] = ()


class Document:
    """A JSON text and its strict parse, made at most once and shared by every check of a request.

    :meth:`value` parses with :func:`loads`'s rules, except that a repeated key is kept (the
    object becomes a :class:`RepeatedKeys`, and :attr:`has_repeated_keys` is True) so that a
    linter can report each one with its place; every other rule raises, every time it is asked.
    """

    def __init__(self, text: str, *, parsed: Any = None) -> None:
        """``parsed``: the plain JSON data ``text`` was written from (see :func:`is_plain`), when
        the caller has it — its parse would give it back, so none is made."""
        self.text = text
        self.has_repeated_keys = False
        if parsed is not None:
            self.__dict__["_parsed"] = (parsed, None)  # fills the cached_property

    def value(self) -> Any:
        """The parsed document; raises the :class:`json.JSONDecodeError` of a text it refuses."""
        parsed, error = self._parsed
        if error is not None:
            raise error
        return parsed

    @cached_property
    def _parsed(self) -> tuple[Any, json.JSONDecodeError | None]:
        _repeats.count = 0
        try:
            value = loads(self.text, object_pairs_hook=_marking_repeats, allow_duplicate_keys=True)
        except json.JSONDecodeError as exc:
            return None, exc
        self.has_repeated_keys = _repeats.count > 0
        return value, None


_repeats = threading.local()  # how many objects of the document being parsed repeated a key


def _marking_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) == len(pairs):
        return value
    _repeats.count += 1
    marked, repeated = RepeatedKeys(), list[str]()
    for key, item in pairs:
        if key in marked and key not in repeated:
            repeated.append(key)
        marked[key] = item
    marked.repeated = tuple(repeated)
    return marked


def _too_deep_error(text: str) -> StrictJSONError:
    return StrictJSONError(
        "depth", f"nested more than {MAX_DEPTH} levels deep (the limit for JSON read here)", text, None
    )


def _refusal(refused: _Refused, text: str) -> StrictJSONError:
    if refused.rule == "constant":
        name = refused.detail
        return StrictJSONError(
            "constant",
            f"{name} is not a JSON value (JSON has no NaN or Infinity)",
            text,
            _constant_position(text, name),
        )
    if refused.rule == "number-range":
        return _number_error(text, "is out of range (it would be an infinity)")
    return _duplicate_error(text)


def _constant_position(text: str, name: str) -> int:
    for match in re.finditer(r'"(?:[^"\\]|\\.)*"|' + re.escape(name), text, re.DOTALL):
        if not match.group().startswith('"'):
            return match.start()
    return 0


def _number_error(text: str, what: str) -> StrictJSONError:
    for match in _TOKEN.finditer(text):
        number = match.group()
        if number.startswith('"'):
            continue
        if not _number_fits(number):
            shown = number if len(number) <= 40 else f"{number[:20]}…({len(number)} characters)"
            return StrictJSONError("number-range", f"the number {shown} {what}", text, match.start())
    return StrictJSONError("number-range", f"a number {what}", text, None)


def _number_fits(number: str) -> bool:
    try:
        if any(c in number for c in ".eE"):
            return not math.isinf(float(number))
        int(number)  # ValueError past sys.get_int_max_str_digits()
    except ValueError:
        return False
    return True


def _duplicate_error(text: str) -> StrictJSONError:
    marked = json.loads(text, object_pairs_hook=_marking_pairs)  # valid: only a key repeated
    for path, obj in _objects(marked):
        if obj.duplicate is not None:
            return StrictJSONError(
                "duplicate-key",
                f"duplicate key {json.dumps(obj.duplicate, ensure_ascii=False)} in the object at {path}: "
                "each key may appear only once (readers disagree on which value wins)",
                text,
                None,
                path=_child(path, obj.duplicate),
            )
    return StrictJSONError("duplicate-key", "a key appears twice in one object", text, None)


def _objects(value: Any) -> Iterator[tuple[str, _Marked]]:
    """Every object, in document order, with its JSONPath."""
    stack: list[tuple[str, Any]] = [("$", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, _Marked):
            yield path, item
            stack.extend(reversed([(_child(path, k), v) for k, v in item.items()]))
        elif isinstance(item, list):
            stack.extend(reversed([(f"{path}[{i}]", v) for i, v in enumerate(item)]))


def _child(path: str, key: str) -> str:
    if _IDENTIFIER.match(key):
        return f"{path}.{key}"
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]"


def _check_surrogates(text: str) -> None:
    """Refuse a lone surrogate: a raw one, or a ``\\uD800``-``\\uDFFF`` escape without its pair."""
    raw = _RAW_SURROGATE.search(text)
    if raw is not None:
        _refuse_surrogate(text, raw.start(), f"U+{ord(raw.group()):04X}")
    pending: re.Match[str] | None = None  # a high surrogate escape waiting for its low half
    for match in _ESCAPE.finditer(text):
        code = int(match.group(1), 16) if match.group(1) else None
        if pending is not None:
            if code is not None and 0xDC00 <= code <= 0xDFFF and match.start() == pending.end():
                pending = None
                continue
            _refuse_surrogate(text, pending.start(), pending.group())
        if code is not None and 0xD800 <= code <= 0xDBFF:
            pending = match
        elif code is not None and 0xDC00 <= code <= 0xDFFF:
            _refuse_surrogate(text, match.start(), match.group())
    if pending is not None:
        _refuse_surrogate(text, pending.start(), pending.group())


def _refuse_surrogate(text: str, position: int, shown: str) -> None:
    raise StrictJSONError(
        "lone-surrogate",
        f"lone surrogate {shown} (a surrogate escape without its pair is not a Unicode character)",
        text,
        position,
    )


def describe(exc: json.JSONDecodeError) -> str:
    """One sentence naming the rule broken and where: ``not valid JSON: … at line L, column C``."""
    if isinstance(exc, StrictJSONError):
        where = f" at line {exc.lineno}, column {exc.colno}" if exc.positioned else ""
        return f"not strict JSON: {exc.msg}{where}"
    return f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"


def _too_deep(value: Any, limit: int) -> bool:
    stack = [(value, 0)]  # iterative: the value may be nested thousands deep
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= limit:
                return True
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


def _could_be_too_deep(text: str) -> bool:
    """Whether JSON ``text`` may nest deeper than :data:`MAX_DEPTH` (False: it surely does not).

    Nesting can go no deeper than there are brackets, so most documents need no walk.
    """
    return text.count("{") + text.count("[") > MAX_DEPTH


#: Compact, characters as they are, no NaN; a cycle ends as a RecursionError rather than being
#: looked for at every container.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False, check_circular=False)


def dumps(value: Any) -> str:
    """Compact JSON; raises ValueError for NaN, infinities and too-deep nesting."""
    too_deep = ValueError(f"nested more than {MAX_DEPTH} levels deep")
    try:
        text = _ENCODER.encode(value)
    except RecursionError:  # too deep for the encoder, or a cycle (which is nested without end)
        raise too_deep from None
    except ValueError:  # NaN or an infinity
        if _too_deep(value, MAX_DEPTH):
            raise too_deep from None
        raise
    if _could_be_too_deep(text) and _too_deep(value, MAX_DEPTH):
        raise too_deep
    return text


_SURROGATE = re.compile("[\ud800-\udfff]")


def is_plain(value: Any) -> bool:
    """True when ``value`` is plain JSON data — exactly dict (str keys), list, str, int, float,
    bool, None — without a surrogate; :func:`loads` of its :func:`dumps` (when that accepts it) gives it back.

    The quick pass :func:`surrogates` makes first: ASCII strings (``isascii`` costs nothing)
    need no search, and anything but those exact types is left to the full walk.
    """
    search = _SURROGATE.search
    stack: list[Any] = [(value,)]  # containers still to look into
    while stack:
        item = stack.pop()
        if type(item) is dict:
            for key in item:
                if type(key) is not str or not (key.isascii() or search(key) is None):
                    return False
            item = item.values()
        for child in item:
            kind = type(child)
            if kind is str:
                if not child.isascii() and search(child) is not None:
                    return False
            elif kind is dict or kind is list:
                stack.append(child)
            elif not (child is None or kind is bool or kind is int or kind is float):
                return False
    return True


def surrogates(value: Any, path: str = "$") -> list[str]:
    """JSONPaths of the strings (keys included) in ``value`` that hold a lone surrogate.

    In a Python ``str`` every surrogate code point is a lone one (a pair is one character),
    and UTF-8 cannot encode it: such a value can be neither checked by size nor sent.
    """
    if is_plain(value):
        return []
    found: list[str] = []
    stack = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                found.append(where)
        elif isinstance(item, dict):
            for key, child in item.items():
                place = _child(where, str(key))
                if isinstance(key, str) and _SURROGATE.search(key):
                    found.append(place)
                stack.append((child, place))
        elif isinstance(item, list | tuple):
            stack.extend((child, f"{where}[{i}]") for i, child in enumerate(item))
    return sorted(found)
