"""Alert channels against real receivers on this machine: an HTTP server in a thread and aiosmtpd."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope

from driftloop.entities import Alert
from driftloop.errors import InvalidInput
from driftloop.monitoring._channels import (
    EmailChannel,
    LogFileChannel,
    Notification,
    RetryPolicy,
    SlackChannel,
    WebhookChannel,
    channel_from_dict,
    deliver,
    redact_secrets,
)


class Receiver:
    """An HTTP server answering each POST with the next scripted status (200 once the script runs out)."""

    def __init__(self, statuses: list[int] | None = None, *, body: str = "ok") -> None:
        self.statuses = list(statuses or [])
        self.body = body
        self.requests: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                receiver.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "json": json.loads(self.rfile.read(length))}
                )
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                payload = receiver.body.format(path=self.path).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


class Mailbox:
    """Keeps every message the SMTP receiver accepts."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = auth_data.login == b"alerts" and auth_data.password == b"s3cret-pass"
        return AuthResult(success=ok, handled=False)

    port = free_port()
    controller = Controller(
        mailbox, hostname="127.0.0.1", port=port, authenticator=authenticate, auth_require_tls=False
    )
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


def notification(kind: str = "opened") -> Notification:
    alert = Alert(
        7,
        "drift-share",
        "houses",
        "critical",
        "open",
        100.0,
        160.0,
        count=2,
        last_value=0.6,
        message="drift.share = 0.6, alert when > 0.3",
    )
    return Notification(kind, alert, "drift.share", "drift.share > 0.3")


class Attempts:
    def __init__(self) -> None:
        self.rows: list[tuple[str, int, bool, str | None]] = []
        self.waits: list[float] = []

    def record(self, channel: str, attempt: int, ok: bool, error: str | None) -> None:
        self.rows.append((channel, attempt, ok, error))


def test_a_webhook_posts_the_notification_as_json_with_its_headers() -> None:
    with Receiver() as receiver:
        channel = WebhookChannel(receiver.url(), headers={"Authorization": "Bearer t0ken"})
        result = deliver("hook", channel, notification(), sleep=lambda _: None)
    assert result.ok and result.attempts == 1
    [request] = receiver.requests
    assert request["headers"]["Authorization"] == "Bearer t0ken"
    body = request["json"]
    assert body["kind"] == "opened" and body["title"] == "[CRITICAL] drift-share on houses: opened"
    assert body["alert"]["id"] == 7 and body["alert"]["last_value"] == 0.6 and body["condition"] == "drift.share > 0.3"


def test_slack_gets_a_text_message() -> None:
    with Receiver() as receiver:
        assert deliver("slack", SlackChannel(receiver.url("/services/T1/B2/x")), notification()).ok
    [request] = receiver.requests
    assert request["path"] == "/services/T1/B2/x"
    assert set(request["json"]) == {"text"}
    assert request["json"]["text"].startswith("[CRITICAL] drift-share on houses: opened\n")
    assert "drift.share = 0.6 (alert when drift.share > 0.3)" in request["json"]["text"]


def test_a_failing_receiver_is_retried_with_backoff_and_every_attempt_recorded() -> None:
    attempts = Attempts()
    with Receiver([500, 500]) as receiver:
        result = deliver(
            "hook",
            WebhookChannel(receiver.url()),
            notification(),
            policy=RetryPolicy(attempts=3, backoff=0.5, factor=2.0),
            record=attempts.record,
            sleep=attempts.waits.append,
        )
    assert result.ok and result.attempts == 3 and len(receiver.requests) == 3
    assert attempts.waits == [0.5, 1.0]
    assert [(a, ok) for _, a, ok, _ in attempts.rows] == [(1, False), (2, False), (3, True)]
    assert "HTTP 500" in str(attempts.rows[0][3])


def test_a_receiver_that_always_fails_leaves_the_failure_on_record_without_raising(
    caplog: pytest.LogCaptureFixture,
) -> None:
    attempts = Attempts()
    secret_path = "/services/T0/B0/very-secret-token"
    with Receiver([404] * 5, body="no such hook {path}") as receiver:
        url = receiver.url(secret_path)
        result = deliver(
            "slack",
            SlackChannel(url),
            notification(),
            policy=RetryPolicy(attempts=4, backoff=1.0, max_backoff=1.5),
            record=attempts.record,
            sleep=attempts.waits.append,
        )
    assert not result.ok and result.attempts == 4 and len(result.errors) == 4
    assert attempts.waits == [1.0, 1.5, 1.5]
    assert [ok for *_, ok, _ in attempts.rows] == [False] * 4
    recorded = " ".join(str(error) for *_, error in attempts.rows) + " " + caplog.text
    assert "HTTP 404" in recorded and "no such hook ***" in recorded
    assert "very-secret-token" not in recorded and "very-secret-token" not in repr(SlackChannel(url))
    assert "failed 4 time(s)" in caplog.text


