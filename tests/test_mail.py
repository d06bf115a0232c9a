"""Email: a real SMTP server on loopback receives the registration and reset links; development mail lands in the
outbox."""

from __future__ import annotations

import re
import socket
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import TEST_PASSWORD, csrf_token_from
from web.config import build_config
from web.extensions import db
from web.models import User

pytestmark = pytest.mark.db


class Collect:
    """An aiosmtpd handler that keeps every message it is given."""

    def __init__(self) -> None:
        """Start with an empty mailbox."""
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        """Store the message and accept it."""
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    """A real SMTP server on 127.0.0.1, for as long as the test runs."""
    handler = Collect()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, handler
    controller.stop()


def test_registration_mail_goes_out_over_smtp(app_config, smtp_server, request):
    """With MAIL_SERVER set, the registration link is delivered by SMTP to the address typed."""
    controller, handler = smtp_server
    app_config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=str(controller.port), MAIL_USE_TLS="false",
                      MAIL_DEFAULT_SENDER="Course <course@example.org>")
    app = request.getfixturevalue("app")
    assert app.config["MAIL_BACKEND"] == "smtp"
    client = app.test_client()
    token = csrf_token_from(client.get("/register").get_data(as_text=True))
    response = client.post("/register", data={"csrf_token": token, "email": "smtp@example.org",
                                              "password": TEST_PASSWORD, "confirm": TEST_PASSWORD})
    assert response.status_code == 302
    ((recipients, message),) = handler.messages
    assert recipients == ["smtp@example.org"] and message["From"] == "Course <course@example.org>"
    assert "/register/confirm/" in message.get_content()
    assert db.session.query(User).filter_by(email="smtp@example.org").one().email_confirmed_at is None


def test_password_reset_goes_out_over_smtp_and_its_link_works(app_config, smtp_server, request):
    """With MAIL_SERVER set, the reset link travels by SMTP; following it sets the password, and only once."""
    controller, handler = smtp_server
    app_config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=str(controller.port), MAIL_USE_TLS="false",
                      MAIL_DEFAULT_SENDER="Course <course@example.org>", SITE_URL="https://course.example.org")
    app = request.getfixturevalue("app")  # built only now, with the settings above
    assert app.config["MAIL_BACKEND"] == "smtp"
    user = request.getfixturevalue("make_user")(email="forgetful@example.org")
    client = app.test_client()
    token = csrf_token_from(client.get("/password/forgot").get_data(as_text=True))
    assert client.post("/password/forgot", data={"csrf_token": token, "email": "Forgetful@Example.org"}).status_code \
        == 200
    ((recipients, message),) = handler.messages
    assert recipients == ["forgetful@example.org"] and message["Subject"] == "Reset your password"
    body = message.get_content()
    link = re.search(r"https://course\.example\.org(/password/reset/\S+)", body).group(1)
    assert "60 minutes" in body
    page = client.get(link).get_data(as_text=True)
    new = "reset over real smtp"
    done = client.post(link, data={"csrf_token": csrf_token_from(page), "new": new, "confirm": new})
    assert done.status_code == 302 and done.headers["Location"].endswith("/login")
    db.session.refresh(user)
    assert user.check_password(new)
    assert client.get(link).status_code == 400


def test_without_a_mail_server_development_mail_lands_in_the_outbox(app_config, tmp_path, request, capsys):
    """No MAIL_SERVER outside tests: each message is saved as .eml in the outbox folder and printed."""
    app_config.update(MAIL_BACKEND="web.mail", MAIL_OUTBOX_DIR=str(tmp_path / "outbox"))
    app = request.getfixturevalue("app")
    client = app.test_client()
    token = csrf_token_from(client.get("/register").get_data(as_text=True))
    client.post("/register", data={"csrf_token": token, "email": "dev@example.org", "password": TEST_PASSWORD,
                                   "confirm": TEST_PASSWORD})
    (saved,) = (tmp_path / "outbox").glob("*.eml")
    message = message_from_bytes(saved.read_bytes(), policy=policy.default)
    assert message["To"] == "dev@example.org" and "/register/confirm/" in message.get_content()
    assert "Finish creating your account" in capsys.readouterr().err


@pytest.mark.parametrize(("settings", "backend"), [
    ({"MAIL_SERVER": "smtp.example.org"}, "smtp"),
    ({"TESTING": True}, "locmem"),
    ({"APP_ENV": "development"}, "web.mail"),
    ({"APP_ENV": "development", "MAIL_SERVER": "smtp.example.org", "MAIL_PORT": "465", "MAIL_USE_SSL": "yes",
      "MAIL_USE_TLS": "no"}, "smtp"),
])
def test_the_mail_backend_follows_the_settings(tmp_path, settings, backend):
    """SMTP when MAIL_SERVER is set, memory under test, else the outbox folder; flags read from text."""
    cfg = build_config(str(tmp_path), {"SECRET_KEY": "k", **settings})
    assert cfg["MAIL_BACKEND"] == backend
    if "MAIL_USE_SSL" in settings:
        assert (cfg["MAIL_PORT"], cfg["MAIL_USE_SSL"], cfg["MAIL_USE_TLS"]) == (465, True, False)
