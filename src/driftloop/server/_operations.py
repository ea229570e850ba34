"""What happened and what needs attention, over HTTP: the audit log, alerts and the loop's actions.

Reading needs ``viewer`` on the workspace; acknowledging or resolving an alert, running a monitor pass, or running a
tick of the loop over the stored policies, ``deployer`` (who answers for what is served); setting or deleting one of
the loop's policies, ``admin``. The audit log has no route that changes it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Path, Query, Response
from pydantic import BaseModel, Field

from driftloop.entities import Alert, AlertDelivery, AlertStatus, Event, LoopAction, Role, StoredPolicy
from driftloop.errors import InvalidInput
from driftloop.names import validate_name
from driftloop.registry import parse_reference
from driftloop.server._access import Routes
from driftloop.server._http import ERROR_RESPONSES, json_response
from driftloop.server._services import ServicesDependency

__all__ = ["routes"]

routes = Routes("operations", responses=ERROR_RESPONSES)

Limit = Annotated[int, Query(ge=1, le=10_000, description="At most this many, newest first.")]
Text = Annotated[str | None, Query(max_length=256)]
AlertId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@routes.get("/events", Role.VIEWER, response_model=list[Event])
def events(
    services: ServicesDependency,
    object_type: Text = None,
    object_id: Text = None,
    action: Text = None,
    actor: Text = None,
    since: Annotated[float | None, Query(allow_inf_nan=False, description="Seconds since the epoch.")] = None,
    limit: Limit = 100,
) -> Response:
    """The audit log: who did what to which object, when, with the details; newest first."""
    found = services.metadata.events.list(
        object_type=object_type, object_id=object_id, action=action, actor=actor, since=since, limit=limit
    )
    return json_response(found)


@routes.get("/alerts", Role.VIEWER, response_model=list[Alert])
def alerts(
    services: ServicesDependency,
    status: AlertStatus | None = None,
    rule: Text = None,
    subject: Text = None,
    limit: Limit = 100,
) -> Response:
    return json_response(services.metadata.alerts.list(status=status, rule=rule, subject=subject, limit=limit))


class AlertWithDeliveries(BaseModel):
    alert: Alert
    deliveries: list[AlertDelivery]


@routes.get("/alerts/{alert_id}", Role.VIEWER, response_model=AlertWithDeliveries)
def alert(alert_id: AlertId, services: ServicesDependency) -> Response:
    """One alert and every attempt to deliver it (failed channels included; errors without secrets)."""
    alerts = services.metadata.alerts
    return json_response({"alert": alerts.get(alert_id), "deliveries": alerts.deliveries(alert_id)})


@routes.post("/alerts/{alert_id}/ack", Role.DEPLOYER, response_model=Alert)
def acknowledge_alert(alert_id: AlertId, services: ServicesDependency) -> Response:
    """Mark an open alert as seen by the caller: no more notifications until it resolves (409 when resolved)."""
    return json_response(services.metadata.alerts.acknowledge(alert_id, by=services.actor))


@routes.post("/alerts/{alert_id}/resolve", Role.DEPLOYER, response_model=Alert)
def resolve_alert(alert_id: AlertId, services: ServicesDependency) -> Response:
    """Resolve an active alert by hand; its rule must breach again to fire again (409 when resolved already)."""
    return json_response(services.metadata.alerts.resolve(alert_id, by=services.actor))


@routes.get("/loop/actions", Role.VIEWER, response_model=list[LoopAction])
def loop_actions(services: ServicesDependency, policy: Text = None, model: Text = None, limit: Limit = 100) -> Response:
    """What the loop did (retrain, promote, roll back…), with its trigger, evidence and cost; newest first."""
    return json_response(services.metadata.loop.list(policy=policy, model=model, limit=limit))


class MonitorPassRequest(BaseModel):
    models: list[Annotated[str, Field(max_length=520)]] | None = Field(
        None, max_length=1_000, description="References (NAME, NAME@ALIAS); every champion when left out."
    )
    last: int | None = Field(1_000, ge=1, le=10_000_000, description="The window: the latest N predictions.")
    period: float | None = Field(
        None, gt=0, le=3.2e9, allow_inf_nan=False, description="The window: predictions of the last N seconds."
    )
    multivariate: bool = Field(False, description="Also test the joint distribution.")


@routes.post("/monitor/passes", Role.DEPLOYER, response_model=dict[str, Any])
def monitor_pass(body: MonitorPassRequest, services: ServicesDependency) -> Response:
    """Check each model's latest window (drift, quality, estimated performance) and record the findings, as
    ``driftloop monitor run`` does without ``--alerts``: every champion by default. A model that cannot be checked is
    listed with its error. Alert rules over the findings run where they are configured (``driftloop serve --alerts``,
    ``driftloop monitor run --alerts`` beside the workspace)."""
    from driftloop.monitoring._scheduled import run_monitors

    found = run_monitors(
        services.workspace, body.models, last=body.last, period=body.period, multivariate=body.multivariate
    )
    return json_response(found.to_dict())


class Tick(BaseModel):
    policies: list[Annotated[str, Field(max_length=256)]] | None = Field(
        None, max_length=1_000, description="The stored policies to run; every stored policy when left out."
    )


@routes.post("/loop/ticks", Role.DEPLOYER, response_model=list[dict[str, Any]])
def loop_tick(body: Tick, services: ServicesDependency) -> Response:
    """Run the loop's controller once over the stored policies, as ``driftloop loop run`` does, acting as the caller:
    for each policy, what it saw of its model's latest window and the action it started or moved on (a retrain, its
    gates and a promotion run before the answer). 409 when another process runs the controller now (a server started
    with ``--policies``), 404 when a policy named is not stored."""
    names = None if body.policies is None else [validate_name("policy", name) for name in body.policies]
    return json_response(services.policies.tick(names))


# -- policies --------------------------------------------------------------------------------------------


@routes.get("/policies", Role.VIEWER, response_model=list[StoredPolicy])
def list_policies(services: ServicesDependency) -> Response:
    """The loop's policies kept in the workspace, by name."""
    return json_response(services.policies.list())


