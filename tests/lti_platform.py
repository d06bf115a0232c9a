"""A fixture LMS for the LTI tests: its own RSA keys, a JWKS, a token endpoint and AGS score endpoints served over
real HTTP on loopback (a WSGI server in a thread), and id_tokens it signs for launches.

It checks what a real platform checks of the tool: the client assertion's signature against the tool's key set,
the bearer token on score posts, and the score's media type. Tests script its answers (a 503, a key rotation).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
import uuid
from html import escape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
LEARNER_ROLE = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR_ROLE = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
LMS_ADMIN_ROLE = "http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"


class FixturePlatform:
    """One fake LMS on 127.0.0.1; `reset()` gives each test a fresh one (keys, answers, records)."""

    client_id = "tool-client-1"
    deployments = ("deploy-1", "deploy-2")

    def __init__(self) -> None:
        """Start the HTTP server on a free loopback port."""
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.base = f"http://127.0.0.1:{self._server.server_port}"
        self.issuer = self.base  # an issuer is a URL; this one is also where the platform lives
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.reset()

    def reset(self) -> None:
        """Forget everything: one fresh signing key, no scripted answers, nothing recorded."""
        self.keys: list[tuple[str, Any]] = []
        self.rotate()
        self.tool_jwks: dict[str, Any] = {"keys": []}
        self.score_answers: list[int] = []
        self.scores: list[dict[str, Any]] = []
        self.token_requests: list[dict[str, Any]] = []
        self.jwks_hits = 0
        self.tokens: set[str] = set()
        # The course roster, served `page_size` members a page with Link: rel="next".
        self.members: list[dict[str, Any]] = []
        self.page_size = 2
        self.roster_requests: list[dict[str, Any]] = []
        # Dynamic registration: the issuer its OpenID configuration claims, and the registrations it received.
        self.openid_issuer = self.issuer
        self.registrations: list[dict[str, Any]] = []
        # For browser journeys: the tool's address, and what each login_hint launches as (claims() keywords).
        self.tool_url = ""
        # Where its own server reaches the tool, when the browser's address (tool_url) resolves only in the browser.
        self.tool_backchannel = ""
        self.launches: dict[str, dict[str, Any]] = {}
        self.deep_link_answers: list[str] = []

    def close(self) -> None:
        """Stop the server."""
        self._server.shutdown()

    # ------------------------------------------------------------------------------------------ its keys

    def rotate(self, keep_old: bool = False) -> str:
        """Make a new signing key and publish it (dropping the old one unless `keep_old`); return its kid."""
        kid = uuid.uuid4().hex[:12]
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.keys = ([*self.keys] if keep_old else []) + [(kid, key)]
        return kid

    def jwks(self) -> dict[str, Any]:
        """Return the public key set it serves."""
        keys = []
        for kid, key in self.keys:
            jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
            keys.append({**jwk, "kid": kid, "alg": "RS256", "use": "sig"})
        return {"keys": keys}

    # ----------------------------------------------------------------------------------------- its tokens

    def claims(self, nonce: str, *, sub: str = "lms-user-1", roles: tuple[str, ...] = (LEARNER_ROLE,),
               deployment: str = "deploy-1", context_id: str = "course-101", link_id: str = "link-1",
               lineitem: str | None = None, custom: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
        """Return the claims of a resource link launch; `extra` replaces or adds claims (None drops one)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer, "aud": self.client_id, "sub": sub, "iat": now, "exp": now + 300, "nonce": nonce,
            "name": "Ada Lovelace", "email": f"{sub}@uni.example.edu",
            CLAIM + "deployment_id": deployment,
            CLAIM + "message_type": "LtiResourceLinkRequest",
            CLAIM + "version": "1.3.0",
            CLAIM + "roles": list(roles),
            CLAIM + "context": {"id": context_id, "label": "CAR101", "title": "Careers 101"},
            CLAIM + "resource_link": {"id": link_id, "title": "Practise the close"},
            CLAIM + "target_link_uri": "http://localhost/",
        }
        if custom:
            claims[CLAIM + "custom"] = custom
        claims["https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"] = {
            "context_memberships_url": f"{self.base}/memberships/{context_id}", "service_versions": ["2.0"]}
        if lineitem:
            claims["https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"] = {
                "scope": [SCORE_SCOPE], "lineitems": f"{self.base}/lineitems", "lineitem": lineitem}
        for key, value in extra.items():
            if value is None:
                claims.pop(key, None)
            else:
                claims[key] = value
        return claims

    def sign(self, claims: dict[str, Any], kid: str | None = None) -> str:
        """Sign claims with its newest key (or the key `kid`, which need not be published)."""
        use_kid, key = self.keys[-1]
        if kid is not None:
            use_kid = kid
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": use_kid})

    def lineitem(self, n: int = 1) -> str:
        """Return the URL of line item `n` (with a query, as Moodle sends)."""
        return f"{self.base}/lineitems/{n}?type_id=7"

    # -------------------------------------------------------------------------------------- its endpoints

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        """Answer the JWKS, token and score endpoints."""
        request = Request(environ)
        path = request.path
        if path == "/start":
            response = self._start(request)
        elif path == "/auth":
            response = self._auth(request)
        elif path == "/deep-link-return" and request.method == "POST":
            self.deep_link_answers.append(request.form["JWT"])
            response = Response('<!doctype html><html lang="en"><head><title>Links received</title></head>'
                                '<body><main><h1>Links received</h1></main></body></html>', content_type="text/html")
        elif path == "/jwks":
            self.jwks_hits += 1
            response = Response(json.dumps(self.jwks()), content_type="application/json")
        elif path == "/token" and request.method == "POST":
            response = self._token(request)
        elif path == "/.well-known/openid-configuration":
            response = Response(json.dumps({
                "issuer": self.openid_issuer, "authorization_endpoint": f"{self.base}/auth",
                "token_endpoint": f"{self.base}/token", "jwks_uri": f"{self.base}/jwks",
                "registration_endpoint": f"{self.base}/register",
                "https://purl.imsglobal.org/spec/lti-platform-configuration": {"product_family_code": "fixture"},
            }), content_type="application/json")
        elif path == "/register" and request.method == "POST":
            self.registrations.append({"auth": request.headers.get("Authorization"),
                                       "body": json.loads(request.get_data())})
            response = Response(json.dumps({
                "client_id": "dyn-client-1",
                "https://purl.imsglobal.org/spec/lti-tool-configuration": {"deployment_id": "dyn-deploy-1"},
            }), content_type="application/json")
        elif path.startswith("/memberships/") and request.method == "GET":
            response = self._memberships(request)
        elif path.startswith("/lineitems/") and path.endswith("/scores") and request.method == "POST":
            response = self._score(request)
        else:
            response = Response("not found", status=404)
        return response(environ, start_response)

    def _start(self, request: Request) -> Response:
        """The LMS's course page: a button that starts the tool's OIDC login for the person `hint` (a form post)."""
        hint = request.args["hint"]
        target = self.tool_url + request.args.get("target", "/")
        fields = {"iss": self.issuer, "login_hint": hint, "target_link_uri": target, "client_id": self.client_id,
                  "lti_deployment_id": self.launches[hint].get("deployment", "deploy-1")}
        return Response(_form_page("Fixture LMS course", f"{self.tool_url}/lti/login", fields, "Open the tool"),
                        content_type="text/html")

    def _auth(self, request: Request) -> Response:
        """The OIDC authorisation endpoint: sign the launch for the login_hint and post it back to redirect_uri."""
        args = request.args
        assert args["redirect_uri"] == f"{self.tool_url}/lti/launch" and args["client_id"] == self.client_id
        claims = self.claims(args["nonce"], **self.launches[args["login_hint"]])
        fields = {"id_token": self.sign(claims), "state": args["state"]}
        return Response(_form_page("Fixture LMS sign-in", args["redirect_uri"], fields, "Continue to the tool"),
                        content_type="text/html")

    def _token(self, request: Request) -> Response:
        """Client credentials with a JWT assertion signed by the tool (checked against the tool's key set)."""
        form = request.form
        self.token_requests.append(dict(form))
        if self.tool_url:
            # A live tool: read its key set over HTTP, as an LMS does.
            tool = self.tool_backchannel or self.tool_url
            with urllib.request.urlopen(f"{tool}/lti/jwks.json", timeout=10) as resp:  # noqa: S310
                self.tool_jwks = json.loads(resp.read())
        try:
            header = jwt.get_unverified_header(form["client_assertion"])
            jwk = next(k for k in self.tool_jwks["keys"] if k["kid"] == header["kid"])
            assertion = jwt.decode(form["client_assertion"], jwt.PyJWK(jwk).key, algorithms=["RS256"],
                                   audience=f"{self.base}/token")
            assert assertion["iss"] == assertion["sub"] == self.client_id
            assert form["grant_type"] == "client_credentials"
        except (KeyError, StopIteration, AssertionError, jwt.InvalidTokenError) as exc:
            return Response(json.dumps({"error": "invalid_client", "detail": str(exc)}), status=401,
                            content_type="application/json")
        token = uuid.uuid4().hex
        self.tokens.add(token)
        return Response(json.dumps({"access_token": token, "token_type": "Bearer", "expires_in": 3600,
                                    "scope": form.get("scope", "")}), content_type="application/json")

    def _memberships(self, request: Request) -> Response:
        """One page of the roster; a next page is announced in the Link header, as NRPS does."""
        self.roster_requests.append({"accept": request.headers.get("Accept"), "page": request.args.get("page")})
        if request.headers.get("Authorization", "").removeprefix("Bearer ") not in self.tokens:
            return Response("bad token", status=401)
        page = int(request.args.get("page", "1"))
        start = (page - 1) * self.page_size
        members = self.members[start:start + self.page_size]
        response = Response(json.dumps({"id": request.url, "context": {"id": request.path.rsplit("/", 1)[-1]},
                                        "members": members}),
                            content_type="application/vnd.ims.lti-nrps.v2.membershipcontainer+json")
        if start + self.page_size < len(self.members):
            response.headers["Link"] = f'<{self.base}{request.path}?page={page + 1}>; rel="next"'
        return response

    def _score(self, request: Request) -> Response:
        """Record a score post, answering with the next scripted status (200 when none is left)."""
        status = self.score_answers.pop(0) if self.score_answers else 200
        auth = request.headers.get("Authorization", "")
        if auth.removeprefix("Bearer ") not in self.tokens:
            return Response("bad token", status=401)
        record = {"path": request.path, "query": parse_qs(urlsplit(request.url).query),
                  "content_type": request.headers.get("Content-Type"), "body": json.loads(request.get_data()),
                  "status": status}
        self.scores.append(record)
        return Response("" if status < 300 else "down for maintenance", status=status)


def _form_page(title: str, action: str, fields: dict[str, str], button: str) -> str:
    """Return a small HTML page holding one form that posts `fields` to `action` when its button is pressed."""
    inputs = "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in fields.items())
    return (f'<!doctype html><html lang="en"><head><title>{escape(title)}</title></head><body><main>'
            f'<h1>{escape(title)}</h1><form method="post" action="{escape(action)}">{inputs}'
            f'<button type="submit">{escape(button)}</button></form></main></body></html>')
