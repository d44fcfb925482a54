"""Every URL Lamina serves, for every role: who gets in and who is refused.

The project's URL resolver is walked recursively (admin included). Each pattern must have a row in
RULES saying which roles may GET it and, where it is a write, which may POST (or DELETE) to it; a
pattern without a row fails the suite, so a new endpoint cannot ship without a rule. Path
parameters are filled with real objects of organization A.

A role is *refused* when it gets 401, 403, 404 or 405, or a redirect to a sign-in page (other
redirects are followed and judged by where they lead); anything else below 500 (a page, a 400 or
409 on the empty body sent) means it got past authorization. A refused role must never see a 2xx;
no role may ever see a 5xx. Every POST carries an Idempotency-Key, as the provider API requires.

Each persona is signed in both ways (a session and a token) so every endpoint sees the role
through whichever authentication it accepts: the matrix checks authorization, not the channel.
"""

import re
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RegexPattern
from django.utils import timezone
from rest_framework.authtoken.models import Token

from criteria.models import Policy, PolicyVersion
from pas.models import Subscription
from pas.questionnaires import questionnaire_id
from pas.smart import smart_client_register
from reviews.models import Determination, PriorAuthRequest
from reviews.services.checks import evidence_checks_run
from reviews.services.intake import request_submit
from reviews.services.simulation import simulation_create, simulation_run
from tests.conftest import example

ANON, PA, PB, NURSE, PHYS, AUDITOR, ADMIN = (
    "anonymous",
    "provider_a",
    "provider_b",
    "nurse",
    "physician",
    "auditor",
    "admin",
)
ROLES = (ANON, PA, PB, NURSE, PHYS, AUDITOR, ADMIN)
ALL = frozenset(ROLES)
NONE: frozenset[str] = frozenset()
PROVIDERS = frozenset({PA, PB})
ONLY_A = frozenset({PA})
# Who may read organization A's request: its provider, the plan's reviewers, auditors, admins.
READ_A = frozenset({PA, NURSE, PHYS, AUDITOR, ADMIN})
REVIEWERS = frozenset({NURSE, PHYS})
WEB_READERS = frozenset({NURSE, PHYS, AUDITOR, ADMIN})
AUDIT = frozenset({AUDITOR, ADMIN})
ADMINS = frozenset({ADMIN})


def admin_model(add=ADMINS, delete=ADMINS, change=ADMINS) -> dict[str, dict]:
    """The six routes Django's admin adds for each registered model."""
    return {
        "": {"get": ADMINS},
        "add/": {"get": add, "post": add},
        "<object_id>/history/": {"get": ADMINS},
        "<object_id>/delete/": {"get": delete, "post": delete},
        "<object_id>/change/": {"get": ADMINS, "post": change},
        "<object_id>/": {"get": ADMINS},  # a redirect to the change page
    }


# Sign-in attempts are written by the sign-in machinery, never by hand; an administrator deletes
# them to unlock an account.
AXES_LOG = admin_model(add=NONE)
# Policies come from the shipped files and are never added or deleted by hand (their change page
# has nothing editable); a version in force is never rewritten: new versions start as copies
# (the matrix's version is an active one).
POLICY = admin_model(add=NONE, delete=NONE)
POLICY_VERSION = admin_model(add=NONE, delete=NONE, change=NONE)

