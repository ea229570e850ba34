"""Where alerts go: a generic JSON webhook, a Slack-compatible webhook, email over SMTP, a log file.

Each channel's :meth:`~Channel.send` raises on failure; :func:`deliver` retries it with exponential
backoff, records every attempt through a callback, and never raises: a channel that keeps failing
leaves failed attempts on record (and a warning in the log) rather than breaking the caller's loop.
Secrets (webhook URLs, whose path is the token for Slack; header values; SMTP passwords) are removed
from every recorded error and log line.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import ssl
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from driftloop.entities import Alert
from driftloop.errors import InvalidInput, SourceError

__all__ = [
    "Channel",
    "EmailChannel",
    "LogFileChannel",
    "Notification",
    "RetryPolicy",
    "SlackChannel",
    "WebhookChannel",
    "channel_from_dict",
    "deliver",
    "redact_secrets",
]

logger = logging.getLogger("driftloop.alerts")
REDACTED = "***"


@dataclass(frozen=True, slots=True)
class Notification:
    """What a channel is told: ``kind`` (``opened``, ``repeated``, ``resolved``) of ``alert``, and the rule."""

    kind: str
    alert: Alert
    metric: str = ""
    condition: str = ""

    @property
    def title(self) -> str:
        """One line: ``[CRITICAL] drift-share on houses: opened``."""
        alert = self.alert
        return f"[{alert.severity.upper()}] {alert.rule} on {alert.subject}: {self.kind}"

    def text(self) -> str:
        """A few human lines: the title, the message, the value against the condition, the alert id."""
        lines = [self.title]
        if self.alert.message:
            lines.append(self.alert.message)
        if self.metric:
            lines.append(f"{self.metric} = {self.alert.last_value} (alert when {self.condition})")
        lines.append(f"alert {self.alert.id}, {self.alert.count} breaching window(s), status {self.alert.status}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values: the webhook body and the log-file line."""
        return {
            "kind": self.kind,
            "title": self.title,
            "metric": self.metric,
            "condition": self.condition,
            "alert": self.alert.to_dict(),
        }


class Channel(ABC):
    """A destination for notifications. ``send`` raises (any exception) when the message did not go."""

    @abstractmethod
    def send(self, notification: Notification) -> None: ...

    def secrets(self) -> tuple[str, ...]:
        """Strings that must never appear in a recorded error or a log line."""
        return ()


class WebhookChannel(Channel):
    """POSTs the notification's :meth:`~Notification.to_dict` as JSON; any status but 2xx is a failure.

    ``timeout`` defaults to 10 s so that a hung receiver delays the loop by seconds, not forever.
    """

    def __init__(self, url: str, *, headers: Mapping[str, str] | None = None, timeout: float = 10.0) -> None:
        self.url = url
        self.headers = dict(headers or {})
        self.timeout = timeout

    def payload(self, notification: Notification) -> dict[str, Any]:
        return notification.to_dict()

    def send(self, notification: Notification) -> None:
        response = httpx.post(self.url, json=self.payload(notification), headers=self.headers, timeout=self.timeout)
        if not response.is_success:
            raise SourceError(f"The receiver answered HTTP {response.status_code}: {response.text[:200]!r}.")

    def secrets(self) -> tuple[str, ...]:
        return (*_url_secrets(self.url), *(value for value in self.headers.values() if value))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({_redacted_url(self.url)!r})"


class SlackChannel(WebhookChannel):
    """POSTs ``{"text": ...}``, which Slack incoming webhooks (and Mattermost, Rocket.Chat…) accept."""

    def payload(self, notification: Notification) -> dict[str, Any]:
        return {"text": notification.text()}


class EmailChannel(Channel):
    """Sends a plain-text email over SMTP (``starttls`` upgrades the connection; ``use_ssl`` is SMTPS).

    ``username``/``password`` log in when given. ``timeout`` defaults to 10 s, as for webhooks.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        sender: str,
        recipients: Sequence[str],
        starttls: bool = False,
        use_ssl: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        if not recipients:
            raise InvalidInput("An email channel needs at least one recipient.")
        self.host, self.port, self.sender, self.recipients = host, port, sender, tuple(recipients)
        self.starttls, self.use_ssl, self.username, self.password = starttls, use_ssl, username, password
        self.timeout = timeout

    def send(self, notification: Notification) -> None:
        message = EmailMessage()
        message["Subject"] = notification.title
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients)
        message.set_content(notification.text())
        context = ssl.create_default_context()
        smtp = (
            smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
            if self.use_ssl
            else smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        )
        with smtp:
            if self.starttls:
                smtp.starttls(context=context)
            if self.username is not None:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)

    def secrets(self) -> tuple[str, ...]:
        return (self.password,) if self.password else ()

    def __repr__(self) -> str:
        return f"EmailChannel({self.host!r}, {self.port}, recipients={list(self.recipients)!r})"


class LogFileChannel(Channel):
    """Appends one JSON line per notification to ``path`` (its folder is created on first send)."""

    _lock = threading.Lock()

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def send(self, notification: Notification) -> None:
        line = json.dumps(notification.to_dict(), sort_keys=True) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One write of a whole line in append mode: lines of concurrent writers do not interleave.
        with self._lock, self.path.open("a", encoding="utf-8") as file:
            file.write(line)

    def __repr__(self) -> str:
        return f"LogFileChannel({str(self.path)!r})"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Up to ``attempts`` tries, waiting ``backoff`` seconds after the first failure and ``factor`` times
    longer after each next one, at most ``max_backoff``. The defaults (3 tries, 1 s then 2 s) ride out a
    receiver's restart without holding a monitoring loop for long.
    """

    attempts: int = 3
    backoff: float = 1.0
    factor: float = 2.0
    max_backoff: float = 30.0

    def __post_init__(self) -> None:
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int) or self.attempts < 1:
            raise InvalidInput(f"The attempts of a retry policy must be an integer >= 1; got {self.attempts!r}.")
        if self.backoff < 0 or self.factor < 1 or self.max_backoff < 0:
            raise InvalidInput(
                "A retry policy needs backoff >= 0, factor >= 1 and max_backoff >= 0; got "
                f"{self.backoff!r}, {self.factor!r}, {self.max_backoff!r}."
            )

    def delays(self) -> list[float]:
        """The waits between attempts: ``attempts - 1`` of them."""
        return [min(self.backoff * self.factor**i, self.max_backoff) for i in range(self.attempts - 1)]


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """How telling one channel went: ``ok`` after ``attempts`` tries, or the last (redacted) error."""

    channel: str
    ok: bool
    attempts: int
    error: str | None = None
    errors: tuple[str, ...] = field(default=())


