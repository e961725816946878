"""Where a rollout stands, from its journal: each key's last event, kept in a few bytes per key.

:func:`read_state` streams the journal once and keeps, per key of the list, the state its last
event gave (one byte) and that event's line number (four bytes) — memory flat in the number of
keys. :func:`reopened_items` streams it again and yields the keys a continued run must look at
again (left ``sending``, and with ``--retry-failed`` those that ``failed``) with what their last
event said: the backup file of a write that may have landed. Every key event must name the
key at its index in the key list (:meth:`~.keys.KeyList.matches`).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...errors import InputError
from .journal import KEY_EVENTS, Header, read_events
from .keys import KeyList

__all__ = [
    "DONE",
    "FAILED",
    "PENDING",
    "PREVIEWED",
    "SENDING",
    "SKIPPED",
    "STATE_OF_EVENT",
    "UNCHANGED",
    "Reopened",
    "RolloutState",
    "read_state",
    "reopened_items",
]

PENDING, SENDING, DONE, UNCHANGED, SKIPPED, FAILED, PREVIEWED = range(7)
#: The state each key event leaves its key in.
STATE_OF_EVENT = {
    "sending": SENDING,
    "done": DONE,
    "unchanged": UNCHANGED,
    "skipped": SKIPPED,
    "failed": FAILED,
    "preview": PREVIEWED,
}


@dataclass
class RolloutState:
    """Per key: the state of its last event, and that event's line (0: none yet)."""

    count: int
    states: bytearray = field(init=False)
    last_line: array[int] = field(init=False)  # array('I')
    lines: int = 0

    def __post_init__(self) -> None:
        self.states = bytearray(self.count)
        self.last_line = array("I", bytes(4 * self.count))

    def tally(self, state: int) -> int:
        """How many keys are in ``state``."""
        return self.states.count(state)


def read_state(path: Path, header: Header, keys: KeyList) -> RolloutState:
    """Each key's state from the journal at ``path`` (raises :class:`InputError` on a bad line)."""
    state = RolloutState(header.count)
    for number, event in read_events(path, header):
        state.lines = number
        if event["event"] not in KEY_EVENTS:
            continue
        index = event["i"]
        if not keys.matches(index, event["key"]):
            raise InputError(
                "journal",
                f"{path}: line {number}: key {event['key']!r} is not the key at index {index} of the list",
            )
        state.states[index] = STATE_OF_EVENT[event["event"]]
        state.last_line[index] = number
    return state


@dataclass(frozen=True)
class Reopened:
    """A key a continued run looks at again, with its last event's backup file (if it had one)."""

    index: int
    key: str
    state: int
    backup_file: str | None
    event: dict[str, Any]


def reopened_items(
    path: Path, header: Header, state: RolloutState, wanted: frozenset[int]
) -> Iterator[Reopened]:
    """The keys whose last event left them in a ``wanted`` state, in journal order."""
    for number, event in read_events(path, header):
        if number > state.lines:
            return  # appended by this run
        if event["event"] not in KEY_EVENTS:
            continue
        index = event["i"]
        if state.last_line[index] == number and state.states[index] in wanted:
            yield Reopened(index, event["key"], state.states[index], event.get("backupFile"), event)
