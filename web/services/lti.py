"""LTI 1.3 services: platforms, the tool's keys, the OIDC login and launch checks, people and cohorts, and the
outbox of scores sent to the platforms' gradebooks (Assignment and Grade Services).

JWT work is PyJWT's (signatures, exp/iat/iss/aud); this module adds what LTI asks on top: state and nonce kept on the
server and used once, azp, deployment ids, message type and version, and a platform key set that is fetched again
when a token names a key it does not hold (the platform rotated its keys).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import and_, bindparam, case, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from web import lti_http
from web.extensions import db
from web.models import (
    Attempt,
    Cohort,
    CohortMembership,
    ExerciseSummary,
    LtiContext,
    LtiDeployment,
    LtiKey,
    LtiPlatform,
    LtiResourceLink,
    LtiScore,
    LtiState,
    LtiUser,
    User,
    utcnow,
)
from web.security import public_url
from web.services.accounts import EMAIL_RE, clean_display_name

LTI_VERSION = "1.3.0"
CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
NRPS_MEDIA_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
# A roster of 100,000 people at the platforms' usual page sizes; past it the LMS is looping.
MAX_ROSTER_PAGES = 1000
RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
DEEP_LINKING_REQUEST = "LtiDeepLinkingRequest"
DL_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/"
# Context roles that make an instructor here. LMS-wide roles (system or institution Administrator) are deliberately
# absent: an LMS administrator launching a course is a learner unless the course itself says otherwise, and no
# launch ever makes a site admin.
INSTRUCTOR_ROLES = frozenset({
    "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor",
    "http://purl.imsglobal.org/vocab/lis/v2/membership#ContentDeveloper",
    "http://purl.imsglobal.org/vocab/lis/v2/membership#Administrator",
    "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant",
    # LTI 1.3 still allows the short names for context roles.
    "Instructor", "ContentDeveloper", "TeachingAssistant",
})
STATE_MAX_AGE = timedelta(minutes=10)
HANDOFF_MAX_AGE = timedelta(minutes=5)
# PyJWT's leeway for exp/iat: platform and site clocks drift a little.
CLOCK_LEEWAY_SECONDS = 60
# A key set is refetched when it is this old anyway, and (for an unknown kid) at most this often per platform.
JWKS_MAX_AGE_SECONDS = 3600
JWKS_REFETCH_SECONDS = 5
KEY_BITS = 2048
DEFAULT_KEEP_DAYS = 30
MAX_TRIES = 12
BACKOFF_BASE_SECONDS = 60
BACKOFF_MAX_SECONDS = 6 * 3600
# Not an argon2 hash, so no password matches it: the account is used through the LMS.
NO_PASSWORD = "!"  # noqa: S105 - a marker, not a secret
ORIGIN_RE = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")


class LtiError(ValueError):
    """A launch or registration is refused; the message says why, for the person or operator who sees it."""


# ------------------------------------------------------------------------------------------------ platforms


def origin_of(url: str) -> str:
    """Return scheme://host[:port] of a URL (empty when it is not an http(s) address)."""
    parts = urlsplit(url or "")
    origin = f"{parts.scheme}://{parts.netloc}"
    return origin if ORIGIN_RE.fullmatch(origin) else ""


def _check_url(name: str, url: str) -> str:
    """Return a stripped http(s) URL or raise LtiError naming the setting."""
    url = (url or "").strip()
    if not origin_of(url):
        raise LtiError(f"{name} must be an https address such as https://lms.example.edu/..., got {url!r}")
    return url


def add_platform(*, issuer: str, client_id: str, auth_login_url: str, auth_token_url: str, jwks_url: str,
                 deployment_ids: list[str], name: str = "", frame_origins: list[str] | None = None,
                 token_audience: str = "", deployments_later: bool = False) -> LtiPlatform:
    """Register a platform, or update the one with this issuer and client id; add its deployment ids.

    `deployments_later`: a dynamic registration whose LMS names its deployment only when the tool is installed.
    """
    issuer, client_id = (issuer or "").strip(), (client_id or "").strip()
    if not issuer:
        raise LtiError("--issuer is required (the platform's iss, e.g. https://canvas.instructure.com)")
    if not client_id:
        raise LtiError("--client-id is required (the id the platform gave the tool)")
    urls = {"--auth-login-url": auth_login_url, "--token-url": auth_token_url, "--jwks-url": jwks_url}
    checked = {key: _check_url(key, value) for key, value in urls.items()}
    origins = []
    for origin in frame_origins or []:
        clean = origin.strip().rstrip("/")
        if not ORIGIN_RE.fullmatch(clean):
            raise LtiError(f"--frame-origin must be scheme://host[:port] with no path, got {origin!r}")
        origins.append(clean)
    deployment_ids = [d.strip() for d in deployment_ids if d and d.strip()]
    if not deployment_ids and not deployments_later:
        raise LtiError("give at least one --deployment-id (the platform shows it when the tool is deployed)")
    db.begin_write()
    platform = db.session.scalar(select(LtiPlatform).where(LtiPlatform.issuer == issuer,
                                                           LtiPlatform.client_id == client_id))
    if platform is None:
        platform = LtiPlatform(issuer=issuer, client_id=client_id)
        db.session.add(platform)
    platform.name = (name or platform.name or issuer)[:200]
    platform.auth_login_url = checked["--auth-login-url"]
    platform.auth_token_url = checked["--token-url"]
    platform.jwks_url = checked["--jwks-url"]
    platform.token_audience = (token_audience or "").strip()
    # The LMS frames the tool from its own pages: by default the origins of its issuer and login endpoint.
    default = [o for o in (origin_of(issuer), origin_of(platform.auth_login_url)) if o]
    # Updating without --frame-origin keeps the origins given before.
    platform.frame_origins = sorted(set(origins or platform.frame_origins or default))
    db.session.flush()
    known = {d.deployment_id for d in platform.deployments}
    for dep in deployment_ids:
        if dep not in known:
            platform.deployments.append(LtiDeployment(deployment_id=dep))
            known.add(dep)
    db.session.commit()
    return platform


def all_frame_origins() -> list[str]:
    """Return every switched-on platform's framing origins (for pages shown before a launch is known)."""
    return sorted({o for p in db.session.scalars(select(LtiPlatform).where(LtiPlatform.enabled))
                   for o in (p.frame_origins or [])})


