"""Policy files -> validated, self-contained policy version content.

The shipped files in criteria/policies/ are of two kinds:
- libraries (`kind: library`): general.yaml (GEN-01..GEN-09, the source register and GEN-08, the
  precedence) and facet_joint.yaml (FJ-01..FJ-13, shared by facet_injection and
  radiofrequency_ablation);
- policies (`family: ...`): parameters, profiles and the criteria list, where `use: GEN-01` pulls a
  library criterion in, optionally overriding its keys (decisive, applies_when, rule, ...).

`compile_policy_file` turns one policy file into one content dict per profile, with every library
criterion copied in, so a stored version needs nothing else to be replayed (DESIGN rule 6).
`compile_content` validates and normalises a content dict (also used when an admin activates a
hand-edited draft): unknown facts, operators, parameters, criterion references, malformed
citations or cycles raise PolicyError naming the criterion.
"""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from criteria import consistency
from criteria.engine import (
    COMBINATORS,
    DETECTOR_KINDS,
    KINDS,
    NURSE,
    OPERATORS,
    PHYSICIAN,
    describe_leaf,
)
from criteria.vocabulary import FACTS, TYPE_OPERATORS

SCHEMA_VERSION = 1
POLICY_DIR = Path(__file__).resolve().parent / "policies"
PROFILES = ("baseline", "evidence_strict")
FAMILIES = (
    "epidural_steroid_injection",
    "facet_injection",
    "radiofrequency_ablation",
    "vertebral_augmentation",
    "spinal_fusion",
)
VERIFICATION_CODES = frozenset({"Seed", "P", "S", "K", "-"})
_CRITERION_KEYS = frozenset(
    {
        "id",
        "statement",
        "citation",
        "decisive",
        "kind",
        "waives",
        "waived_by",
        "applies_when",
        "rule",
        "on_not_met",
        "confirm",
        "confirm_note",
        "refer_when",
        "note",
        # computed by compile_content
        "reads",
        "threshold",
    }
)


class PolicyError(ValueError):
    """A policy that must not be loaded: names the criterion (or file) and what is wrong."""

    def __init__(self, criterion: str, message: str):
        super().__init__(f"{criterion}: {message}")
        self.criterion = criterion
        self.message = message


