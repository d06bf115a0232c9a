"""Email: Flask-Mailman sends it; in development and tests it never leaves the machine.

With MAIL_SERVER set, mail goes out over SMTP. Without it, the site writes each message to `instance/outbox/`
as an .eml file and prints it to the console (`EmailBackend` below; Flask-Mailman finds it by the module name,
MAIL_BACKEND="web.mail"), so `./scripts/run` needs nothing more to try registration. Tests use Flask-Mailman's
in-memory `locmem` backend, or a real SMTP server on loopback.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from flask import current_app, render_template
from flask_mailman import EmailMessage
from flask_mailman.backends.base import BaseEmailBackend


class EmailBackend(BaseEmailBackend):
    """Development mail: each message saved as an .eml file in the outbox folder and printed to the console."""

    def send_messages(self, email_messages: list[EmailMessage]) -> int:
        """Write and print every message; return how many were handled."""
        folder = Path(current_app.config["MAIL_OUTBOX_DIR"])
        folder.mkdir(parents=True, exist_ok=True)
        for n, message in enumerate(email_messages):
            raw = message.message().as_bytes()
            (folder / f"{time.time_ns()}-{os.getpid()}-{n}.eml").write_bytes(raw)
            print(f"--- email to {', '.join(message.to)} (saved in {folder}) ---\n"
                  f"Subject: {message.subject}\n\n{message.body}\n--- end of email ---", file=sys.stderr)
        return len(email_messages)


def send(to: str, subject: str, template: str, **context: object) -> None:
    """Render a plain-text email from templates/emails/ and send it to one address."""
    body = render_template(f"emails/{template}", **context)
    EmailMessage(subject=subject, body=body, to=[to]).send()