RULES: dict[str, dict[str, frozenset[str]]] = {
    # --- Django admin: plan administrators only ---
    "admin/": {"get": ADMINS},
    "admin/login/": {"get": ALL},  # the sign-in page itself is public
    "admin/logout/": {"get": NONE},  # POST only
    "admin/password_change/": {"get": ADMINS, "post": ADMINS},
    "admin/password_change/done/": {"get": ADMINS},
    # Without a field to complete, the autocomplete answers 403 even to an administrator.
    "admin/autocomplete/": {"get": NONE},
    "admin/jsi18n/": {"get": ADMINS},
    # No Lamina model has a public page to jump to: 404 for the administrator too.
    "admin/r/<content_type_id>/<object_id>/": {"get": NONE},
    **{f"admin/auth/group/{k}": v for k, v in admin_model().items()},
    **{f"admin/authtoken/tokenproxy/{k}": v for k, v in admin_model().items()},
    **{f"admin/axes/accessattempt/{k}": v for k, v in AXES_LOG.items()},
    **{f"admin/axes/accesslog/{k}": v for k, v in AXES_LOG.items()},
    **{f"admin/axes/accessfailurelog/{k}": v for k, v in AXES_LOG.items()},
    **{f"admin/criteria/policy/{k}": v for k, v in POLICY.items()},
    **{f"admin/criteria/policyversion/{k}": v for k, v in POLICY_VERSION.items()},
    **{f"admin/pas/smartclient/{k}": v for k, v in admin_model().items()},
    "admin/<app_label>/": {"get": ADMINS},
    "admin/<url>": {"get": NONE},  # unknown admin URLs: sign-in for outsiders, 404 for staff
    # --- API documentation: public ---
    "api/schema/": {"get": ALL},
    "api/docs/": {"get": ALL},
    "api/redoc/": {"get": ALL},
    "favicon.ico": {"get": ALL},
    # --- Provider API: providers, scoped to their organization ---
    "api/v1/requests/": {"get": PROVIDERS, "post": PROVIDERS},
    "api/v1/requests/<request_id>/": {"get": ONLY_A},
    "api/v1/requests/<request_id>/information/": {"get": NONE, "post": ONLY_A},
    "api/v1/requests/<request_id>/withdraw/": {"get": NONE, "post": ONLY_A},
    "api/v1/requests/<request_id>/appeal/": {"get": NONE, "post": ONLY_A},
    "api/v1/requests/<request_id>/recheck/": {"get": NONE, "post": ONLY_A},
    "api/v1/requests/<request_id>/letters/": {"get": READ_A},
    "api/v1/requests/<request_id>/letters/<determination_id>/": {"get": READ_A},
    "api/v1/requests/<request_id>/letters/<determination_id>.pdf": {"get": READ_A},
    # --- Auditors' API ---
    "api/v1/audit/requests/<request_id>/history/": {"get": AUDIT},
    "api/v1/audit/determinations/": {"get": AUDIT},
    "api/v1/audit/determinations.csv": {"get": AUDIT},
    "api/v1/audit/metrics/": {"get": AUDIT},
    "api/v1/audit/metrics.csv": {"get": AUDIT},
    # --- FHIR (Da Vinci PAS): the capability statement and questionnaires are public ---
    "fhir/metadata": {"get": ALL},
    "fhir/.well-known/smart-configuration": {"get": ALL},
    # The client authenticates with its signed assertion in the body: an empty form is a 400.
    "fhir/auth/token": {"get": NONE, "post": ALL},
    "fhir/Questionnaire": {"get": ALL},
    "fhir/Questionnaire/<questionnaire_id>": {"get": ALL},
    "fhir/Claim/$submit": {"get": NONE, "post": PROVIDERS},
    "fhir/Claim/$inquire": {"get": NONE, "post": PROVIDERS},
    "fhir/Subscription": {"get": NONE, "post": PROVIDERS},
    "fhir/Subscription/<subscription_id>": {"get": ONLY_A, "put": ONLY_A, "delete": ONLY_A},
    "fhir/Subscription/<subscription_id>/$status": {"get": ONLY_A},
    "fhir/<url>": {"get": NONE, "post": NONE},  # unknown FHIR addresses: a 404 for everyone
    # --- Sign-in ---
    "accounts/login/": {"get": ALL},
    "accounts/logout/": {"get": NONE},  # POST only
    # --- Reviewers' pages: reviewers act, auditors and administrators read ---
    "": {"get": WEB_READERS},
    "dashboard/": {"get": WEB_READERS},
    "requests/<request_id>/": {"get": WEB_READERS},
    "requests/<request_id>/claim/": {"get": NONE, "post": REVIEWERS},
    "requests/<request_id>/release/": {"get": NONE, "post": REVIEWERS},
    "requests/<request_id>/actions/<name>/": {"get": REVIEWERS, "post": REVIEWERS},
    "requests/<request_id>/letters/<determination_id>/": {"get": WEB_READERS},
    "requests/<request_id>/letters/<determination_id>.pdf": {"get": WEB_READERS},
    # --- Auditors' pages ---
    "audit/": {"get": AUDIT},
    "audit/requests/<request_id>/": {"get": AUDIT},
    "audit/metrics/": {"get": AUDIT},
    "audit/verify/": {"get": AUDIT, "post": AUDIT},
    # --- The policy team's simulations: plan administrators ---
    "policy/simulations/": {"get": ADMINS, "post": ADMINS},
    "policy/simulations/<simulation_id>/": {"get": ADMINS},
    "policy/simulations/<simulation_id>.csv": {"get": ADMINS},
}

