"""The audit log through a workspace server: ``Workspace(url).events.list(...)``, read-only as everywhere."""

from __future__ import annotations

from driftloop.entities import Event
from driftloop.remote._client import ServerClient, decode_list

__all__ = ["RemoteEvents"]


class RemoteEvents:
    """The workspace's append-only event log, read through its server (``viewer``)."""

    def __init__(self, client: ServerClient) -> None:
        self._client = client

    def list(
        self,
        *,
        object_type: str | None = None,
        object_id: str | int | None = None,
        action: str | None = None,
        actor: str | None = None,
        since: float | None = None,
        limit: int = 100,
    ) -> list[Event]:
        """Events matching every given criterion, newest first."""
        query = {
            "object_type": object_type,
            "object_id": None if object_id is None else str(object_id),
            "action": action,
            "actor": actor,
            "since": since,
            "limit": limit,
        }
        return decode_list(Event, self._client.get("/events", params=query))