def switch_platform(platform_id: int, enabled: bool) -> LtiPlatform:
    """Switch a platform on or off; return it, or raise LtiError for an unknown id.

    Off refuses its logins and launches and holds its scores in the outbox; nothing is deleted, so switching it on
    again resumes where it stopped (its users, courses and waiting scores are all still there).
    """
    db.begin_write()
    platform = db.session.get(LtiPlatform, platform_id)
    if platform is None:
        db.session.rollback()
        raise LtiError(f"There is no LMS platform with id {platform_id}.")
    platform.enabled = enabled
    db.session.commit()
    return platform


def _check_enabled(platform: LtiPlatform) -> None:
    """Refuse a switched-off platform's login or launch with what to do about it."""
    if not platform.enabled:
        raise LtiError(f"The site's administrator has switched “{platform.name or platform.issuer}” off, so it "
                       "cannot open the course now. Ask them to switch it on again.")


def platforms() -> list[LtiPlatform]:
    """Return every registered platform, oldest first."""
    return list(db.session.scalars(select(LtiPlatform).order_by(LtiPlatform.id)))


def find_platform(issuer: str, client_id: str | None) -> LtiPlatform:
    """Return the platform for a login request's iss (and client_id when sent), or raise LtiError."""
    query = select(LtiPlatform).where(LtiPlatform.issuer == (issuer or ""))
    if client_id:
        query = query.where(LtiPlatform.client_id == client_id)
    found = list(db.session.scalars(query.limit(2)))
    if not found:
        raise LtiError("This LMS is not registered with the site (unknown issuer or client id). "
                       "An administrator adds it with `course lti add-platform`.")
    if len(found) > 1:
        raise LtiError("Several registrations share this issuer; the LMS must send client_id with the login.")
    return found[0]


# ------------------------------------------------------------------------------------------- the tool's keys


def _new_key() -> LtiKey:
    """Return a fresh 2048-bit RSA key as a row (not yet added)."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode("ascii")
    return LtiKey(kid=uuid.uuid4().hex, private_pem=pem)


def signing_key() -> LtiKey:
    """Return the newest active key, making the first one on first use."""
    key = db.session.scalar(select(LtiKey).where(LtiKey.retired_at.is_(None))
                            .order_by(LtiKey.created_at.desc(), LtiKey.kid).limit(1))
    if key is not None:
        return key
    db.begin_write()
    key = _new_key()
    db.session.add(key)
    db.session.commit()
    return key


def rotate_key(keep_days: int = DEFAULT_KEEP_DAYS) -> LtiKey:
    """Make a new signing key; older ones stay published for at most `keep_days` (platforms cache key sets).

    0 days withdraws every older key at once (after a leak).
    """
    if keep_days < 0:
        raise LtiError("--keep-days must be 0 or more")
    db.begin_write()
    now = utcnow()
    until = now + timedelta(days=keep_days)
    for old in db.session.scalars(select(LtiKey).where((LtiKey.expires_at.is_(None)) | (LtiKey.expires_at > until))):
        old.retired_at = old.retired_at or now
        old.expires_at = until
    key = _new_key()
    key.created_at = now + timedelta(microseconds=1)
    db.session.add(key)
    db.session.commit()
    return key


def _private_key(key: LtiKey) -> Any:
    """Return the parsed private key of a row (parsed once per process)."""
    cache = current_app.extensions.setdefault("lti_private_keys", {})
    if key.kid not in cache:
        cache[key.kid] = serialization.load_pem_private_key(key.private_pem.encode("ascii"), password=None)
    return cache[key.kid]


def public_jwks() -> dict[str, Any]:
    """Return the tool's key set: the active key and the retired ones not yet expired."""
    signing_key()
    now = utcnow()
    rows = db.session.scalars(select(LtiKey).order_by(LtiKey.created_at.desc()))
    keys = []
    for row in rows:
        if row.expires_at is not None and row.expires_at <= now:
            continue
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(_private_key(row).public_key(), as_dict=True)
        keys.append({**jwk, "kid": row.kid, "alg": "RS256", "use": "sig"})
    return {"keys": keys}


def sign(claims: dict[str, Any]) -> str:
    """Sign claims as a JWT with the tool's current key (RS256, kid in the header)."""
    key = signing_key()
    return jwt.encode(claims, _private_key(key), algorithm="RS256", headers={"kid": key.kid})


# ------------------------------------------------------------------------------------------ platform key sets


def _fetch_jwks(platform: LtiPlatform) -> dict[str, jwt.PyJWK]:
    """Fetch a platform's key set; return {kid: key} for its signing keys."""
    try:
        resp = lti_http.client().request("GET", platform.jwks_url, headers={"Accept": "application/json"})
    except lti_http.PlatformUnreachable as exc:
        raise LtiError(f"The LMS's key set could not be fetched ({exc}); try the launch again.") from exc
    if not resp.ok:
        raise LtiError(f"The LMS's key set answered HTTP {resp.status}; try the launch again.")
    try:
        keyset = jwt.PyJWKSet.from_dict(resp.json())
    except (ValueError, jwt.PyJWKSetError, jwt.InvalidKeyError) as exc:
        raise LtiError(f"The LMS's key set at {platform.jwks_url} is not a usable JWKS ({exc}).") from exc
    return {k.key_id: k for k in keyset.keys if k.key_id}


def platform_key(platform: LtiPlatform, kid: str | None) -> Any:
    """Return the platform's public key named `kid`, fetching its key set again when that kid is new to us."""
    if not kid:
        raise LtiError("The launch token names no signing key (kid); the LMS must send one.")
    cache: dict[int, tuple[float, str, dict[str, jwt.PyJWK]]] = current_app.extensions.setdefault("lti_jwks", {})
    now = time.monotonic()
    fetched_at, url, keys = cache.get(platform.id, (0.0, "", {}))
    stale = url != platform.jwks_url or now - fetched_at > JWKS_MAX_AGE_SECONDS
    # An unknown kid means the platform rotated its keys: fetch again, but not on every request (a flood of made-up
    # kids must not turn the site into a hammer on the LMS).
    refetch_every = float(current_app.config.get("LTI_JWKS_REFETCH_SECONDS", JWKS_REFETCH_SECONDS))
    if stale or (kid not in keys and now - fetched_at >= refetch_every):
        keys = _fetch_jwks(platform)
        cache[platform.id] = (now, platform.jwks_url, keys)
    if kid not in keys:
        raise LtiError("The launch token is signed with a key the LMS does not publish (unknown kid).")
    return keys[kid].key