@routes.get("/policies/{name}", Role.VIEWER, response_model=StoredPolicy)
def get_policy(name: str, services: ServicesDependency) -> Response:
    return json_response(services.policies.get(validate_name("policy", name)))


@routes.put("/policies/{name}", Role.ADMIN, response_model=StoredPolicy)
def set_policy(name: str, body: dict[str, Any], services: ServicesDependency) -> Response:
    """Create or replace a policy: its mapping as a policy file holds it, checked before it is stored (400 when it
    does not parse, 404 when its model is not registered). The audit log keeps every revision."""
    name = validate_name("policy", name)
    if body.get("name", name) != name:
        raise InvalidInput(f"The policy's name {body.get('name')!r} is not the {name!r} its path names.")
    return json_response(services.policies.set({**body, "name": name}))


@routes.delete("/policies/{name}", Role.ADMIN, response_model=StoredPolicy)
def delete_policy(name: str, services: ServicesDependency) -> Response:
    """Remove a policy; the loop stops acting on it at its next tick."""
    return json_response(services.policies.delete(validate_name("policy", name)))


# -- the label queue -------------------------------------------------------------------------------------


class LabelItem(BaseModel):
    request_id: str = Field(max_length=256)
    label: str | int | float | bool


class LabelAnswers(BaseModel):
    labels: list[LabelItem] = Field(max_length=100_000)


@routes.get("/labels/pending", Role.VIEWER, response_model=dict[str, list[dict[str, Any]]])
def pending_labels(
    services: ServicesDependency, model: Text = None, limit: Annotated[int, Query(ge=1, le=10_000)] = 100
) -> Response:
    """What active learning asked people to label, not answered yet, the most informative first."""
    return json_response({"pending": services.label_queue.pending(model, limit=limit)})


class LabelRequestBody(BaseModel):
    strategy: Literal["margin", "entropy", "uncertainty", "ensemble_spread", "quantile_spread", "random"] = Field(
        description="How informative a prediction is: margin, entropy or uncertainty for a classifier; "
        "ensemble_spread (with companions) or quantile_spread for a regressor; random as the baseline."
    )
    budget_per_day: int = Field(ge=1, le=10_000_000, description="The most requests of the model in any 24 hours.")
    window_seconds: float = Field(86_400.0, gt=0, le=366 * 86_400, description="Only predictions this recent.")
    companions: list[str] = Field([], max_length=16, description="Models whose predictions join the spread.")
    seed: int = Field(0, ge=0, le=2**32 - 1)


@routes.post("/models/{name}/label-requests", Role.DEPLOYER, scope="model:{name}", response_model=dict[str, Any])
def request_labels(name: str, body: LabelRequestBody, services: ServicesDependency) -> Response:
    """Queue the champion's most informative unlabelled predictions (scored by the strategy) within the daily budget:
    what was scored, what the budget allowed, and the requests queued."""
    for companion in body.companions:  # their predictions are read too
        services.require(Role.VIEWER, f"model:{parse_reference(companion).name}")
    outcome = services.label_queue.request(
        validate_name("model", name),
        strategy=body.strategy,
        budget_per_day=body.budget_per_day,
        window=body.window_seconds,
        companions=body.companions,
        seed=body.seed,
        actor=services.actor,
    )
    return json_response(outcome)


@routes.post("/labels", Role.DEPLOYER, response_model=dict[str, Any])
def answer_labels(body: LabelAnswers, services: ServicesDependency) -> Response:
    """Answers to label requests (or labels of any logged prediction), all or none: a label that does not fit the
    model that made the prediction refuses the whole answer (422). The next retrain reads them."""
    items = [(item.request_id, item.label) for item in body.labels]
    return json_response(services.label_queue.answer(items, actor=services.actor).to_dict())
