"""A clone of the repository is the whole project: no tracked file reads or links a path beside it.

The contract, its examples, the clinical criteria and the FHIR examples live in docs/ and
tests/fixtures/ (with their origin noted there); nothing may point at the sibling folder they
were first kept in. The needles are assembled here so this file does not match itself.
"""

import subprocess

from tests.conftest import REPO

NEEDLES = ["../" + "shared", "/work/" + "shared"]


def test_no_tracked_file_mentions_a_path_outside_the_repository():
    found = {}
    for needle in NEEDLES:
        result = subprocess.run(
            ["git", "grep", "-I", "-l", "-F", needle],
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        assert result.returncode in (0, 1), result.stderr  # 1: no match
        if result.stdout.strip():
            found[needle] = result.stdout.split()
    assert found == {}