# ----------------------------------------------------------------------------------------- login and launch


def _purge_states() -> None:
    """Delete login states and hand-offs too old to be used (keeps the table small)."""
    db.session.execute(delete(LtiState).where(LtiState.created_at < utcnow() - STATE_MAX_AGE))


def begin_login(params: dict[str, str], redirect_uri: str) -> tuple[str, str]:
    """Start an OIDC third-party login: store state and nonce, return (the platform's auth URL, state)."""
    if not redirect_uri.startswith(("https://", "http://")):
        raise LtiError("The site's SITE_URL is not set, so it cannot tell the LMS where to send the launch. "
                       "Set SITE_URL (see docs/deploy.md).")
    missing = [k for k in ("iss", "login_hint", "target_link_uri") if not params.get(k)]
    if missing:
        raise LtiError(f"The LMS's login request lacks {', '.join(missing)}.")
    platform = find_platform(params["iss"], params.get("client_id"))
    _check_enabled(platform)
    deployment = params.get("lti_deployment_id")
    if deployment and deployment not in {d.deployment_id for d in platform.deployments}:
        raise LtiError("This deployment of the tool is not registered (unknown lti_deployment_id).")
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    db.begin_write()
    _purge_states()
    db.session.add(LtiState(token=state, kind="login", platform_id=platform.id, nonce=nonce,
                            target=params["target_link_uri"][:500]))
    db.session.commit()
    query = {
        "scope": "openid", "response_type": "id_token", "response_mode": "form_post", "prompt": "none",
        "client_id": platform.client_id, "redirect_uri": redirect_uri, "login_hint": params["login_hint"],
        "state": state, "nonce": nonce,
    }
    if params.get("lti_message_hint"):
        query["lti_message_hint"] = params["lti_message_hint"]
    sep = "&" if "?" in platform.auth_login_url else "?"
    return platform.auth_login_url + sep + urlencode(query), state


def _take_state(token: str, kind: str, max_age: timedelta) -> LtiState:
    """Delete and return a one-time state; raise LtiError when it is unknown, used or too old."""
    db.begin_write()
    row = db.session.get(LtiState, token or "")
    if row is None or row.kind != kind:
        db.session.rollback()
        raise LtiError("This launch is unknown or was already used (state mismatch). Open the tool again from "
                       "the LMS.")
    # Deleting in the same transaction that read it: a second worker handed the same state finds nothing.
    result = db.session.execute(delete(LtiState).where(LtiState.token == row.token))
    if result.rowcount != 1:
        db.session.rollback()
        raise LtiError("This launch was already used. Open the tool again from the LMS.")
    db.session.commit()
    if row.created_at < utcnow() - max_age:
        raise LtiError("This launch took too long and has expired. Open the tool again from the LMS.")
    return row


def verify_id_token(platform: LtiPlatform, id_token: str, nonce: str) -> dict[str, Any]:
    """Check an id_token in full against its platform and the login's nonce; return its claims."""
    try:
        header = jwt.get_unverified_header(id_token)
    except jwt.DecodeError as exc:
        raise LtiError("The launch token is not a JWT.") from exc
    key = platform_key(platform, header.get("kid"))
    try:
        claims = jwt.decode(
            id_token, key, algorithms=["RS256"], audience=platform.client_id, issuer=platform.issuer,
            leeway=CLOCK_LEEWAY_SECONDS, options={"require": ["exp", "iat", "iss", "aud", "sub", "nonce"]})
    except jwt.ExpiredSignatureError as exc:
        raise LtiError("The launch token has expired; open the tool again from the LMS.") from exc
    except jwt.InvalidIssuerError as exc:
        raise LtiError("The launch token's issuer (iss) is not the LMS that started the login.") from exc
    except jwt.InvalidAudienceError as exc:
        raise LtiError("The launch token is meant for another tool (aud is not this tool's client id).") from exc
    except jwt.ImmatureSignatureError as exc:
        raise LtiError("The launch token was issued in the future (iat); check the LMS's clock.") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise LtiError(f"The launch token lacks the {exc.claim} claim.") from exc
    except jwt.InvalidSignatureError as exc:
        raise LtiError("The launch token's signature does not match the LMS's key.") from exc
    except jwt.InvalidTokenError as exc:
        raise LtiError(f"The launch token is not valid ({exc}).") from exc
    aud = claims["aud"]
    if (isinstance(aud, list) and len(aud) > 1 or "azp" in claims) and claims.get("azp") != platform.client_id:
        raise LtiError("The launch token's authorised party (azp) is not this tool.")
    if not hmac.compare_digest(str(claims["nonce"]), nonce):
        raise LtiError("The launch token's nonce does not belong to this login (a replayed token).")
    deployment = claims.get(CLAIM + "deployment_id")
    if deployment not in {d.deployment_id for d in platform.deployments}:
        raise LtiError("This deployment of the tool is not registered (unknown deployment_id).")
    if claims.get(CLAIM + "version") != LTI_VERSION:
        raise LtiError(f"Only LTI {LTI_VERSION} launches are supported.")
    message_type = claims.get(CLAIM + "message_type")
    if message_type == DEEP_LINKING_REQUEST:
        settings = claims.get(DL_CLAIM + "deep_linking_settings")
        if not isinstance(settings, dict) or not origin_of(str(settings.get("deep_link_return_url") or "")):
            raise LtiError("The deep-linking request names no deep_link_return_url.")
    elif message_type == RESOURCE_LINK_REQUEST:
        if not isinstance(claims.get(CLAIM + "resource_link"), dict) or not claims[CLAIM + "resource_link"].get("id"):
            raise LtiError("The launch names no resource link.")
    else:
        raise LtiError(f"This tool answers {RESOURCE_LINK_REQUEST} and {DEEP_LINKING_REQUEST} launches only "
                       f"(got {message_type!r}).")
    return claims


@dataclass(frozen=True)
class Launch:
    """A checked launch: who, from which platform, where to send them."""

    user: User
    platform: LtiPlatform
    target: str
    cohort: Cohort | None
    instructor: bool
    # For a deep-linking request: where the picked links go back to, and what to echo (see deep_link_response).
    deep_link: dict[str, Any] | None = None