_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")
_REGEX_GROUP = re.compile(r"\(\?P<(\w+)>(?:[^()]|\([^()]*\))*\)")


def _piece(pattern) -> str:
    """One level of a route; a regex's anchors dropped (a path route's "$" is a literal)."""
    text = str(pattern)
    if isinstance(pattern, RegexPattern):
        text = text.removeprefix("^").removesuffix("$").removesuffix(r"\Z")
    return text


def _key(route: str) -> str:
    """A route as RULES names it: converters and regex groups reduced to <name>."""
    return _CONVERTER.sub(r"<\1>", _REGEX_GROUP.sub(r"<\1>", route))


def url_patterns() -> list[tuple[str, str, URLPattern]]:
    """(key, route, pattern) for every pattern the project serves, admin included."""

    def walk(patterns, prefix: str):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + _piece(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                route = prefix + _piece(pattern.pattern)
                yield _key(route), route, pattern

    return list(walk(get_resolver().url_patterns, ""))


def test_every_url_has_a_rule_and_every_rule_a_url():
    keys = [key for key, _, _ in url_patterns()]

    missing = sorted(set(keys) - set(RULES))
    stale = sorted(set(RULES) - set(keys))

    assert not missing, f"URL patterns without an authorization rule: {missing}"
    assert not stale, f"rules for URL patterns that no longer exist: {stale}"
    assert len(keys) == len(set(keys)), "two patterns reduce to one rule key"


def _smart_client(user):
    public = ec.generate_private_key(ec.SECP384R1()).public_key()
    jwk = jwt.algorithms.ECAlgorithm.to_jwk(public, as_dict=True)
    return smart_client_register(user=user, jwks={"keys": [jwk]})


def _fill_required(model: type[models.Model]) -> models.Model:
    """A row of a third-party model with every required field given a plain value."""
    values = {}
    for field in model._meta.concrete_fields:
        if field.primary_key or field.null or field.has_default() or field.blank:
            continue
        if isinstance(field, models.GenericIPAddressField):
            values[field.name] = "10.0.0.1"
        elif isinstance(field, models.DateTimeField):
            values[field.name] = timezone.now()
        elif isinstance(field, models.IntegerField):
            values[field.name] = 1
        elif isinstance(field, models.BooleanField):
            values[field.name] = False
        else:
            values[field.name] = "x"
    return model.objects.create(**values)


@pytest.fixture
def world(
    settings, policies, provider_a, provider_b, nurse, physician, auditor, admin_user
) -> dict:
    """Organization A's objects, named by the URL parameters that address them."""
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"provider": "1000000/min"},
    }
    pa_request = request_submit(actor=provider_a, data=example("esi-lumbar-radiculopathy"))
    evidence_checks_run(pa_request=pa_request)
    pa_request.refresh_from_db()
    determination = Determination.objects.get(request=pa_request)
    subscription = Subscription.objects.create(
        organization=provider_a.organization,
        created_by=provider_a,
        topic="http://hl7.org/fhir/us/davinci-pas/SubscriptionTopic/PASSubscriptionTopic",
        endpoint="https://clinic-a.example/fhir-notify",
    )
    simulation = simulation_create(
        version=PolicyVersion.objects.filter(status="active").order_by("pk").first(),
        since=timezone.localdate(),
        until=timezone.localdate(),
    )
    simulation_run(simulation=simulation)
    admin_objects = {
        "admin/auth/group/": Group.objects.get(name="provider").pk,
        "admin/authtoken/tokenproxy/": Token.objects.get_or_create(user=provider_a)[0].user_id,
        "admin/axes/accessattempt/": _fill_required(AccessAttempt).pk,
        "admin/axes/accesslog/": _fill_required(AccessLog).pk,
        "admin/axes/accessfailurelog/": _fill_required(AccessFailureLog).pk,
        "admin/criteria/policy/": Policy.objects.order_by("pk").first().pk,
        "admin/criteria/policyversion/": PolicyVersion.objects.order_by("pk").first().pk,
        "admin/pas/smartclient/": _smart_client(provider_a).pk,
        "admin/r/": pa_request.organization_id,
    }
    personas = {
        PA: provider_a,
        PB: provider_b,
        NURSE: nurse,
        PHYS: physician,
        AUDITOR: auditor,
        ADMIN: admin_user,
    }
    return {
        "request": pa_request,
        "params": {
            "request_id": pa_request.pk,
            "determination_id": determination.pk,
            "name": "approve",
            "questionnaire_id": questionnaire_id(pa_request.procedure_family),
            "subscription_id": subscription.pk,
            "simulation_id": simulation.pk,
            "content_type_id": ContentType.objects.get_for_model(pa_request.organization).pk,
            "app_label": "auth",
            "url": "no-such-page/",
        },
        "admin_objects": admin_objects,
        "personas": personas,
    }


