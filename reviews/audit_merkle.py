"""Merkle tree hashes and inclusion proofs over a batch of audit events, as RFC 6962 defines them.

Leaves are the events' chain hashes (32 bytes each); a leaf hashes as SHA-256(0x00 || leaf) and an
inner node as SHA-256(0x01 || left || right), so a leaf can never pass for a node. A batch of n
events splits at the largest power of two below n (RFC 6962 section 2.1).
"""

import hashlib
from collections.abc import Sequence


def _leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def _root(leaves: Sequence[bytes]) -> bytes:
    if len(leaves) == 1:
        return _leaf(leaves[0])
    k = _split(len(leaves))
    return _node(_root(leaves[:k]), _root(leaves[k:]))


def merkle_root(event_hashes: Sequence[str]) -> str:
    """The tree hash over hex event hashes, in chain order (the empty tree: SHA-256 of nothing)."""
    if not event_hashes:
        return hashlib.sha256(b"").hexdigest()
    return _root([bytes.fromhex(h) for h in event_hashes]).hex()


def _path(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return [*_path(index, leaves[:k]), _root(leaves[k:])]
    return [*_path(index - k, leaves[k:]), _root(leaves[:k])]


def inclusion_path(index: int, event_hashes: Sequence[str]) -> list[str]:
    """The audit path for the leaf at `index` (0-based) in the batch (RFC 6962 section 2.1.1)."""
    if not 0 <= index < len(event_hashes):
        raise IndexError(index)
    return [h.hex() for h in _path(index, [bytes.fromhex(h) for h in event_hashes])]


def inclusion_verify(
    index: int, size: int, event_hash: str, path: Sequence[str], root: str
) -> bool:
    """Whether `path` proves the leaf `event_hash` at `index` of a batch of `size` under `root`
    (RFC 9162 section 2.1.3.2)."""
    if not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    r = _leaf(bytes.fromhex(event_hash))
    for p in (bytes.fromhex(h) for h in path):
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _node(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r.hex() == root
