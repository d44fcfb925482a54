"""The loader refuses what the engine could not read, naming the criterion and what is wrong."""

import copy

import pytest

from criteria.loader import PolicyError, checksum, compile_content

from .conftest import content_for


def _with_rule(rule, cid="ESI-04", **extra):
    content = copy.deepcopy(content_for("epidural_steroid_injection"))
    crit = next(c for c in content["criteria"] if c["id"] == cid)
    crit["rule"] = rule
    crit.update(extra)
    return content


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"fact": "symptoms.weeks", "op": "gte", "value": 4}, "unknown fact 'symptoms.weeks'"),
        (
            {"fact": "symptoms.duration_days", "op": "approx", "value": 28},
            "unknown operator 'approx'",
        ),
        ({"fact": "symptoms.duration_days", "op": "contains", "value": 28}, "does not apply"),
        (
            {"fact": "symptoms.duration_days", "op": "gte", "param": "nope"},
            "unknown parameter 'nope'",
        ),
        ({"fact": "symptoms.duration_days", "op": "gte", "value": "28"}, "is a number"),
        ({"fact": "symptoms.duration_days", "op": "gte"}, "needs a value"),
        ({"xor": []}, "unknown operator or rule keys"),
        ({"criterion": "ESI-99"}, "not in this version"),
        ({"any": []}, "non-empty list"),
        (
            {
                "not": {
                    "fact": "labs.max_crp_mg_l",
                    "op": "gt",
                    "value": 10,
                    "if_unknown": "not_met",
                }
            },
            "under 'not'",
        ),
        (
            {"fact": "labs.max_crp_mg_l", "op": "gt", "value": 10, "if_unknown": "met"},
            "only be 'not_met'",
        ),
    ],
)
def test_refused_rules_name_the_criterion(rule, message):
    with pytest.raises(PolicyError) as refused:
        compile_content(_with_rule(rule))
    assert refused.value.criterion == "ESI-04"
    assert message in str(refused.value)
    assert str(refused.value).startswith("ESI-04: ")


def test_reference_cycles_are_refused():
    content = _with_rule({"criterion": "ESI-12"})
    next(c for c in content["criteria"] if c["id"] == "ESI-12")["rule"] = {"criterion": "ESI-04"}
    with pytest.raises(PolicyError, match="cycle"):
        compile_content(content)


def test_citations_need_a_known_source_and_a_quote_or_location():
    content = copy.deepcopy(content_for("epidural_steroid_injection"))
    content["criteria"][0]["citation"] = {
        "sources": ["NOWHERE"],
        "location": "x",
        "verification": "S",
    }
    with pytest.raises(PolicyError, match="unknown source"):
        compile_content(content)
    content["criteria"][0]["citation"] = {"sources": ["L39240"], "verification": "S"}
    with pytest.raises(PolicyError, match="quote or a location"):
        compile_content(content)


def test_compiling_is_idempotent_so_checksums_are_stable():
    content = content_for("spinal_fusion")
    assert compile_content(content) == content
    assert checksum(compile_content(copy.deepcopy(content))) == checksum(content)


def test_a_changed_parameter_reaches_every_rule_that_reads_it():
    content = copy.deepcopy(content_for("epidural_steroid_injection"))
    content["parameters"]["esi_pain_min_days"]["value"] = 42
    esi04 = next(c for c in compile_content(content)["criteria"] if c["id"] == "ESI-04")
    assert esi04["threshold"].startswith("symptoms.duration_days >= 42")


def test_every_criterion_in_criteria_md_is_shipped_with_a_citation():
    from .conftest import compiled_versions

    ids = {c["id"] for v in compiled_versions().values() for c in v["criteria"]}
    expected = (
        {f"GEN-0{i}" for i in (1, 2, 3, 4, 5, 6, 7, 9)}
        | {f"ESI-{i:02d}" for i in range(1, 14)}
        | {f"FJ-{i:02d}" for i in range(1, 14)}
        | {f"VA-{i:02d}" for i in range(1, 9)}
        | {f"FU-{i:02d}" for i in range(1, 13)}
    )
    # Lamina's own additions beyond criteria.md, each cited in its policy file.
    added = {"GEN-10", "GEN-11", "GEN-12", "GEN-13", "GEN-14", "VA-09", "FU-13", "FU-14"}
    assert ids == expected | added
    # GEN-08 is the precedence itself, carried by every version.
    assert all(v["precedence"]["id"] == "GEN-08" for v in compiled_versions().values())
    assert len(compiled_versions()) == 10  # five families, two profiles