def test_an_unreachable_receiver_and_a_recorder_that_fails_are_both_survived(caplog: pytest.LogCaptureFixture) -> None:
    def broken_record(*_: object) -> None:
        raise RuntimeError("store down")

    url = f"http://127.0.0.1:{free_port()}/hook"
    result = deliver(
        "hook",
        WebhookChannel(url, timeout=2),
        notification(),
        policy=RetryPolicy(attempts=2),
        record=broken_record,
        sleep=lambda _: None,
    )
    assert not result.ok and result.error is not None and "ConnectError" in result.error
    assert "Could not record delivery attempt 1" in caplog.text


def test_email_goes_through_smtp_with_login(smtp: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp
    channel = EmailChannel(
        "127.0.0.1",
        port,
        sender="driftloop@example.org",
        recipients=["ops@example.org"],
        username="alerts",
        password="s3cret-pass",
    )
    result = deliver("mail", channel, notification())
    assert result.ok, result.error
    [envelope] = mailbox.envelopes
    assert envelope.mail_from == "driftloop@example.org" and envelope.rcpt_tos == ["ops@example.org"]
    message = message_from_bytes(envelope.original_content or b"")
    assert message["Subject"] == "[CRITICAL] drift-share on houses: opened"
    assert "drift.share = 0.6" in message.get_payload()


def test_a_refused_smtp_login_is_recorded_without_the_password(smtp: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp
    attempts = Attempts()
    channel = EmailChannel(
        "127.0.0.1",
        port,
        sender="d@example.org",
        recipients=["ops@example.org"],
        username="alerts",
        password="wrong-pass",
    )
    result = deliver(
        "mail", channel, notification(), policy=RetryPolicy(attempts=2), record=attempts.record, sleep=lambda _: None
    )
    assert not result.ok and mailbox.envelopes == []
    assert "SMTPAuthenticationError" in str(result.error) and "wrong-pass" not in str(attempts.rows)
    assert redact_secrets("login alerts:wrong-pass refused", channel.secrets()) == "login alerts:*** refused"


def test_the_log_file_gets_one_json_line_per_notification(tmp_path: Path) -> None:
    channel = LogFileChannel(tmp_path / "logs" / "alerts.jsonl")
    assert deliver("audit", channel, notification()).ok
    assert deliver("audit", channel, notification("resolved")).ok
    lines = (tmp_path / "logs" / "alerts.jsonl").read_text().splitlines()
    assert [json.loads(line)["kind"] for line in lines] == ["opened", "resolved"]


def test_channels_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_URL", "https://hooks.example.org/T/B/abc")
    slack = channel_from_dict("ops", {"type": "slack", "url_env": "HOOK_URL"})
    assert isinstance(slack, SlackChannel) and slack.url == "https://hooks.example.org/T/B/abc"
    assert repr(slack) == "SlackChannel('https://hooks.example.org/***')"
    mail = channel_from_dict("mail", {"type": "email", "host": "smtp", "port": 2525, "sender": "a@b", "to": "c@d"})
    assert isinstance(mail, EmailChannel) and mail.recipients == ("c@d",) and mail.port == 2525
    with pytest.raises(InvalidInput, match="'type' among webhook, slack, email, log"):
        channel_from_dict("x", {"type": "pager"})
    with pytest.raises(InvalidInput, match="needs the setting 'url'"):
        channel_from_dict("x", {"type": "webhook"})
    with pytest.raises(InvalidInput, match=r"\$MISSING_VAR, which is not set"):
        channel_from_dict("x", {"type": "webhook", "url_env": "MISSING_VAR"})
    with pytest.raises(InvalidInput, match="at least one recipient"):
        channel_from_dict("x", {"type": "email", "host": "h", "sender": "a@b"})
    with pytest.raises(InvalidInput, match="attempts"):
        RetryPolicy(attempts=0)
