"""Where a workspace keeps its metadata and artifacts, and who acts in it.

Each setting is taken from the first place that gives it:

1. the argument passed to :class:`~driftloop.Workspace` (``store=``, ``artifacts=``, ``root=``, ``actor=``);
2. the environment: ``DRIFTLOOP_STORE``, ``DRIFTLOOP_ARTIFACTS``, ``DRIFTLOOP_ROOT``, ``DRIFTLOOP_ACTOR``;
3. a ``driftloop.toml`` in the current folder or the nearest parent folder that has one, with the
   top-level keys ``store``, ``artifacts``, ``root`` and ``actor`` (relative paths are relative to that file);
4. the defaults: ``root`` is ``.driftloop/`` in the current folder, the metadata store is the SQLite file
   ``<root>/driftloop.db``, artifacts live under ``<root>/`` (blobs in ``blobs/``, tables in ``tables/``),
   and the actor is the local operating-system user.

A store URL of ``http://`` or ``https://`` names a workspace server (``driftloop server``): the workspace is then
remote, and ``token`` (the argument, or ``DRIFTLOOP_TOKEN``; never a file, a token is a secret) is the API token its
requests carry.

>>> settings = Settings.resolve(cwd="/srv/project", environ={}, search_files=False)
>>> settings.store
'sqlite:////srv/project/.driftloop/driftloop.db'
>>> Settings.resolve(store="postgresql+psycopg://ml@db/ml", cwd="/srv", environ={}, search_files=False).store
'postgresql+psycopg://ml@db/ml'
"""

from __future__ import annotations

import getpass
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from driftloop.errors import InvalidSettings

__all__ = ["CONFIG_FILE", "Settings", "local_user"]

CONFIG_FILE = "driftloop.toml"
DEFAULT_ROOT = ".driftloop"
_KEYS = ("store", "artifacts", "root", "actor")


@dataclass(frozen=True, slots=True)
class Settings:
    """Resolved workspace settings: every field is final, no further lookup happens."""

    root: str
    store: str
    artifacts: str
    actor: str
    source: str = "defaults"
    token: str | None = field(default=None, repr=False)

    @property
    def is_remote(self) -> bool:
        """True when the store is a workspace server reached over HTTP."""
        return self.store.startswith(("http://", "https://"))

    @property
    def blobs_url(self) -> str:
        return _join(self.artifacts, "blobs")

    @property
    def tables_url(self) -> str:
        return _join(self.artifacts, "tables")

    @property
    def is_embedded(self) -> bool:
        """True when the metadata lives in a local SQLite file (migrations run automatically)."""
        return self.store.startswith("sqlite")

    @classmethod
    def resolve(
        cls,
        *,
        root: str | os.PathLike[str] | None = None,
        store: str | None = None,
        artifacts: str | os.PathLike[str] | None = None,
        actor: str | None = None,
        token: str | None = None,
        cwd: str | os.PathLike[str] | None = None,
        environ: Mapping[str, str] | None = None,
        search_files: bool = True,
    ) -> Settings:
        """Resolve settings from arguments, environment, ``driftloop.toml`` and defaults, in that order."""
        folder = Path(cwd if cwd is not None else os.getcwd())
        env = os.environ if environ is None else environ
        given = {"root": root, "store": store, "artifacts": artifacts, "actor": actor}
        from_env = {key: env.get(f"DRIFTLOOP_{key.upper()}") or None for key in _KEYS}
        config_path = _find_config(folder) if search_files else None
        from_file = _read_config(config_path) if config_path else {}
        base = config_path.parent if config_path else folder

        def pick(key: str) -> str | None:
            if given[key] is not None:
                return os.fspath(given[key])  # type: ignore[arg-type]
            if from_env[key] is not None:
                return from_env[key]
            return from_file.get(key)

        root_value = pick("root")
        resolved_root = _absolute(root_value, base if given["root"] is None else folder) or str(folder / DEFAULT_ROOT)
        store_value = pick("store") or f"sqlite:///{Path(resolved_root) / 'driftloop.db'}"
        artifacts_value = pick("artifacts")
        artifacts_url = _absolute(artifacts_value, base if given["artifacts"] is None else folder) or resolved_root
        source = ", ".join(
            name
            for name, present in (
                ("arguments", any(v is not None for v in given.values())),
                ("environment", any(v is not None for v in from_env.values())),
                (str(config_path), bool(from_file)),
            )
            if present
        )
        return cls(
            root=resolved_root,
            store=_check_store(store_value),
            artifacts=artifacts_url,
            actor=pick("actor") or local_user(),
            source=source or "defaults",
            token=token or env.get("DRIFTLOOP_TOKEN") or None,
        )


def local_user() -> str:
    """The operating-system user running this process (the default actor)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, as in some containers
        return f"uid-{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def _find_config(folder: Path) -> Path | None:
    for candidate in (folder, *folder.parents):
        path = candidate / CONFIG_FILE
        if path.is_file():
            return path
    return None


def _read_config(path: Path) -> dict[str, str]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise InvalidSettings(f"{path} is not valid TOML: {error}.") from error
    unknown = sorted(set(data) - set(_KEYS))
    if unknown:
        raise InvalidSettings(
            f"{path} has unknown setting(s) {', '.join(map(repr, unknown))}; the settings are "
            f"{', '.join(map(repr, _KEYS))}."
        )
    for key, value in data.items():
        if not isinstance(value, str) or not value.strip():
            raise InvalidSettings(f"The setting {key!r} in {path} must be a non-empty string; got {value!r}.")
    return dict(data)


def _absolute(value: str | None, base: Path) -> str | None:
    """Absolute path for a plain path; URLs (``s3://…``) unchanged."""
    if value is None:
        return None
    if "://" in value:
        if value.startswith("file://"):
            return str(Path(value.removeprefix("file://")).resolve())
        return value.rstrip("/")
    return str((base / Path(value).expanduser()).resolve())


def _check_store(url: str) -> str:
    if "://" not in url:
        raise InvalidSettings(
            f"The metadata store setting {url!r} is not a URL; expected e.g. 'sqlite:///path/driftloop.db' "
            "or 'postgresql+psycopg://user@host/db'."
        )
    return url


def _join(base: str, name: str) -> str:
    return f"{base.rstrip('/')}/{name}"