RecordAttempt = Callable[[str, int, bool, str | None], None]


def deliver(
    name: str,
    channel: Channel,
    notification: Notification,
    *,
    policy: RetryPolicy | None = None,
    record: RecordAttempt | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> DeliveryResult:
    """Send ``notification`` through ``channel``, retrying per ``policy``; never raises.

    ``record(channel, attempt, ok, error)`` is called after every attempt (errors redacted); when it
    itself fails the failure is logged, and delivery goes on.
    """
    policy = policy or RetryPolicy()
    secrets = channel.secrets()
    delays = policy.delays()
    errors: list[str] = []
    for attempt in range(1, policy.attempts + 1):
        try:
            channel.send(notification)
        except Exception as error:  # any failure of a channel is recorded, never raised into the caller
            text = redact_secrets(f"{type(error).__name__}: {error}", secrets)
            errors.append(text)
            _record(record, name, attempt, False, text)
            if attempt <= len(delays):
                sleep(delays[attempt - 1])
            continue
        _record(record, name, attempt, True, None)
        return DeliveryResult(name, True, attempt, None, tuple(errors))
    logger.warning(
        "Alert %s: channel %r failed %d time(s); last error: %s",
        notification.alert.id,
        name,
        policy.attempts,
        errors[-1],
    )
    return DeliveryResult(name, False, policy.attempts, errors[-1], tuple(errors))


def _record(record: RecordAttempt | None, name: str, attempt: int, ok: bool, error: str | None) -> None:
    if record is None:
        return
    try:
        record(name, attempt, ok, error)
    except Exception as failure:
        logger.warning("Could not record delivery attempt %d of channel %r: %s", attempt, name, failure)


def redact_secrets(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``***`` (longest first, so a secret's parts go too).

    >>> redact_secrets("POST https://hooks.example/T1/B2/abc failed", ["/T1/B2/abc"])
    'POST https://hooks.example*** failed'
    """
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def _url_secrets(url: str) -> tuple[str, ...]:
    # A webhook URL is a bearer credential: its path and query carry the token (Slack, Teams, Discord).
    parts = urlsplit(url)
    found = [url]
    if parts.path not in ("", "/"):
        found.append(parts.path)
    if parts.query:
        found.append(parts.query)
    if parts.password:
        found.append(parts.password)
    return tuple(found)


def _redacted_url(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/{REDACTED}" if parts.path not in ("", "/") or parts.query else url


_KINDS = ("webhook", "slack", "email", "log")


def channel_from_dict(name: str, spec: Mapping[str, Any]) -> Channel:
    """A channel from settings (YAML or JSON): ``{"type": "webhook"|"slack"|"email"|"log", ...}``.

    Secrets may come from the environment instead of the file: ``url_env`` for ``url`` and
    ``password_env`` for ``password`` name the variable to read.

    >>> channel_from_dict("audit", {"type": "log", "path": "alerts.jsonl"})
    LogFileChannel('alerts.jsonl')
    """
    kind = spec.get("type")
    if kind not in _KINDS:
        raise InvalidInput(f"Alert channel {name!r} needs a 'type' among {', '.join(_KINDS)}; got {kind!r}.")
    try:
        if kind in ("webhook", "slack"):
            url = _setting(name, spec, "url")
            timeout = float(spec.get("timeout", 10.0))
            if kind == "slack":
                return SlackChannel(url, timeout=timeout)
            return WebhookChannel(url, headers=dict(spec.get("headers") or {}), timeout=timeout)
        if kind == "email":
            recipients = spec.get("recipients") or spec.get("to")
            if isinstance(recipients, str):
                recipients = [recipients]
            password = _setting(name, spec, "password", required=False)
            return EmailChannel(
                str(spec["host"]),
                int(spec.get("port", 25)),
                sender=str(spec["sender"]),
                recipients=list(recipients or []),
                starttls=bool(spec.get("starttls", False)),
                use_ssl=bool(spec.get("ssl", False)),
                username=spec.get("username"),
                password=password,
                timeout=float(spec.get("timeout", 10.0)),
            )
        return LogFileChannel(str(spec["path"]))
    except KeyError as missing:
        raise InvalidInput(f"Alert channel {name!r} ({kind}) needs the setting {missing.args[0]!r}.") from None
    except (TypeError, ValueError) as error:
        raise InvalidInput(f"Alert channel {name!r} ({kind}) has an invalid setting: {error}") from None


def _setting(name: str, spec: Mapping[str, Any], key: str, *, required: bool = True) -> Any:
    if key in spec:
        return spec[key]
    variable = spec.get(f"{key}_env")
    if variable is not None:
        if variable not in os.environ:
            raise InvalidInput(f"Alert channel {name!r} reads its {key} from ${variable}, which is not set.")
        return os.environ[variable]
    if required:
        raise KeyError(key)
    return None