def checksum(content: dict) -> str:
    """sha256 over canonical JSON: a version's identity in letters and audit events."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


# --- rules -----------------------------------------------------------------------------------


def _check_value(cid: str, leaf: dict, fact_type: str) -> None:
    op, value = leaf["op"], leaf.get("value")
    if op in {"is_true", "is_false", "documented"}:
        if "value" in leaf:
            raise PolicyError(cid, f"operator {op!r} takes no value ({leaf['fact']})")
        return
    if "value" not in leaf:
        raise PolicyError(cid, f"operator {op!r} on {leaf['fact']} needs a value or a param")
    if op in {"in", "not_in", "contains_any", "any_prefix", "none_prefix"}:
        if not isinstance(value, list) or not value:
            raise PolicyError(cid, f"operator {op!r} on {leaf['fact']} needs a non-empty list")
        return
    if op.startswith("months_since_"):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise PolicyError(cid, f"operator {op!r} needs a whole number of months")
        return
    if fact_type in {"int", "number"} and (
        isinstance(value, bool) or not isinstance(value, (int, float))
    ):
        raise PolicyError(cid, f"{leaf['fact']} is a number; {value!r} is not")
    if fact_type == "str" and not isinstance(value, str):
        raise PolicyError(cid, f"{leaf['fact']} is text; {value!r} is not")


def _compile_rule(
    cid: str, node: Any, parameters: dict, ids: set[str], reads: list, refs: set, negated: bool
) -> dict:
    """Validate one rule tree; returns a copy with parameter values resolved into leaves."""
    if not isinstance(node, dict) or not node:
        raise PolicyError(cid, f"a rule must be a mapping, got {node!r}")
    if "fact" in node:
        unknown_keys = set(node) - {"fact", "op", "value", "param", "if_unknown"}
        if unknown_keys:
            raise PolicyError(cid, f"unknown keys in a rule leaf: {sorted(unknown_keys)}")
        fact, op = node["fact"], node.get("op")
        if fact not in FACTS:
            raise PolicyError(cid, f"unknown fact {fact!r}")
        if op not in OPERATORS:
            raise PolicyError(cid, f"unknown operator {op!r} (on {fact})")
        fact_type = FACTS[fact].type
        if op not in TYPE_OPERATORS[fact_type]:
            raise PolicyError(cid, f"operator {op!r} does not apply to {fact} ({fact_type})")
        leaf = {"fact": fact, "op": op}
        if "param" in node:
            name = node["param"]
            if name not in parameters:
                raise PolicyError(cid, f"unknown parameter {name!r}")
            leaf["param"] = name
            leaf["value"] = copy.deepcopy(parameters[name]["value"])
        elif "value" in node:
            leaf["value"] = copy.deepcopy(node["value"])
        if "if_unknown" in node:
            # Only "counts as absent", and never under `not`: otherwise removing a fact could turn
            # an unknown answer into met, and an absent datum must never help a request pass.
            if node["if_unknown"] != "not_met":
                raise PolicyError(cid, "if_unknown may only be 'not_met'")
            if negated:
                raise PolicyError(cid, "if_unknown may not be used under 'not'")
            leaf["if_unknown"] = "not_met"
        _check_value(cid, leaf, fact_type)
        if fact not in reads:
            reads.append(fact)
        return leaf
    keys = set(node)
    if keys in ({"all"}, {"any"}):
        (key,) = keys
        children = node[key]
        if not isinstance(children, list) or not children:
            raise PolicyError(cid, f"{key!r} needs a non-empty list")
        return {
            key: [_compile_rule(cid, c, parameters, ids, reads, refs, negated) for c in children]
        }
    if keys == {"not"}:
        return {"not": _compile_rule(cid, node["not"], parameters, ids, reads, refs, True)}
    if keys == {"at_least", "of"}:
        n, children = node["at_least"], node["of"]
        if not isinstance(children, list) or not isinstance(n, int) or not 1 <= n <= len(children):
            raise PolicyError(cid, "'at_least' needs 1 <= n <= len(of)")
        return {
            "at_least": n,
            "of": [_compile_rule(cid, c, parameters, ids, reads, refs, negated) for c in children],
        }
    if keys in ({"criterion"}, {"flag"}):
        (key,) = keys
        target = node[key]
        if target not in ids:
            raise PolicyError(cid, f"{key} reference to {target!r}, which is not in this version")
        refs.add((key, target))
        return {key: target}
    known = COMBINATORS | {"fact", "criterion", "flag"}
    raise PolicyError(cid, f"unknown operator or rule keys {sorted(keys - known) or sorted(keys)}")


def _check_citation(cid: str, citation: Any, sources: dict) -> dict:
    if not isinstance(citation, dict):
        raise PolicyError(cid, "citation must be a mapping")
    cited = citation.get("sources")
    if not isinstance(cited, list) or not cited:
        raise PolicyError(cid, "citation needs at least one source id")
    for source in cited:
        if source not in sources:
            raise PolicyError(cid, f"citation names an unknown source {source!r}")
    if not (citation.get("quote") or citation.get("location")):
        raise PolicyError(cid, "citation needs a quote or a location")
    levels = [v.strip() for v in str(citation.get("verification", "")).split(",")]
    if not levels or any(v not in VERIFICATION_CODES for v in levels):
        raise PolicyError(cid, f"citation verification must use {sorted(VERIFICATION_CODES)}")
    return citation


def _find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in edges.get(node, ()):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in edges:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def compile_content(content: dict) -> dict:
    """Validate a version's content and return it normalised (parameters resolved, traces ready).

    Idempotent: compiling compiled content gives the same content (and checksum).
    """
    where = f"{content.get('family', '?')}/{content.get('profile', '?')}"
    if content.get("family") not in FAMILIES:
        raise PolicyError(where, f"unknown family {content.get('family')!r}")
    if content.get("profile") not in PROFILES:
        raise PolicyError(where, f"unknown profile {content.get('profile')!r}")
    parameters = content.get("parameters") or {}
    sources = content.get("sources") or {}
    for name, param in parameters.items():
        if not isinstance(param, dict) or "value" not in param:
            raise PolicyError(where, f"parameter {name!r} needs a value")
        if param.get("source") and param["source"] not in sources:
            raise PolicyError(where, f"parameter {name!r} names an unknown source")
    criteria = content.get("criteria")
    if not isinstance(criteria, list) or not criteria:
        raise PolicyError(where, "a version needs a non-empty 'criteria' list")
    ids = [c.get("id") for c in criteria]
    seen: set[str] = set()
    for cid in ids:
        if not cid or not isinstance(cid, str):
            raise PolicyError(where, "every criterion needs an id")
        if cid in seen:
            raise PolicyError(cid, "duplicate criterion id")
        seen.add(cid)
    id_set = set(ids)

    compiled: list[dict] = []
    edges: dict[str, set[str]] = {}
    waived_by: dict[str, list[str]] = {cid: [] for cid in ids}
    for crit in criteria:
        cid = crit["id"]
        extra = set(crit) - _CRITERION_KEYS
        if extra:
            raise PolicyError(cid, f"unknown keys {sorted(extra)}")
        if not crit.get("statement"):
            raise PolicyError(cid, "a criterion needs a plain-language statement")
        if not isinstance(crit.get("decisive"), bool):
            raise PolicyError(cid, "'decisive' must be true or false")
        kind = crit.get("kind", "requirement")
        if kind not in KINDS:
            raise PolicyError(cid, f"unknown kind {kind!r}")
        if "rule" not in crit:
            raise PolicyError(cid, "a criterion needs a rule")
        if crit.get("on_not_met", PHYSICIAN) not in {PHYSICIAN, NURSE}:
            raise PolicyError(cid, "on_not_met must be physician_review or nurse_review")
        if crit.get("confirm") not in {None, NURSE}:
            raise PolicyError(cid, "confirm may only be nurse_review")
        reads: list[str] = []
        refs: set = set()
        out: dict[str, Any] = {
            "id": cid,
            "statement": crit["statement"],
            "citation": _check_citation(cid, crit.get("citation"), sources),
            "decisive": crit["decisive"],
            "kind": kind,
        }
        if crit.get("applies_when") is not None:
            out["applies_when"] = _compile_rule(
                cid, crit["applies_when"], parameters, id_set, reads, refs, False
            )
        out["rule"] = _compile_rule(cid, crit["rule"], parameters, id_set, reads, refs, False)
        if crit.get("refer_when") is not None:
            out["refer_when"] = _compile_rule(
                cid, crit["refer_when"], parameters, id_set, reads, refs, False
            )
        for ref_kind, target in refs:
            if (
                ref_kind == "flag"
                and next(c for c in criteria if c["id"] == target).get("kind") not in DETECTOR_KINDS
            ):
                raise PolicyError(cid, f"flag reference to {target}, which is not a red flag")
        edges[cid] = {target for _, target in refs}
        for key in ("on_not_met", "confirm", "confirm_note", "note"):
            if crit.get(key):
                out[key] = crit[key]
        for target in crit.get("waives") or []:
            if target not in id_set:
                raise PolicyError(cid, f"waives {target!r}, which is not in this version")
            if kind != "waiver":
                raise PolicyError(cid, "only a criterion of kind 'waiver' may waive others")
            if cid not in waived_by[target]:
                waived_by[target].append(cid)
        for source in crit.get("waived_by") or []:
            if source not in id_set:
                raise PolicyError(cid, f"waived_by {source!r}, which is not in this version")
            if source not in waived_by[cid]:
                waived_by[cid].append(source)
        out["reads"] = reads
        out["threshold"] = _threshold(out)
        compiled.append(out)
    cycle = _find_cycle(edges)
    if cycle:
        raise PolicyError(cycle[0], "criterion references form a cycle: " + " -> ".join(cycle))
    for out in compiled:
        # Both directions are stored so a reader of either criterion sees the relation.
        out["waived_by"] = sorted(waived_by[out["id"]])
        out["waives"] = sorted(c for c, srcs in waived_by.items() if out["id"] in srcs)
        for waiver in out["waived_by"]:
            if next(c for c in compiled if c["id"] == waiver)["kind"] != "waiver":
                raise PolicyError(out["id"], f"waived_by {waiver}, which is not a waiver")

    try:
        checks = consistency.normalise(content.get("consistency"))
    except ValueError as error:
        raise PolicyError(where, str(error)) from None

    used_facts = sorted({f for c in compiled for f in c["reads"]})
    used_sources = sorted(
        {s for c in compiled for s in c["citation"]["sources"]}
        | {p["source"] for p in parameters.values() if p.get("source")}
    )
    return {
        "schema_version": SCHEMA_VERSION,
        "family": content["family"],
        "profile": content["profile"],
        "title": content.get("title", ""),
        "effective_from": str(content.get("effective_from", "")),
        "parameters": copy.deepcopy(parameters),
        "criteria": compiled,
        "facts": {f: {"field": FACTS[f].field, "why": FACTS[f].why} for f in used_facts},
        "sources": {s: sources[s] for s in used_sources},
        "precedence": copy.deepcopy(content.get("precedence") or {}),
        # The consistency checks of this family (criteria/consistency.py), run before deciding.
        "consistency": checks,
    }


def _threshold(crit: dict) -> str:
    """The criterion's thresholds in one line, read from its leaves (e.g. `x >= 28; y is true`)."""
    parts: list[str] = []

    def walk(node: dict) -> None:
        if "fact" in node:
            text = describe_leaf(node)
            if text not in parts:
                parts.append(text)
        elif "criterion" in node:
            parts.append(f"{node['criterion']} met")
        elif "flag" in node:
            parts.append(f"{node['flag']} flag present")
        else:
            for key in ("all", "any", "of"):
                for child in node.get(key, ()):
                    walk(child)
            if "not" in node:
                walk(node["not"])

    walk(crit["rule"])
    return "; ".join(parts)


