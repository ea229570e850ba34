"""Users, tokens, grants, alerts, the loop's actions and the label queue through a workspace server: what
``ws.identities``, ``ws.alerts``, ``ws.loop_actions`` and ``ws.label_queue`` hand out for a remote workspace (the
same methods as their embedded counterparts, which the commands call). The server records the token's user as the
actor: an ``actor=`` or ``by=`` naming anyone else is refused here."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from driftloop.entities import Alert, AlertDelivery, AlertStatus, Grant, LoopAction, Role, Token, User
from driftloop.errors import PermissionDenied
from driftloop.remote._client import ServerClient, decode, decode_list, quoted
from driftloop.serving._label_queue import LabelAnswer

if TYPE_CHECKING:
    from driftloop.loop._active import LabelRequestOutcome

__all__ = ["RemoteAlerts", "RemoteIdentities", "RemoteLabelQueue", "RemoteLoopActions"]


class _ActingAsTheToken:
    def __init__(self, client: ServerClient, actor: Callable[[], str]) -> None:
        self._client = client
        self._actor = actor

    def _check(self, actor: str | None) -> None:
        if actor is not None and actor != self._actor():
            raise PermissionDenied(
                f"A workspace server records its token's user ({self._actor()!r}) as the actor; it cannot act as "
                f"{actor!r}."
            )


class RemoteIdentities(_ActingAsTheToken):
    """Users, tokens and grants (``admin`` on the workspace)."""

    def create_user(self, name: str, *, actor: str, kind: str = "user", role: Role | str | None = None) -> User:
        self._check(actor)
        body = {"name": name, "kind": kind, "role": None if role is None else Role.parse(role).value}
        return decode(User, self._client.send("POST", "/users", body))

    def list_users(self) -> builtins.list[User]:
        return decode_list(User, self._client.get("/users"))

    def disable_user(self, name: str, *, actor: str) -> User:
        self._check(actor)
        return decode(User, self._client.send("POST", quoted("users", name, "disable")))

    def enable_user(self, name: str, *, actor: str) -> User:
        self._check(actor)
        return decode(User, self._client.send("POST", quoted("users", name, "enable")))

    def create_token(self, user: str, expires_in: float | None = None, *, actor: str) -> tuple[Token, str]:
        """A new token of ``user`` and its secret, which the server answers this once."""
        self._check(actor)
        answer = self._client.send("POST", quoted("users", user, "tokens"), {"expires_in": expires_in})
        return decode(Token, answer), str(answer["token"])

    def list_tokens(self, user: str | None = None) -> builtins.list[Token]:
        return decode_list(Token, self._client.get("/tokens", params={"user": user}))

    def revoke_token(self, token_id: str, *, actor: str) -> Token:
        self._check(actor)
        return decode(Token, self._client.send("DELETE", quoted("tokens", token_id)))

    def grant(self, user: str, role: Role | str, scope: str = "workspace", *, actor: str) -> Grant:
        self._check(actor)
        body = {"role": Role.parse(role).value}
        return decode(Grant, self._client.send("PUT", quoted("users", user, "grants", scope), body))

    def list_grants(self, user: str | None = None, *, scope: str | None = None) -> builtins.list[Grant]:
        return decode_list(Grant, self._client.get("/grants", params={"user": user, "scope": scope}))

    def revoke_grant(self, user: str, scope: str = "workspace", *, actor: str) -> Grant:
        self._check(actor)
        return decode(Grant, self._client.send("DELETE", quoted("users", user, "grants", scope)))


class RemoteAlerts(_ActingAsTheToken):
    """Alerts: read (``viewer``), acknowledged and resolved (``deployer``)."""

    def list(
        self,
        *,
        status: AlertStatus | None = None,
        rule: str | None = None,
        subject: str | None = None,
        limit: int = 100,
    ) -> builtins.list[Alert]:
        query = {"status": status, "rule": rule, "subject": subject, "limit": limit}
        return decode_list(Alert, self._client.get("/alerts", params=query))

    def get(self, alert_id: int) -> Alert:
        return decode(Alert, self._client.get(quoted("alerts", alert_id))["alert"])

    def deliveries(self, alert_id: int) -> builtins.list[AlertDelivery]:
        return decode_list(AlertDelivery, self._client.get(quoted("alerts", alert_id))["deliveries"])

    def acknowledge(self, alert_id: int, *, by: str) -> Alert:
        self._check(by)
        return decode(Alert, self._client.send("POST", quoted("alerts", alert_id, "ack")))

    def resolve(self, alert_id: int, *, by: str) -> Alert:
        self._check(by)
        return decode(Alert, self._client.send("POST", quoted("alerts", alert_id, "resolve")))


class RemoteLoopActions:
    """What the loop did, read (``viewer``)."""

    def __init__(self, client: ServerClient) -> None:
        self._client = client

    def list(self, *, policy: str | None = None, model: str | None = None, limit: int = 100) -> list[LoopAction]:
        query: dict[str, Any] = {"policy": policy, "model": model, "limit": limit}
        return decode_list(LoopAction, self._client.get("/loop/actions", params=query))


class RemoteLabelQueue(_ActingAsTheToken):
    """The label queue: read (``viewer``), filled and answered (``deployer``)."""

    def pending(self, model: str | None = None, *, limit: int = 100) -> builtins.list[dict[str, Any]]:
        found = self._client.get("/labels/pending", params={"model": model, "limit": limit})
        return [dict(item) for item in found["pending"]]

    def request(
        self,
        model: str,
        *,
        strategy: str,
        budget_per_day: int,
        window: float = 86_400.0,
        companions: Sequence[str] = (),
        seed: int = 0,
        actor: str | None = None,
    ) -> LabelRequestOutcome:
        """Queue the champion's most informative unlabelled predictions, chosen on the server (``deployer`` on the
        model), next to its prediction log."""
        from driftloop.loop._active import LabelRequestOutcome

        self._check(actor)
        body = {
            "strategy": strategy,
            "budget_per_day": budget_per_day,
            "window_seconds": window,
            "companions": list(companions),
            "seed": seed,
        }
        return decode(LabelRequestOutcome, self._client.send("POST", quoted("models", model, "label-requests"), body))

    def answer(self, items: Sequence[tuple[Any, Any]], *, actor: str | None = None) -> LabelAnswer:
        self._check(actor)
        body = {"labels": [{"request_id": request_id, "label": label} for request_id, label in items]}
        answer = self._client.send("POST", "/labels", body)
        return LabelAnswer(
            recorded=int(answer["recorded"]),
            duplicates=int(answer["duplicates"]),
            corrections=tuple(answer["corrections"]),
            answered=int(answer["answered"]),
        )
