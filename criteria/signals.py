"""Signals criteria sends so that the reviews app can put policy changes on the audit trail.

criteria never imports reviews (dependencies point reviews -> criteria); the receiver lives in
reviews/signals.py and writes the audit event inside the same transaction as the change.
"""

import django.dispatch

# kwargs: version (PolicyVersion), change ("loaded", "retired", "drafted", "activated"), actor
policy_version_changed = django.dispatch.Signal()