def complete_launch(form: dict[str, str]) -> Launch:
    """Check a launch POST (state, then id_token) and map its person, course and link; return where to go."""
    if form.get("error"):
        raise LtiError(f"The LMS refused the login: {form.get('error_description') or form['error']}.")
    if not form.get("id_token"):
        raise LtiError("The launch carries no id_token.")
    state = _take_state(form.get("state", ""), "login", STATE_MAX_AGE)
    platform = db.session.get(LtiPlatform, state.platform_id)
    _check_enabled(platform)  # switched off between the login and the launch
    claims = verify_id_token(platform, form["id_token"], state.nonce)
    instructor = bool(INSTRUCTOR_ROLES.intersection(claims.get(CLAIM + "roles") or []))
    deep_link = None
    if claims[CLAIM + "message_type"] == DEEP_LINKING_REQUEST:
        if not instructor:
            raise LtiError("Only the course's instructors can add the course's lessons and exercises to it.")
        settings = claims[DL_CLAIM + "deep_linking_settings"]
        deep_link = {"platform": platform.id, "deployment_id": claims[CLAIM + "deployment_id"],
                     "return_url": str(settings["deep_link_return_url"]),
                     "multiple": settings.get("accept_multiple", True) is not False,
                     "data": settings.get("data")}
    user = _user_for(platform, claims, instructor)
    context = _context_for(platform, claims, user, instructor)
    target = "/lti/deep-link" if deep_link else resolve_target(claims)
    if context is not None and not deep_link:
        _record_link(context, claims, target)
    cohort = db.session.get(Cohort, context.cohort_id) if context is not None else None
    return Launch(user=user, platform=platform, target=target, cohort=cohort, instructor=instructor,
                  deep_link=deep_link)


# ---------------------------------------------------------------------------------------------- deep linking


def deep_link_items(course: Any, picked: list[str]) -> list[dict[str, Any]]:
    """Return LTI content items for picked 'lesson:ID' / 'exercise:ID' values; graded exercises get a line item.

    Raises LtiError naming a value that is no lesson or exercise of the course.
    """
    items = []
    for value in picked:
        kind, _, ident = value.partition(":")
        if kind == "exercise" and ident in course.exercises:
            exercise = course.exercises[ident]
            items.append({
                "type": "ltiResourceLink", "title": exercise.title,
                "url": public_url("exercises.show", exercise_id=ident), "custom": {"exercise": ident},
                "lineItem": {"scoreMaximum": 100, "label": exercise.title, "resourceId": ident},
            })
        elif kind == "lesson" and ident in course.lessons:
            items.append({"type": "ltiResourceLink", "title": course.lessons[ident].title,
                          "url": public_url("learn.lesson", lesson_id=ident), "custom": {"lesson": ident}})
        else:
            raise LtiError(f"{value!r} is not a lesson or exercise of this course.")
    return items


def deep_link_response(request: dict[str, Any], items: list[dict[str, Any]]) -> str:
    """Return the signed LtiDeepLinkingResponse JWT that carries the picked items back to the platform."""
    platform = db.session.get(LtiPlatform, request["platform"])
    if platform is None:
        raise LtiError("The LMS that asked for links is no longer registered.")
    now = int(time.time())
    claims = {
        "iss": platform.client_id, "aud": platform.issuer, "iat": now, "exp": now + 600,
        "nonce": secrets.token_urlsafe(16),
        CLAIM + "message_type": "LtiDeepLinkingResponse", CLAIM + "version": LTI_VERSION,
        CLAIM + "deployment_id": request["deployment_id"],
        DL_CLAIM + "content_items": items,
    }
    if request.get("data") is not None:
        claims[DL_CLAIM + "data"] = request["data"]
    return sign(claims)


# --------------------------------------------------------------------------------------------------- people


def _committed() -> bool:
    """Commit; when a concurrent request stored the same unique key first, roll back and return False (read again)."""
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return False
    return True


def _email_for(platform: LtiPlatform, claims: dict[str, Any]) -> str:
    """Return the platform's email for the person when it is free here, else a unique address that is no one's."""
    email = str(claims.get("email") or "").strip().lower()
    # Never an existing account's address: a platform saying "this is alice@x" must not hand over Alice's account.
    if email and len(email) <= 254 and EMAIL_RE.match(email) \
            and db.session.scalar(select(User.id).where(User.email == email)) is None:
        return email
    digest = hashlib.sha256(f"{platform.id}:{claims['sub']}".encode()).hexdigest()[:20]
    return f"lti-{digest}@lti.invalid"


def _display_name(claims: dict[str, Any]) -> str:
    """Return the person's name from the launch (name, else given + family name)."""
    name = claims.get("name") or " ".join(str(claims.get(k) or "") for k in ("given_name", "family_name"))
    return clean_display_name(str(name))


def _user_for(platform: LtiPlatform, claims: dict[str, Any], instructor: bool) -> User:
    """Return the site user for (iss, sub), creating it on the first launch; an LMS instructor becomes one here."""
    sub = str(claims["sub"])[:255]
    for _ in range(2):
        db.begin_write()
        link = db.session.scalar(select(LtiUser).where(LtiUser.platform_id == platform.id, LtiUser.sub == sub))
        if link is not None:
            user = db.session.get(User, link.user_id)
            name = _display_name(claims)
            if name and name != user.display_name:
                user.display_name = name
            if instructor and user.role == "learner":
                user.role = "instructor"
            db.session.commit()
            return user
        user = User(email=_email_for(platform, claims), display_name=_display_name(claims), password_hash=NO_PASSWORD,
                    role="instructor" if instructor else "learner", email_confirmed_at=utcnow())
        db.session.add(user)
        db.session.flush()
        db.session.add(LtiUser(platform_id=platform.id, sub=sub, user_id=user.id))
        # Not committed: the same person's first launch in another tab or worker won the race; use their account.
        if _committed():
            return user
    raise LtiError("The account for this launch could not be created; try again.")


