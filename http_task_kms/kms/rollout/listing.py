"""``--all-keys``: every key of the Region (ListKeys, every page), and which of them to skip.

ListKeys is followed page by page (``Marker`` / ``Truncated`` / ``NextMarker``), paced at its
own quota; its answers are untrusted: each key must be a key ID, each marker new (a server that
repeats one would loop forever). The key IDs are streamed to the list written beside the
journal, so memory stays flat. DescribeKey, per key as it is worked on (paced at its quota),
decides what is skipped and why: AWS managed keys (``KeyManager: AWS`` — AWS manages their
policies) and keys pending deletion (``KeyState: PendingDeletion`` or ``PendingReplicaDeletion``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ..policy.arns import KEY_ID_RE

if TYPE_CHECKING:
    from ...client import Client
    from ...result import TestRequestResult

__all__ = ["ListingFailed", "eligibility", "list_key_ids"]

#: Keys per ListKeys page (the most KMS returns).
PAGE = 1000
_PENDING_DELETION = frozenset({"PendingDeletion", "PendingReplicaDeletion"})


class ListingFailed(Exception):
    """ListKeys failed, or answered with something that is not a page of keys."""

    def __init__(self, result: TestRequestResult | None, message: str) -> None:
        super().__init__(message)
        self.result = result


def _page(result: TestRequestResult) -> tuple[list[str], str | None]:
    body: Any = result.body
    keys = body.get("Keys") if isinstance(body, dict) else None
    if not isinstance(keys, list):
        raise ListingFailed(result, "ListKeys answered without a list of Keys")
    ids: list[str] = []
    for item in keys:
        key_id = item.get("KeyId") if isinstance(item, dict) else None
        if not isinstance(key_id, str) or not KEY_ID_RE.match(key_id):
            raise ListingFailed(
                result, f"ListKeys answered with a KeyId that is not a key ID: {str(key_id)[:80]!r}"
            )
        ids.append(key_id)
    if body.get("Truncated") is not True:
        return ids, None
    marker = body.get("NextMarker")
    if not isinstance(marker, str) or not marker:
        raise ListingFailed(result, "ListKeys said Truncated without a NextMarker")
    return ids, marker


def list_key_ids(client: Client, region: str, pace: Callable[[], object]) -> Iterator[str]:
    """Every key ID of the Region, page by page; raises :class:`ListingFailed`."""
    marker: str | None = None
    markers: set[str] = set()
    while True:
        pace()
        params: dict[str, Any] = {"Limit": PAGE, "region": region}
        if marker is not None:
            params["Marker"] = marker
        result = client.test_request("kms.ListKeys", params)
        if not result.ok:
            raise ListingFailed(result, "ListKeys failed")
        ids, marker = _page(result)
        yield from ids
        if marker is None:
            return
        if marker in markers:
            raise ListingFailed(result, "ListKeys gave a NextMarker it had given before (it would never end)")
        markers.add(marker)


def eligibility(client: Client, key: str, region: str) -> tuple[str, str, str] | None:
    """None for a key to work on; else ``(state, code, reason)``: ``skipped`` and why, or ``failed``."""
    result = client.test_request("kms.DescribeKey", {"KeyId": key, "region": region})
    if not result.ok:
        error = result.error
        code = error.code if error else f"HTTP{result.statusCode}"
        return "failed", code, f"DescribeKey failed: {error.message if error else code}"
    body: Any = result.body
    metadata = body.get("KeyMetadata") if isinstance(body, dict) else None
    if not isinstance(metadata, dict):
        return "failed", "DescribeKey", "DescribeKey answered without KeyMetadata"
    manager, state = metadata.get("KeyManager"), metadata.get("KeyState")
    if manager == "AWS":
        reason = "an AWS managed key (KeyManager: AWS): AWS manages its key policy, which cannot be changed"
        return "skipped", "AwsManagedKey", reason
    if state in _PENDING_DELETION:
        reason = f"scheduled for deletion (KeyState: {state}): left alone (cancel the deletion to include it)"
        return "skipped", "PendingDeletion", reason
    return None
