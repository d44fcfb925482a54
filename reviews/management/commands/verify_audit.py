"""manage.py verify_audit: seal, then walk the audit chain against its checkpoints and every
signed checkpoint; exit 1 at the first problem."""

from django.core.management.base import BaseCommand, CommandError

from reviews.audit import audit_seal
from reviews.audit_verify import audit_chain_verify, audit_inclusion_proof


class Command(BaseCommand):
    help = (
        "Verify the audit trail in constant memory: every sealed event's hash and link, every "
        "batch checkpoint, and every signed checkpoint in AUDIT_CHECKPOINT_DIR (with "
        "AUDIT_VERIFY_KEY). Seals the committed backlog first. Prints the count, the head hash and "
        "the unsealed backlog on success; names the first problem (altered, broken link, "
        "checkpoint, rewritten, truncated) and exits non-zero otherwise."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--anchor",
            help="a head hash recorded earlier: fail if it is no longer in the chain",
        )
        parser.add_argument(
            "--chunk-size", type=int, default=2000, help="rows fetched per round trip"
        )
        parser.add_argument("--no-seal", action="store_true", help="verify without sealing first")
        parser.add_argument(
            "--checkpoint-dir", help="signed checkpoints to check (default AUDIT_CHECKPOINT_DIR)"
        )
        parser.add_argument(
            "--prove",
            type=int,
            metavar="EVENT_ID",
            help="print the Merkle inclusion proof of one event in its checkpoint",
        )

    def handle(self, *args, anchor=None, chunk_size=2000, no_seal=False, **options):
        if chunk_size < 1:
            raise CommandError("--chunk-size must be at least 1.")
        if not no_seal:
            audit_seal()
        if options.get("prove") is not None:
            proof = audit_inclusion_proof(options["prove"])
            if proof is None:
                raise CommandError(f"audit event {options['prove']} is not sealed (or not there)")
            verdict = "verifies" if proof.verifies() else "DOES NOT verify"
            self.stdout.write(
                f"audit event {proof.event_id} (position {proof.position}, hash "
                f"{proof.event_hash}) is leaf {proof.index} of {proof.batch_size} in checkpoint "
                f"{proof.checkpoint_id} (tree size {proof.tree_size}, Merkle root "
                f"{proof.merkle_root}); path: {' '.join(proof.path) or '(none)'}; proof {verdict}"
            )
            if not proof.verifies():
                raise CommandError("inclusion proof failed")
        report = audit_chain_verify(
            chunk_size=chunk_size, anchor=anchor, checkpoint_dir=options.get("checkpoint_dir")
        )
        backlog = f"{report.unsealed} unsealed event(s)"
        if report.unsealed:
            backlog += f", the oldest {report.unsealed_age_seconds:.1f} s old"
        if not report.ok:
            raise CommandError(
                f"audit chain FAILED: {report.problem}; {report.count} event(s) verified before "
                f"it; {backlog}"
            )
        self.stdout.write(
            f"audit chain OK: {report.count} event(s) verified; head {report.head_hash}; "
            f"{report.checkpoints} checkpoint(s); {report.signed} signed checkpoint(s) matched; "
            f"{backlog}"
        )