def _context_for(platform: LtiPlatform, claims: dict[str, Any], user: User, instructor: bool) -> LtiContext | None:
    """Return the LMS course's context row (its cohort made on the first launch) with the person joined to it."""
    ctx = claims.get(CLAIM + "context")
    if not isinstance(ctx, dict) or not ctx.get("id"):
        return None
    context_id = str(ctx["id"])[:255]
    title = " ".join(str(ctx.get("title") or ctx.get("label") or "LMS course").split())[:180]
    for _ in range(2):
        db.begin_write()
        row = db.session.scalar(select(LtiContext).where(LtiContext.platform_id == platform.id,
                                                         LtiContext.context_id == context_id))
        if row is None:
            cohort = Cohort(name=f"{title} ({platform.name})"[:200], owner_id=user.id if instructor else None)
            db.session.add(cohort)
            db.session.flush()
            row = LtiContext(platform_id=platform.id, context_id=context_id, cohort_id=cohort.id, title=title)
            db.session.add(row)
        else:
            cohort = db.session.get(Cohort, row.cohort_id)
            if instructor and cohort.owner_id is None:
                # A learner launched first: the first instructor to arrive takes the cohort.
                cohort.owner_id = user.id
        if not instructor and db.session.get(CohortMembership, (cohort.id, user.id)) is None:
            db.session.add(CohortMembership(cohort_id=cohort.id, user_id=user.id))
        nrps = claims.get(NRPS_CLAIM)
        if isinstance(nrps, dict) and origin_of(str(nrps.get("context_memberships_url") or "")):
            row.memberships_url = str(nrps["context_memberships_url"])[:500]
        if _committed():
            return row
    raise LtiError("The LMS course could not be linked to a cohort; try again.")


def resolve_target(claims: dict[str, Any]) -> str:
    """Return the site path a launch opens: a custom exercise or lesson, the target link's page, or the course home."""
    course = current_app.extensions["course"]
    custom = claims.get(CLAIM + "custom") or {}
    if isinstance(custom, dict):
        if str(custom.get("exercise", "")) in course.exercises:
            return f"/exercises/{custom['exercise']}"
        if str(custom.get("lesson", "")) in course.lessons:
            return f"/lessons/{custom['lesson']}"
    path = urlsplit(str(claims.get(CLAIM + "target_link_uri") or "")).path
    match = re.fullmatch(r"/(exercises|lessons)/([A-Za-z0-9_-]+)", path)
    if match and match.group(2) in (course.exercises if match.group(1) == "exercises" else course.lessons):
        return path
    return "/"


def _record_link(context: LtiContext, claims: dict[str, Any], target: str) -> None:
    """Remember a resource link: the exercise it opens and the line item (AGS) its scores go to."""
    link_claim = claims[CLAIM + "resource_link"]
    link_id = str(link_claim["id"])[:255]
    ags = claims.get(AGS_CLAIM) if isinstance(claims.get(AGS_CLAIM), dict) else {}
    can_score = SCORE_SCOPE in (ags.get("scope") or [])
    lineitem = str(ags.get("lineitem") or "")[:500] if can_score and origin_of(str(ags.get("lineitem") or "")) \
        else ""
    exercise_id = target.removeprefix("/exercises/") if target.startswith("/exercises/") else None
    for _ in range(2):
        db.begin_write()
        row = db.session.scalar(select(LtiResourceLink).where(LtiResourceLink.context_ref == context.id,
                                                              LtiResourceLink.resource_link_id == link_id))
        if row is None:
            row = LtiResourceLink(context_ref=context.id, resource_link_id=link_id)
            db.session.add(row)
        row.title = str(link_claim.get("title") or "")[:255]
        row.exercise_id = exercise_id
        if lineitem:
            row.lineitem_url = lineitem
        if _committed():
            return


def new_handoff(launch: Launch) -> str:
    """Store a one-time, short-lived pass that logs the launched person in from a new window; return its token."""
    token = secrets.token_urlsafe(32)
    db.begin_write()
    db.session.add(LtiState(token=token, kind="handoff", platform_id=launch.platform.id, user_id=launch.user.id,
                            target=launch.target, deep_link=launch.deep_link))
    db.session.commit()
    return token


def take_handoff(token: str) -> tuple[User, str, dict[str, Any] | None]:
    """Spend a hand-off pass; return (user, target path, open deep-linking request or None) or raise LtiError."""
    row = _take_state(token, "handoff", HANDOFF_MAX_AGE)
    _check_enabled(db.session.get(LtiPlatform, row.platform_id))
    user = db.session.get(User, row.user_id) if row.user_id else None
    if user is None:
        raise LtiError("This link is no longer valid. Open the tool again from the LMS.")
    return user, row.target or "/", row.deep_link if isinstance(row.deep_link, dict) else None


# ------------------------------------------------------------------------------------- scores (AGS) outbox


def _best_score(user_id: int, exercise_id: str) -> float | None:
    """Return the learner's best score on an exercise as the progress page counts it (a reviewer's override too).

    Read from the learner's summary, which the caller has refreshed in the same transaction.
    """
    return db.session.scalar(select(ExerciseSummary.best_score).where(
        ExerciseSummary.user_id == user_id, ExerciseSummary.exercise_id == exercise_id))


# The learner's LMS line items for one exercise, built once: every submission asks, and building this three-join
# statement cost more than running it (bench/profile_requests.py submit).
_LINKED_ITEMS = (
    select(LtiResourceLink.id)
    .join(LtiContext, LtiContext.id == LtiResourceLink.context_ref)
    .join(CohortMembership, and_(CohortMembership.cohort_id == LtiContext.cohort_id,
                                 CohortMembership.user_id == bindparam("uid")))
    .join(LtiUser, and_(LtiUser.platform_id == LtiContext.platform_id, LtiUser.user_id == bindparam("uid")))
    .where(LtiResourceLink.exercise_id == bindparam("exercise"), LtiResourceLink.lineitem_url != "")
)


def queue_scores(user_id: int, exercise_id: str, also: float | None = None) -> int:
    """Put the learner's best score on every LMS line item linked to this exercise into the outbox; return how many.

    Called inside the transaction that stores, regrades or overrides an attempt, after the learner's summary is
    refreshed, so the score and the outbox row commit together; `also` is a score not yet in the summary. One query
    when the learner came from no LMS.
    """
    links = list(db.session.scalars(_LINKED_ITEMS, {"uid": user_id, "exercise": exercise_id}))
    if not links:
        return 0
    scores = [s for s in (_best_score(user_id, exercise_id), also) if s is not None]
    if not scores:
        return 0
    best = max(scores)
    table = LtiScore.__table__
    now = utcnow()
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    for link_id in links:
        stmt = insert(table).values(link_id=link_id, user_id=user_id, score=best, status="pending", tries=0,
                                    next_try_at=now, last_error="", updated_at=now)
        # An upsert: two submissions racing on PostgreSQL must not fail the learner's attempt on this row.
        waiting = and_(table.c.status == "pending", table.c.tries > 0)
        stmt = stmt.on_conflict_do_update(index_elements=["link_id", "user_id"], set_={
            "score": stmt.excluded.score,
            "status": case((and_(table.c.status == "sent", table.c.sent_score == stmt.excluded.score), "sent"),
                           else_="pending"),
            # A platform in back-off stays in back-off: a new score must not make every submission wait on it.
            "next_try_at": case((waiting, table.c.next_try_at), else_=stmt.excluded.next_try_at),
            "tries": case((waiting, table.c.tries), else_=0),
            "updated_at": stmt.excluded.updated_at,
        })
        db.session.execute(stmt)
    return len(links)