# --- files -----------------------------------------------------------------------------------


def _read_yaml(path: Path) -> dict:
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    if not isinstance(data, dict):
        raise PolicyError(path.name, "a policy file must be a mapping")
    return data


def read_directory(directory: Path | str | None = None) -> tuple[dict, list[tuple[Path, dict]]]:
    """(library criteria and sources, [(path, policy file)]) from a policy directory."""
    directory = Path(directory) if directory else POLICY_DIR
    library: dict[str, Any] = {"criteria": {}, "sources": {}, "parameters": {}, "precedence": {}}
    policies: list[tuple[Path, dict]] = []
    for path in sorted(directory.glob("*.yaml")):
        data = _read_yaml(path)
        if data.get("kind") == "library":
            for crit in data.get("criteria") or []:
                if crit.get("id") in library["criteria"]:
                    raise PolicyError(crit["id"], f"defined twice in libraries ({path.name})")
                library["criteria"][crit["id"]] = crit
            library["sources"].update(data.get("sources") or {})
            library["parameters"].update(data.get("parameters") or {})
            if data.get("precedence"):
                library["precedence"] = data["precedence"]
        elif data.get("family"):
            policies.append((path, data))
        else:
            raise PolicyError(path.name, "neither a library (kind: library) nor a policy (family)")
    return library, policies


