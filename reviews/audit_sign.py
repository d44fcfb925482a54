"""Signed checkpoints of the audit chain, kept where the database cannot reach.

A signed checkpoint states "after tree_size events the chain's head was head_hash", signed with
an Ed25519 key that only the process publishing checkpoints holds (AUDIT_SIGNING_KEY, a PEM file;
the database never sees it). Each is written as one JSON file in AUDIT_CHECKPOINT_DIR (mount it on
storage the database's owner cannot write, or copy it off the host) and logged for the auditor.
verify_audit checks the chain against every file with the public key (AUDIT_VERIFY_KEY, or the
public half of AUDIT_SIGNING_KEY): whoever rewrites history in the database cannot sign new heads.
"""

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.utils import timezone

from reviews.audit import audit_seal, canonical
from reviews.models import AuditCheckpoint

logger = logging.getLogger(__name__)

SIGNED_FIELDS = (
    "tree_size",
    "head_hash",
    "first_position",
    "merkle_root",
    "sealed_at",
    "signed_at",
)


@dataclass(frozen=True)
class SignedCheckpoint:
    path: Path
    tree_size: int
    head_hash: str
    signed_at: str
    body: dict


def signing_key_generate(path: str | Path) -> Path:
    """Write a new Ed25519 private key (PEM, mode 0600) and its public half beside it (.pub)."""
    path = Path(path)
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    public = path.with_name(path.name + ".pub")
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return public


def _signing_key() -> Ed25519PrivateKey | None:
    if not settings.AUDIT_SIGNING_KEY:
        return None
    key = serialization.load_pem_private_key(Path(settings.AUDIT_SIGNING_KEY).read_bytes(), None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("AUDIT_SIGNING_KEY is not an Ed25519 private key")
    return key


def verify_key() -> Ed25519PublicKey | None:
    """The public key verify_audit trusts: AUDIT_VERIFY_KEY, else the signing key's public half."""
    if settings.AUDIT_VERIFY_KEY:
        key = serialization.load_pem_public_key(Path(settings.AUDIT_VERIFY_KEY).read_bytes())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("AUDIT_VERIFY_KEY is not an Ed25519 public key")
        return key
    private = _signing_key()
    return private.public_key() if private else None


def key_id(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _message(body: dict) -> bytes:
    return canonical({name: body[name] for name in SIGNED_FIELDS}).encode()


def checkpoint_publish() -> dict | None:
    """Seal, then sign the newest checkpoint and write it out; None when there is nothing new or
    no signing key. Returns the signed body (also logged, for the auditor)."""
    key = _signing_key()
    if key is None:
        logger.warning("audit checkpoints are not signed: AUDIT_SIGNING_KEY is not set")
        return None
    audit_seal()
    latest = AuditCheckpoint.objects.order_by("-tree_size").first()
    if latest is None:
        return None
    directory = Path(settings.AUDIT_CHECKPOINT_DIR)
    path = directory / f"checkpoint-{latest.tree_size:012d}.json"
    if path.exists():
        return None
    body = {
        "tree_size": latest.tree_size,
        "head_hash": latest.head_hash,
        "first_position": latest.first_position,
        "merkle_root": latest.merkle_root,
        "sealed_at": latest.sealed_at.isoformat(),
        "signed_at": timezone.now().isoformat(),
    }
    body["key_id"] = key_id(key.public_key())
    body["signature"] = key.sign(_message(body)).hex()
    directory.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    partial.write_text(json.dumps(body, indent=1) + "\n")
    partial.replace(path)  # atomic: a reader never sees half a file
    logger.info("audit checkpoint signed: %s", canonical(body))
    return body


class CheckpointFileError(Exception):
    pass


def signed_checkpoints(
    directory: str | Path | None = None, key: Ed25519PublicKey | None = None
) -> list[SignedCheckpoint]:
    """Every checkpoint file, its signature checked, in tree_size order.

    Raises CheckpointFileError naming the first file that is unreadable or not signed by `key`.
    """
    directory = Path(directory if directory is not None else settings.AUDIT_CHECKPOINT_DIR)
    if not directory.is_dir():
        return []
    files = sorted(directory.glob("checkpoint-*.json"))
    if files and key is None:
        raise CheckpointFileError(
            f"{len(files)} signed checkpoint(s) in {directory} but no verification key "
            "(set AUDIT_VERIFY_KEY)"
        )
    found = []
    for path in files:
        try:
            body = json.loads(path.read_text())
            key.verify(bytes.fromhex(body["signature"]), _message(body))
            found.append(
                SignedCheckpoint(
                    path, int(body["tree_size"]), body["head_hash"], body["signed_at"], body
                )
            )
        except InvalidSignature as exc:
            raise CheckpointFileError(f"{path.name}: the signature does not verify") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise CheckpointFileError(f"{path.name}: not a signed checkpoint ({exc})") from exc
    return sorted(found, key=lambda c: c.tree_size)
