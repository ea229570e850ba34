"""The metadata tables, as SQLAlchemy Core tables.

The migrations in ``migrations/versions`` create exactly these; a contract test checks that the two agree.
Times are float seconds since the epoch (UTC) everywhere: one representation on every backend, cheap to
compare in filters. Metric values are nullable because SQLite stores NaN as NULL; NULL reads back as NaN.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

# Integer on SQLite so that an INTEGER PRIMARY KEY is the rowid (autoincrementing); BIGINT elsewhere.
BigId = BigInteger().with_variant(Integer(), "sqlite")

NAME = 256
KEY = 250
SCOPE = NAME + 16  # "dataset:" or "model:" and a name
metadata = MetaData()

experiments = Table(
    "experiments",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(NAME), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("lifecycle", String(16), nullable=False, default="active"),
    Column("created_at", Float, nullable=False),
    Column("created_by", String(NAME), nullable=False),
    Column("deleted_at", Float),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("experiment_id", BigId, ForeignKey("experiments.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(NAME), nullable=False),
    Column("status", String(16), nullable=False),
    Column("start_time", Float, nullable=False),
    Column("end_time", Float),
    Column("user", String(NAME), nullable=False),
    Column("parent_id", String(32), ForeignKey("runs.id", ondelete="SET NULL")),
    Column("lifecycle", String(16), nullable=False, default="active"),
    Column("deleted_at", Float),
    Column("git_commit", String(64)),
    Column("git_dirty", Boolean),
    Column("python_version", String(64), nullable=False, default=""),
    Column("platform", String(NAME), nullable=False, default=""),
    Column("hostname", String(NAME), nullable=False, default=""),
    Column("pid", Integer),
    Column("command", Text, nullable=False, default=""),
    Column("packages", Text, nullable=False, default="{}"),
    Column("wall_time", Float),
    Column("cpu_time", Float),
    Column("peak_memory", BigInteger),
    Index("ix_runs_experiment_start", "experiment_id", "start_time"),
    Index("ix_runs_parent", "parent_id"),
)


def _run_key_values(name: str) -> Table:
    """Params and tags share one shape: text values keyed by (run, key)."""
    return Table(
        name,
        metadata,
        Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
        Column("key", String(KEY), primary_key=True),
        Column("value", Text, nullable=False),
        # The value again as a number when it reads as one, so filters compare 0.01 < 0.1 numerically.
        Column("value_number", Float),
    )


params = _run_key_values("params")
tags = _run_key_values("tags")

# One row per (run, metric key): the series id the points refer to, and the latest value for searches.
metrics = Table(
    "metrics",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(KEY), nullable=False),
    Column("last_value", Float),
    Column("last_step", BigInteger, nullable=False, default=0),
    Column("last_timestamp", Float, nullable=False, default=0.0),
    Column("count", BigInteger, nullable=False, default=0),
    Column("min_value", Float),
    Column("max_value", Float),
    UniqueConstraint("run_id", "key", name="uq_metrics_run_key"),
)

# Points are stored in chunks: one row per (series, flush) holding the flush's steps, timestamps and
# values as little-endian int64/float64/float64 arrays. A million points are a few dozen rows to
# insert and a history reads back with numpy.frombuffer, with no Python object per point; NaN and
# infinities keep their exact IEEE-754 bits. Searches never look inside chunks: they use the
# per-series summary in ``metrics``. No foreign key: chunks go with their series when a run is purged.
metric_chunks = Table(
    "metric_chunks",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("series_id", BigInteger, nullable=False),
    Column("count", Integer, nullable=False),
    Column("min_step", BigInteger, nullable=False),
    Column("max_step", BigInteger, nullable=False),
    Column("steps", LargeBinary, nullable=False),
    Column("timestamps", LargeBinary, nullable=False),
    Column("values", LargeBinary, nullable=False),
    Index("ix_metric_chunks_series", "series_id", "id"),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("path", String(1024), primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Index("ix_artifacts_digest", "digest"),
)

run_inputs = Table(
    "run_inputs",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("dataset", String(NAME), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("role", String(64), primary_key=True),
)

events = Table(
    "events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("actor", String(NAME), nullable=False),
    Column("action", String(64), nullable=False),
    Column("object_type", String(64), nullable=False),
    Column("object_id", String(NAME), nullable=False),
    Column("details", Text, nullable=False, default="{}"),
    Index("ix_events_object", "object_type", "object_id"),
    Index("ix_events_at", "at"),
)

datasets = Table(
    "datasets",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(NAME), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Column("created_by", String(NAME), nullable=False),
    # The current, user-editable data schema (rules and expectations) and ingest settings, as JSON.
    Column("data_schema", Text),
    Column("settings", Text, nullable=False, default="{}"),
)

dataset_versions = Table(
    "dataset_versions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("dataset_id", BigId, ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("delta_version", BigInteger, nullable=False),
    Column("mode", String(16), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("source", Text, nullable=False),
    Column("transform_hash", String(64)),
    Column("schema_fingerprint", String(64)),
    Column("arrow_schema", Text, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("total_rows", BigInteger, nullable=False),
    Column("quarantined_rows", BigInteger, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
    Column("created_by", String(NAME), nullable=False),
    Column("profile_digest", String(64)),
    Column("report_digest", String(64)),
    Column("transform_digest", String(64)),
    UniqueConstraint("dataset_id", "number", name="uq_dataset_versions_number"),
)

registered_models = Table(
    "registered_models",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(NAME), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Column("created_by", String(NAME), nullable=False),
)

# A model version is immutable once written: its files are the parts its manifest lists (blobs).
model_versions = Table(
    "model_versions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("model_id", BigId, ForeignKey("registered_models.id", ondelete="CASCADE"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("manifest_digest", String(64), nullable=False),
    Column("flavour", String(32), nullable=False),
    Column("task", String(16)),
    Column("run_id", String(32)),
    Column("dataset", String(NAME)),
    Column("dataset_version", Integer),
    # JSON documents: the input signature, the holdout metrics, and the evaluation record (holdout
    # fingerprint and blob, training-row hashes) that gates use to compare two versions on identical rows.
    Column("signature", Text, nullable=False, default="{}"),
    Column("metrics", Text, nullable=False, default="{}"),
    Column("evaluation", Text, nullable=False, default="{}"),
    Column("profile_digest", String(64)),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Column("created_by", String(NAME), nullable=False),
    UniqueConstraint("model_id", "number", name="uq_model_versions_number"),
)

# The current target of each alias; its history is the events table (action "model.alias").
model_aliases = Table(
    "model_aliases",
    metadata,
    Column("model_id", BigId, ForeignKey("registered_models.id", ondelete="CASCADE"), primary_key=True),
    Column("alias", String(NAME), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("updated_by", String(NAME), nullable=False),
)

# The traffic policy a deployer set for each model, which its servers follow: the share of requests its challenger
# answers (canary), whether the challenger scores copies (shadow), and the challenger's alias. A model without a row
# sends everything to its champion; every change is also an event (action "model.traffic").
model_traffic = Table(
    "model_traffic",
    metadata,
    Column("model_id", BigId, ForeignKey("registered_models.id", ondelete="CASCADE"), primary_key=True),
    Column("canary", Float, nullable=False),
    Column("shadow", Boolean, nullable=False),
    Column("challenger", String(NAME), nullable=False),
    Column("reason", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("updated_by", String(NAME), nullable=False),
)

# Secrets the workspace generates for itself, shared by every process on the same store: e.g. the key that
# signs model files which have no safe format of their own (River's pickles).
workspace_keys = Table(
    "workspace_keys",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", LargeBinary, nullable=False),
    Column("created_at", Float, nullable=False),
)

# One row per named job that exactly one process may run at a time (the loop controller, an online learner).
# Rows are never deleted: ``token`` must keep growing across tenures for fencing to work.
leases = Table(
    "leases",
    metadata,
    Column("name", String(NAME), primary_key=True),
    Column("holder", String(NAME), nullable=False),
    Column("token", BigInteger, nullable=False),
    Column("acquired_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("renewed_at", Float, nullable=False),
)

# Alerts raised by monitoring rules. At most one alert per (rule, subject) is active (open or
# acknowledged) at a time: a rule that keeps breaching updates it (count, last value) instead of
# adding rows. ``notified_at`` is when channels were last told, for the cooldown.
alerts = Table(
    "alerts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("rule", String(NAME), nullable=False),
    Column("subject", String(NAME), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("opened_at", Float, nullable=False),
    Column("last_seen_at", Float, nullable=False),
    Column("resolved_at", Float),
    Column("resolved_by", String(NAME)),
    Column("acked_at", Float),
    Column("acked_by", String(NAME)),
    Column("notified_at", Float),
    Column("count", BigInteger, nullable=False),
    Column("last_value", Float),
    Column("message", Text, nullable=False, default=""),
    Column("evidence", Text, nullable=False, default="{}"),
    Index("ix_alerts_rule_subject_status", "rule", "subject", "status"),
    Index("ix_alerts_status_opened", "status", "opened_at"),
)

# Every attempt to tell a channel about an alert, successful or not: a failing channel leaves rows here.
alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("alert_id", BigId, ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    Column("channel", String(NAME), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("at", Float, nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("error", Text),
    Index("ix_alert_deliveries_alert", "alert_id", "id"),
)

# The consecutive breaching and recovered windows of each (rule, subject), shared by every process
# that evaluates rules, so that "three windows in a row" means the same thing to all of them.
alert_states = Table(
    "alert_states",
    metadata,
    Column("rule", String(NAME), primary_key=True),
    Column("subject", String(NAME), primary_key=True),
    Column("breaches", Integer, nullable=False),
    Column("recoveries", Integer, nullable=False),
    Column("last_value", Float),
    Column("updated_at", Float, nullable=False),
)

# Monitor outputs over time: a scheduled check's findings per served model ("drift"), and each server
# process's request counters per interval ("health"), which the monitor sums over processes. Every
# server process reads the latest ones to export them as gauges; reports draw them over time.
monitor_records = Table(
    "monitor_records",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("subject", String(NAME), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("source", String(NAME), nullable=False, default=""),
    Column("recorded_at", Float, nullable=False),
    Column("window_start", Float),
    Column("window_end", Float),
    Column("outputs", Text, nullable=False, default="{}"),
    Index("ix_monitor_records_kind_subject", "kind", "subject", "id"),
    Index("ix_monitor_records_recorded", "recorded_at"),
)

# Every action the loop takes, one row moved through its steps (started -> trained -> gated -> promoted, or
# rejected, failed, held...). A controller killed mid-action finds the row unfinished and resumes it.
loop_actions = Table(
    "loop_actions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("policy", String(NAME), nullable=False),
    Column("model", String(NAME), nullable=False),
    Column("trigger", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("state", String(32), nullable=False),
    Column("champion_version", Integer),
    Column("challenger_version", Integer),
    Column("started_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("finished_at", Float),
    Column("evidence", Text, nullable=False, default="{}"),
    Column("cost", Text, nullable=False, default="{}"),
    Column("error", Text),
    Index("ix_loop_actions_policy", "policy", "id"),
    Index("ix_loop_actions_model", "model", "id"),
)

# Windows of a model's traffic whose data failed its quality checks: retrain windows leave them out.
quarantines = Table(
    "quarantines",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("model", String(NAME), nullable=False),
    Column("window_start", Float, nullable=False),
    Column("window_end", Float, nullable=False),
    Column("reason", Text, nullable=False),
    Column("action_id", BigId),
    Column("created_at", Float, nullable=False),
    Index("ix_quarantines_model", "model", "window_start"),
)

# The label queue: logged predictions that active learning chose for a person to label, one row per request id
# (queued once, whatever the number of selections), marked answered when its label arrives.
label_requests = Table(
    "label_requests",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("request_id", String(NAME), nullable=False),
    Column("model", String(NAME), nullable=False),
    Column("version", Integer),
    Column("score", Float, nullable=False),
    Column("strategy", String(64), nullable=False),
    Column("inputs", Text, nullable=False, default="{}"),
    Column("prediction", Text, nullable=False, default="null"),
    Column("requested_at", Float, nullable=False),
    Column("answered_at", Float),
    Column("answer_source", String(64)),
    Column("answers", Integer, nullable=False, default=0),
    UniqueConstraint("request_id", name="uq_label_requests_request_id"),
    Index("ix_label_requests_model", "model", "requested_at"),
    Index("ix_label_requests_pending", "answered_at", "score"),
)

# Who may reach a shared workspace. Users are never deleted (events name them as actors), only disabled.
users = Table(
    "users",
    metadata,
    Column("name", String(NAME), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("created_by", String(NAME), nullable=False),
    Column("disabled_at", Float),
)

# API tokens: only the SHA-256 digest of each token is kept, never the token (see _identity.py for why a fast
# digest is enough). ``prefix`` is the token's non-secret start, ``dl_<id>_``, shown in listings.
tokens = Table(
    "tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user", String(NAME), ForeignKey("users.name"), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("prefix", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("created_by", String(NAME), nullable=False),
    Column("expires_at", Float),
    Column("revoked_at", Float),
    Column("revoked_by", String(NAME)),
    Column("last_used_at", Float),
    Index("ix_tokens_user", "user"),
)

# One role per (user, scope); the scope is "workspace", "dataset:<name>" or "model:<name>".
grants = Table(
    "grants",
    metadata,
    Column("user", String(NAME), ForeignKey("users.name"), primary_key=True),
    Column("scope", String(SCOPE), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("granted_at", Float, nullable=False),
    Column("granted_by", String(NAME), nullable=False),
    Index("ix_grants_scope", "scope"),
)

# The loop's policies, one row a policy: its mapping as a policy file holds it (JSON), and how often it was set.
# A deleted policy's row goes; its last document stays in the ``policy.delete`` event.
policies = Table(
    "policies",
    metadata,
    Column("name", String(NAME), primary_key=True),
    Column("document", Text, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("updated_by", String(NAME), nullable=False),
)