def fill(route: str, world: dict) -> str:
    params = dict(world["params"])
    for prefix, pk in world["admin_objects"].items():
        if route.startswith(prefix):
            params["object_id"] = pk
    path = _REGEX_GROUP.sub(lambda m: str(params[m.group(1)]), route)
    return "/" + _CONVERTER.sub(lambda m: str(params[m.group(1)]), path)


def client_for(role: str, world: dict) -> Client:
    client = Client(raise_request_exception=False)
    user = world["personas"].get(role)
    if user is not None:
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        token, _ = Token.objects.get_or_create(user=user)
        client.defaults["HTTP_AUTHORIZATION"] = f"Token {token.key}"
    return client


def _to_sign_in(response) -> bool:
    location = response.get("Location", "")
    return "login" in location and "next=" in location


def refused(response) -> bool:
    return response.status_code in {401, 403, 404, 405} or (
        response.status_code in {301, 302} and _to_sign_in(response)
    )


def call(client: Client, method: str, path: str):
    """One request, rolled back afterwards so no role's write changes what the next one sees.

    Returns the first response and the one its redirects (if any) lead to.
    """
    with transaction.atomic():
        if method == "get":
            first = client.get(path)
        else:
            first = getattr(client, method)(
                path,
                data="{}",
                content_type="application/json",
                HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
            )
        final = first
        for _ in range(3):
            if final.status_code not in {301, 302} or _to_sign_in(final):
                break
            final = client.get(final["Location"])
        transaction.set_rollback(True)
    return first, final


def test_each_role_gets_exactly_the_access_its_rule_grants(world):
    problems = []
    for key, route, pattern in url_patterns():
        rule = RULES.get(key)
        if rule is None:
            continue  # reported by test_every_url_has_a_rule_and_every_rule_a_url
        path = fill(route, world)
        # The filled path must reach the pattern under test, not an earlier one.
        assert resolve(path).func is pattern.callback, (path, resolve(path).route)
        clients = {role: client_for(role, world) for role in ROLES}
        for method, allowed in rule.items():
            for role in ROLES:
                first, final = call(clients[role], method, path)
                status = f"{first.status_code}" + (
                    f" -> {final.status_code}" if final is not first else ""
                )
                where = f"{method.upper()} {path} as {role}"
                if first.status_code >= 500 or final.status_code >= 500:
                    problems.append(f"{where}: server error ({status})")
                elif role in allowed and refused(final):
                    problems.append(f"{where}: refused ({status})")
                elif role not in allowed and (not refused(final) or 200 <= first.status_code < 300):
                    problems.append(f"{where}: let in ({status})")

    assert not problems, "authorization matrix:\n" + "\n".join(problems)


def test_the_matrix_request_belongs_to_organization_a(world, provider_a):
    # The rows for provider B (refused) mean something only if the object is really A's.
    assert world["request"].organization_id == provider_a.organization_id
    assert PriorAuthRequest.objects.filter(organization=provider_a.organization).count() == 1