def compile_policy_file(data: dict, library: dict, *, source: str = "") -> dict[str, dict]:
    """One policy file -> {profile: compiled content}, library criteria copied in."""
    family = data["family"]
    effective = data.get("effective_from")
    if not isinstance(effective, date):
        raise PolicyError(source or family, "effective_from must be a YYYY-MM-DD date")
    profiles = data.get("profiles") or {}
    if set(profiles) != set(PROFILES):
        raise PolicyError(source or family, f"a policy must define exactly the profiles {PROFILES}")
    out: dict[str, dict] = {}
    for profile, overrides in profiles.items():
        overrides = overrides or {}
        parameters = copy.deepcopy(library["parameters"])
        parameters.update(copy.deepcopy(data.get("parameters") or {}))
        for name, value in (overrides.get("parameters") or {}).items():
            if name not in parameters:
                raise PolicyError(source or family, f"profile {profile} overrides unknown {name!r}")
            parameters[name]["value"] = value
        criteria = []
        for entry in data.get("criteria") or []:
            if "use" in entry:
                base = library["criteria"].get(entry["use"])
                if base is None:
                    raise PolicyError(entry["use"], "used but defined in no library file")
                crit = copy.deepcopy(base)
                crit.update({k: copy.deepcopy(v) for k, v in entry.items() if k != "use"})
            else:
                crit = copy.deepcopy(entry)
            criteria.append(crit)
        decisive = overrides.get("decisive") or {}
        by_id = {c.get("id"): c for c in criteria}
        for cid, value in decisive.items():
            if cid not in by_id:
                raise PolicyError(cid, f"profile {profile} sets decisive on a criterion not listed")
            by_id[cid]["decisive"] = value
        content = {
            "family": family,
            "profile": profile,
            "title": data.get("title", ""),
            "effective_from": effective.isoformat(),
            "parameters": parameters,
            "sources": library["sources"],
            "precedence": library["precedence"],
            "criteria": criteria,
            "consistency": copy.deepcopy(data.get("consistency") or []),
        }
        compiled = compile_content(content)
        # Keep only the parameters the version's rules read, so a version reads as a whole.
        used = {leaf_param for crit in compiled["criteria"] for leaf_param in _params_of(crit)}
        compiled["parameters"] = {k: v for k, v in compiled["parameters"].items() if k in used}
        compiled["sources"] = {
            k: v
            for k, v in compiled["sources"].items()
            if k in {s for c in compiled["criteria"] for s in c["citation"]["sources"]}
            or k in {p.get("source") for p in compiled["parameters"].values()}
        }
        out[profile] = compiled
    return out


def _params_of(crit: dict) -> set[str]:
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "param" in node:
                found.add(node["param"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for key in ("rule", "applies_when", "refer_when"):
        walk(crit.get(key))
    return found


def load_directory(directory: Path | str | None = None) -> list[dict]:
    """Every policy file compiled: [{"family", "profile", "content", "source_file", "effective_from"}]."""
    library, policies = read_directory(directory)
    compiled: list[dict] = []
    families_seen: set[str] = set()
    for path, data in policies:
        if data["family"] in families_seen:
            raise PolicyError(path.name, f"a second file for family {data['family']}")
        families_seen.add(data["family"])
        for profile, content in compile_policy_file(data, library, source=path.name).items():
            compiled.append(
                {
                    "family": data["family"],
                    "profile": profile,
                    "title": data.get("title", ""),
                    "content": content,
                    "source_file": path.name,
                    "effective_from": data["effective_from"],
                }
            )
    return compiled


def fact_names_used(content: dict) -> set[str]:
    return {fact for crit in content["criteria"] for fact in crit["reads"]}