def queue_regraded(exercise_id: str) -> None:
    """Queue the best scores of every learner who came from an LMS and has attempts on an exercise (after a regrade)."""
    users = db.session.scalars(select(LtiUser.user_id).distinct().join(Attempt, Attempt.user_id == LtiUser.user_id)
                               .where(Attempt.exercise_id == exercise_id))
    for user_id in list(users):
        queue_scores(user_id, exercise_id)


def backoff(tries: int) -> timedelta:
    """Return the wait before try number `tries + 1`: 1, 2, 4 ... minutes, at most 6 hours."""
    return timedelta(seconds=min(BACKOFF_BASE_SECONDS * 2 ** max(0, tries - 1), BACKOFF_MAX_SECONDS))


def _access_token(platform: LtiPlatform, scope: str) -> str:
    """Return an OAuth2 access token for a scope (client credentials with a signed assertion), cached till expiry."""
    cache: dict[tuple[int, str], tuple[float, str]] = current_app.extensions.setdefault("lti_tokens", {})
    cached = cache.get((platform.id, scope))
    if cached and cached[0] > time.monotonic():
        return cached[1]
    now = int(time.time())
    assertion = sign({"iss": platform.client_id, "sub": platform.client_id,
                      "aud": platform.token_audience or platform.auth_token_url,
                      "iat": now, "exp": now + 300, "jti": uuid.uuid4().hex})
    body = urlencode({"grant_type": "client_credentials",
                      "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                      "client_assertion": assertion, "scope": scope}).encode()
    resp = lti_http.client().request("POST", platform.auth_token_url, data=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"})
    if not resp.ok:
        raise _PushFailed(resp.status, f"token endpoint answered HTTP {resp.status}")
    try:
        data = resp.json()
        token = str(data["access_token"])
    except (ValueError, KeyError, TypeError) as exc:
        raise _PushFailed(502, "token endpoint gave no access_token") from exc
    expires = float(data.get("expires_in") or 3600)
    cache[(platform.id, scope)] = (time.monotonic() + max(0.0, expires - 30), token)
    return token


class _PushFailed(Exception):
    """A score was not accepted: the HTTP status (0 when unreachable) and what happened."""

    def __init__(self, status: int, message: str):
        """Keep the status and message."""
        super().__init__(message)
        self.status = status


def scores_url(lineitem: str) -> str:
    """Return the line item's scores endpoint: its path plus /scores, keeping any query."""
    parts = urlsplit(lineitem)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))


def score_body(sub: str, score: float, when: datetime) -> dict[str, Any]:
    """Return the AGS score for a learner's best score (0..1 on the site, out of 100 in the gradebook)."""
    return {
        "userId": sub,
        "scoreGiven": round(score * 100, 2),
        "scoreMaximum": 100,
        "activityProgress": "Completed",
        "gradingProgress": "FullyGraded",
        "timestamp": when.isoformat(timespec="milliseconds"),
    }


def _send(row: LtiScore) -> None:
    """POST one outbox row's score to its line item; raise _PushFailed when the platform does not take it."""
    link = db.session.get(LtiResourceLink, row.link_id)
    context = db.session.get(LtiContext, link.context_ref)
    platform = db.session.get(LtiPlatform, context.platform_id)
    sub = db.session.scalar(select(LtiUser.sub).where(LtiUser.platform_id == platform.id,
                                                      LtiUser.user_id == row.user_id))
    try:
        token = _access_token(platform, SCORE_SCOPE)
        resp = lti_http.client().request(
            "POST", scores_url(link.lineitem_url), data=json.dumps(score_body(sub, row.score, utcnow())).encode(),
            headers={"Content-Type": "application/vnd.ims.lis.v1.score+json", "Authorization": f"Bearer {token}"})
    except lti_http.PlatformUnreachable as exc:
        raise _PushFailed(0, f"unreachable: {exc}") from exc
    if resp.status == 401:
        # The token may have been revoked early: the next try asks for a new one.
        current_app.extensions.get("lti_tokens", {}).pop((platform.id, SCORE_SCOPE), None)
    if not resp.ok:
        raise _PushFailed(resp.status, f"HTTP {resp.status}: {resp.body[:200].decode('utf-8', 'replace')}")


def _retryable(status: int) -> bool:
    """Return True for failures worth trying again: unreachable, 5xx, 408, 429 and 401 (token expired)."""
    return status == 0 or status >= 500 or status in (401, 408, 429)


@dataclass
class SyncReport:
    """What one push did."""

    sent: int = 0
    waiting: int = 0
    failed: int = 0

    def summary(self) -> str:
        """Return one line for the operator."""
        return f"{self.sent} sent, {self.waiting} waiting to retry, {self.failed} refused by the platform"


def push_due(user_id: int | None = None, *, include_failed: bool = False, limit: int = 500) -> SyncReport:
    """Send the outbox rows that are due (one learner's, or all), recording each outcome; return the counts."""
    report = SyncReport()
    now = utcnow()
    statuses = ("pending", "failed") if include_failed else ("pending",)
    # A switched-off platform's scores wait, untried, until it is switched on again.
    query = select(LtiScore).join(LtiResourceLink, LtiResourceLink.id == LtiScore.link_id) \
        .join(LtiContext, LtiContext.id == LtiResourceLink.context_ref) \
        .join(LtiPlatform, LtiPlatform.id == LtiContext.platform_id) \
        .where(LtiScore.status.in_(statuses), LtiScore.next_try_at <= now, LtiPlatform.enabled) \
        .order_by(LtiScore.next_try_at, LtiScore.id).limit(limit)
    if user_id is not None:
        query = query.where(LtiScore.user_id == user_id)
    for row in list(db.session.scalars(query)):
        score = row.score
        try:
            _send(row)
        except _PushFailed as exc:
            retry = _retryable(exc.status) and row.tries + 1 < MAX_TRIES
            db.begin_write()
            db.session.execute(update(LtiScore).where(LtiScore.id == row.id).values(
                status="pending" if retry else "failed", tries=LtiScore.tries + 1,
                next_try_at=utcnow() + backoff(row.tries + 1), last_error=str(exc)[:500]))
            db.session.commit()
            if retry:
                report.waiting += 1
            else:
                report.failed += 1
            continue
        db.begin_write()
        # Marked sent only if no newer score arrived while this one was on its way (that one stays pending).
        db.session.execute(update(LtiScore).where(LtiScore.id == row.id, LtiScore.score == score).values(
            status="sent", sent_score=score, sent_at=utcnow(), tries=0, last_error=""))
        db.session.commit()
        report.sent += 1
    return report


def after_attempt(user_id: int) -> None:
    """Try to send a learner's due scores right after grading; any failure stays in the outbox for later."""
    if not current_app.config.get("LTI_PUSH_ON_SUBMIT", True):
        return
    if db.session.scalar(select(LtiScore.id).where(LtiScore.user_id == user_id, LtiScore.status == "pending")
                         .limit(1)) is None:
        return
    try:
        push_due(user_id)
    except Exception:  # noqa: BLE001 - the learner's attempt is stored; the outbox keeps the score for later
        current_app.logger.exception("LTI score push failed; the score stays in the outbox")


@dataclass(frozen=True)
class ScoreState:
    """One learner's score on one LMS line item, as the instructor's sync page shows it."""

    name: str
    email: str
    link_title: str
    exercise_id: str
    score: float
    status: str
    tries: int
    last_error: str
    sent_at: datetime | None
    next_try_at: datetime


def cohort_sync_state(cohort: Cohort) -> tuple[list[LtiContext], list[ScoreState]]:
    """Return the LMS courses linked to a cohort and the outbox state of its learners' scores."""
    contexts = list(db.session.scalars(select(LtiContext).where(LtiContext.cohort_id == cohort.id)))
    if not contexts:
        return [], []
    rows = db.session.execute(
        select(User.display_name, User.email, LtiResourceLink.title, LtiResourceLink.exercise_id, LtiScore)
        .join(LtiScore, LtiScore.user_id == User.id)
        .join(LtiResourceLink, LtiResourceLink.id == LtiScore.link_id)
        .where(LtiResourceLink.context_ref.in_([c.id for c in contexts]))
        .order_by(func.lower(User.display_name), User.id, LtiResourceLink.id)
    )
    states = [ScoreState(name=name or email, email=email, link_title=title or exercise_id or "",
                         exercise_id=exercise_id or "", score=s.score, status=s.status, tries=s.tries,
                         last_error=s.last_error, sent_at=s.sent_at, next_try_at=s.next_try_at)
              for name, email, title, exercise_id, s in rows]
    return contexts, states


# ------------------------------------------------------------------------------------------ roster (NRPS)


@dataclass
class RosterReport:
    """What a roster sync did."""

    added: int = 0
    already: int = 0
    skipped: int = 0
    pages: int = 0

    def summary(self) -> str:
        """Return one sentence for the instructor."""
        return (f"Roster synced from the LMS: {self.added} learner{'' if self.added == 1 else 's'} added, "
                f"{self.already} already in the cohort, {self.skipped} staff or inactive skipped.")


def next_link(header: str | None) -> str | None:
    """Return the rel="next" URL of an HTTP Link header, or None."""
    for part in (header or "").split(","):
        match = re.fullmatch(r'\s*<([^>]+)>\s*;(.*)', part)
        if match and re.search(r'rel\s*=\s*"?([^";]*\s)?next(\s[^";]*)?"?', match.group(2)):
            return match.group(1)
    return None


def _roster_page(platform: LtiPlatform, url: str) -> tuple[list[dict[str, Any]], str | None]:
    """Fetch one page of a course roster; return its members and the next page's URL."""
    try:
        token = _access_token(platform, NRPS_SCOPE)
        resp = lti_http.client().request("GET", url, headers={"Accept": NRPS_MEDIA_TYPE,
                                                               "Authorization": f"Bearer {token}"})
    except _PushFailed as exc:
        raise LtiError(f"The LMS refused the roster request ({exc}).") from exc
    except lti_http.PlatformUnreachable as exc:
        raise LtiError(f"The LMS could not be reached for the roster ({exc}); try again later.") from exc
    if not resp.ok:
        raise LtiError(f"The LMS roster answered HTTP {resp.status}; nothing more was changed.")
    try:
        members = resp.json().get("members") or []
    except (ValueError, AttributeError) as exc:
        raise LtiError("The LMS roster is not the JSON it should be.") from exc
    return [m for m in members if isinstance(m, dict)], next_link(resp.headers.get("link"))


def sync_roster(cohort: Cohort) -> RosterReport:
    """Add every active learner of the cohort's LMS courses to the cohort (accounts made as on a first launch)."""
    contexts = [c for c in db.session.scalars(select(LtiContext).where(LtiContext.cohort_id == cohort.id))
                if c.memberships_url]
    if not contexts:
        raise LtiError("The LMS has not offered this course's roster (Names and Role Provisioning Services). "
                       "Turn it on in the tool's LMS settings, then launch the tool once from the course.")
    report = RosterReport()
    for context in contexts:
        platform = db.session.get(LtiPlatform, context.platform_id)
        _check_enabled(platform)
        url: str | None = context.memberships_url
        origin = origin_of(url)
        while url and report.pages < MAX_ROSTER_PAGES:
            members, url = _roster_page(platform, url)
            report.pages += 1
            # The bearer token goes only where the roster lives: a next link elsewhere is not followed.
            if url and origin_of(url) != origin:
                url = None
            for member in members:
                roles = member.get("roles") or []
                if member.get("status", "Active") != "Active" or INSTRUCTOR_ROLES.intersection(roles) \
                        or not member.get("user_id"):
                    report.skipped += 1
                    continue
                claims = {"sub": str(member["user_id"]), **{k: member.get(k) for k in
                                                            ("name", "given_name", "family_name", "email")}}
                user = _user_for(platform, claims, instructor=False)
                db.begin_write()
                if db.session.get(CohortMembership, (cohort.id, user.id)) is not None:
                    db.session.rollback()
                    report.already += 1
                    continue
                db.session.add(CohortMembership(cohort_id=cohort.id, user_id=user.id))
                if _committed():
                    report.added += 1
                else:
                    report.already += 1  # the learner launched at this very moment
    return report


# ------------------------------------------------------------------------------ registration from the LMS side

REGISTER_SALT = "lti-dynamic-registration"
REGISTER_MAX_AGE = 7 * 24 * 3600
TOOL_CLAIMS = ["iss", "sub", "name", "given_name", "family_name", "email"]


def tool_configuration() -> dict[str, Any]:
    """Return what the tool is, in the words LMS registrations use (shared by Canvas's JSON and dynamic registration).
    """
    site = current_app.config.get("SITE_URL") or origin_of(public_url("learn.course_page"))
    return {
        "title": current_app.config.get("SITE_TITLE") or "Course",
        "description": current_app.extensions["course"].description,
        "login": public_url("lti.login"), "launch": public_url("lti.launch"), "jwks": public_url("lti.jwks"),
        "home": public_url("learn.course_page"), "domain": urlsplit(site).netloc,
        "scopes": [SCORE_SCOPE, NRPS_SCOPE],
    }


def canvas_configuration() -> dict[str, Any]:
    """Return the Canvas developer key's JSON configuration (Admin > Developer Keys > LTI key > Paste JSON)."""
    tool = tool_configuration()
    placement = {"text": tool["title"], "message_type": DEEP_LINKING_REQUEST, "target_link_uri": tool["launch"]}
    return {
        "title": tool["title"], "description": tool["description"],
        "oidc_initiation_url": tool["login"], "target_link_uri": tool["home"], "public_jwk_url": tool["jwks"],
        "scopes": tool["scopes"],
        "extensions": [{
            "domain": tool["domain"], "platform": "canvas.instructure.com", "privacy_level": "public",
            "settings": {"text": tool["title"], "placements": [
                {**placement, "placement": "link_selection"},
                {**placement, "placement": "assignment_selection"},
            ]},
        }],
        "custom_fields": {},
    }


def registration_key() -> str:
    """Return a signed key, good for a week, that lets an LMS register itself at /lti/register."""
    return URLSafeTimedSerializer(current_app.secret_key, salt=REGISTER_SALT).dumps("register")


def _check_registration_key(key: str) -> None:
    """Raise LtiError unless `key` is a registration key this site made less than a week ago."""
    try:
        URLSafeTimedSerializer(current_app.secret_key, salt=REGISTER_SALT).loads(key or "", max_age=REGISTER_MAX_AGE)
    except SignatureExpired as exc:
        raise LtiError("This registration link has expired; an administrator makes a new one with "
                       "`course lti registration-url`.") from exc
    except BadSignature as exc:
        raise LtiError("This registration link is not valid; an administrator makes one with "
                       "`course lti registration-url`.") from exc


def _get_json(url: str, what: str) -> dict[str, Any]:
    """GET a JSON document from the platform or raise LtiError naming what it was."""
    try:
        resp = lti_http.client().request("GET", url, headers={"Accept": "application/json"})
        data = resp.json() if resp.ok else None
    except lti_http.PlatformUnreachable as exc:
        raise LtiError(f"The LMS's {what} could not be fetched ({exc}).") from exc
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise LtiError(f"The LMS's {what} at {url} is not a JSON object (HTTP {resp.status}).")
    return data


def register_dynamically(key: str, openid_configuration: str, registration_token: str) -> LtiPlatform:
    """LTI Dynamic Registration: read the LMS's configuration, register the tool with it, store the platform."""
    _check_registration_key(key)
    if not origin_of(openid_configuration):
        raise LtiError("The LMS sent no openid_configuration address.")
    config = _get_json(openid_configuration, "OpenID configuration")
    issuer = str(config.get("issuer") or "")
    # The spec ties the configuration to its issuer: a document elsewhere cannot speak for that issuer.
    if not issuer or not openid_configuration.startswith(issuer.rstrip("/")):
        raise LtiError("The LMS's OpenID configuration is not served under its issuer's address.")
    needed = ("registration_endpoint", "authorization_endpoint", "token_endpoint", "jwks_uri")
    missing = [k for k in needed if not origin_of(str(config.get(k) or ""))]
    if missing:
        raise LtiError(f"The LMS's OpenID configuration lacks {', '.join(missing)}.")
    tool = tool_configuration()
    body = {
        "application_type": "web", "response_types": ["id_token"], "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": tool["login"], "redirect_uris": [tool["launch"]], "client_name": tool["title"],
        "jwks_uri": tool["jwks"], "token_endpoint_auth_method": "private_key_jwt", "scope": " ".join(tool["scopes"]),
        "https://purl.imsglobal.org/spec/lti-tool-configuration": {
            "domain": tool["domain"], "target_link_uri": tool["home"], "claims": TOOL_CLAIMS,
            "description": tool["description"],
            "messages": [{"type": DEEP_LINKING_REQUEST, "target_link_uri": tool["launch"], "label": tool["title"]}],
        },
    }
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if registration_token:
        headers["Authorization"] = f"Bearer {registration_token}"
    try:
        resp = lti_http.client().request("POST", config["registration_endpoint"], data=json.dumps(body).encode(),
                                         headers=headers)
        answer = resp.json() if resp.ok else None
    except lti_http.PlatformUnreachable as exc:
        raise LtiError(f"The LMS's registration endpoint could not be reached ({exc}).") from exc
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or not answer.get("client_id"):
        raise LtiError(f"The LMS did not accept the registration (HTTP {resp.status}).")
    lti_config = answer.get("https://purl.imsglobal.org/spec/lti-tool-configuration") or {}
    deployment = str(lti_config.get("deployment_id") or "")
    platform_config = config.get("https://purl.imsglobal.org/spec/lti-platform-configuration") or {}
    return add_platform(
        issuer=issuer, client_id=str(answer["client_id"]), auth_login_url=config["authorization_endpoint"],
        auth_token_url=config["token_endpoint"], jwks_url=config["jwks_uri"],
        deployment_ids=[deployment] if deployment else [],
        name=str(platform_config.get("product_family_code") or issuer),
        token_audience=str(config.get("authorization_server") or ""), deployments_later=True)
