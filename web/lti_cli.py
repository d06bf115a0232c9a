"""`course lti ...`: register platforms, list them, rotate the tool's keys, and push the score outbox."""

from __future__ import annotations

import argparse
from typing import Any

from flask import Flask

from web.security import public_url
from web.services import lti as svc


def _tool_urls() -> dict[str, str]:
    """Return the tool's own addresses an LMS administrator pastes into the registration."""
    return {"login URL": public_url("lti.login"), "launch (redirect) URL": public_url("lti.launch"),
            "public key set URL": public_url("lti.jwks")}


def cmd_lti(args: argparse.Namespace, app: Flask) -> int:
    """Run one `course lti` action inside the site's app."""
    with app.test_request_context("/"), app.app_context():
        if args.lti_command == "add-platform":
            platform = svc.add_platform(
                issuer=args.issuer, client_id=args.client_id, auth_login_url=args.auth_login_url,
                auth_token_url=args.token_url, jwks_url=args.jwks_url, deployment_ids=args.deployment_id,
                name=args.name or "", frame_origins=args.frame_origin, token_audience=args.token_audience or "")
            print(f"platform {platform.id} {platform.name}: issuer {platform.issuer}, client id {platform.client_id}, "
                  f"deployments {', '.join(d.deployment_id for d in platform.deployments)}")
            print(f"  may frame the tool: {', '.join(platform.frame_origins)}")
            for label, url in _tool_urls().items():
                print(f"  tool {label}: {url}")
        elif args.lti_command == "list":
            for platform in svc.platforms():
                print(f"{platform.id}\t{platform.name}\t{platform.issuer}\t{platform.client_id}\t"
                      f"{','.join(d.deployment_id for d in platform.deployments)}")
        elif args.lti_command == "rotate-key":
            key = svc.rotate_key(args.keep_days)
            print(f"new signing key {key.kid}; older keys stay in the key set for {args.keep_days} days")
        elif args.lti_command == "registration-url":
            print("Give this address to the LMS as the tool's dynamic registration URL (good for 7 days):")
            print(public_url("lti.register", key=svc.registration_key()))
        elif args.lti_command == "sync":
            print(svc.push_due(include_failed=args.retry_failed).summary())
    return 0


def add_commands(subparsers: Any, guard: Any, make_app: Any) -> None:
    """Add `course lti`; `guard` turns operator errors (LtiError too) into messages, `make_app` builds the site."""
    p_lti = subparsers.add_parser("lti", help="LTI 1.3: register LMS platforms, rotate keys, push scores")
    sub = p_lti.add_subparsers(dest="lti_command", required=True)
    p = sub.add_parser("add-platform", help="register an LMS (or update it and add deployment ids)")
    p.add_argument("--issuer", required=True, help="the platform's issuer (iss), e.g. https://canvas.instructure.com")
    p.add_argument("--client-id", required=True, help="the client id the platform gave the tool")
    p.add_argument("--auth-login-url", required=True, help="the platform's OIDC authorisation endpoint")
    p.add_argument("--token-url", required=True, help="the platform's OAuth2 token endpoint")
    p.add_argument("--jwks-url", required=True, help="the platform's public key set URL")
    p.add_argument("--deployment-id", action="append", required=True, help="a deployment id (repeat for more)")
    p.add_argument("--name", help="a name for people, e.g. 'University Canvas'")
    p.add_argument("--frame-origin", action="append", default=[],
                   help="an origin that frames the tool, e.g. https://school.instructure.com (repeat for more; "
                        "default: the issuer's and login URL's origins)")
    p.add_argument("--token-audience", help="the aud of client assertions when it is not the token URL")
    sub.add_parser("list", help="list the registered platforms")
    p = sub.add_parser("rotate-key", help="make a new signing key; old ones stay published for --keep-days")
    p.add_argument("--keep-days", type=int, default=svc.DEFAULT_KEEP_DAYS)
    sub.add_parser("registration-url", help="print a dynamic registration URL for an LMS (good for 7 days)")
    p = sub.add_parser("sync", help="send the scores waiting in the outbox to the platforms now")
    p.add_argument("--retry-failed", action="store_true", help="also resend scores a platform refused")

    def run(args: argparse.Namespace) -> int:
        """Build the site and run the action."""
        return cmd_lti(args, make_app(args))

    p_lti.set_defaults(func=guard(run))
