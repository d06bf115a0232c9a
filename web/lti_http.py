"""The one way the site talks HTTP to an LMS (key sets, tokens, scores): small, with a timeout, replaceable in tests.

`app.extensions["lti_http"]` may hold another object with the same `request` method (a test's fixture platform).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from flask import current_app

TIMEOUT_SECONDS = 10.0
USER_AGENT = "closing-course-lti/1"


class PlatformUnreachable(OSError):
    """The platform did not answer (refused, timed out, bad address)."""


@dataclass(frozen=True)
class HttpResponse:
    """A platform's answer: status, headers (lower-case names) and body."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Return True for a 2xx answer."""
        return 200 <= self.status < 300

    def json(self) -> Any:
        """Return the body parsed as JSON."""
        return json.loads(self.body.decode("utf-8"))


class HttpClient:
    """urllib with a timeout; answers every status as an HttpResponse, raises PlatformUnreachable otherwise."""

    def __init__(self, timeout: float = TIMEOUT_SECONDS):
        """Keep the timeout for every request."""
        self.timeout = timeout

    def request(self, method: str, url: str, *, data: bytes | None = None,
                headers: dict[str, str] | None = None) -> HttpResponse:
        """Send one request and return the answer, whatever its status."""
        if not url.startswith(("https://", "http://")):
            # Only web addresses: urllib would also open file:// and ftp:// URLs an operator mistyped.
            raise PlatformUnreachable(f"not an http(s) address: {url!r}")
        req = urllib.request.Request(url, data=data, method=method,  # noqa: S310 - scheme checked above
                                     headers={"User-Agent": USER_AGENT, **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 - scheme checked above
                return HttpResponse(resp.status, resp.read(), {k.lower(): v for k, v in resp.headers.items()})
        except urllib.error.HTTPError as exc:
            return HttpResponse(exc.code, exc.read() or b"", {k.lower(): v for k, v in (exc.headers or {}).items()})
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise PlatformUnreachable(f"{url}: {getattr(exc, 'reason', exc)}") from exc


def client() -> HttpClient:
    """Return the app's HTTP client for platforms (a test may have put its own in app.extensions)."""
    return current_app.extensions.get("lti_http") or HttpClient()
