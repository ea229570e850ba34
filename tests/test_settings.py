"""Settings resolution: arguments, then environment, then driftloop.toml, then defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftloop.errors import InvalidSettings
from driftloop.settings import Settings


def test_defaults_are_a_local_embedded_workspace(tmp_path: Path) -> None:
    settings = Settings.resolve(cwd=tmp_path, environ={}, actor="ana")
    assert settings.root == str(tmp_path / ".driftloop")
    assert settings.store == f"sqlite:///{tmp_path / '.driftloop' / 'driftloop.db'}"
    assert settings.blobs_url == f"{tmp_path / '.driftloop'}/blobs"
    assert settings.is_embedded and settings.actor == "ana"


def test_precedence_arguments_environment_file(tmp_path: Path) -> None:
    (tmp_path / "driftloop.toml").write_text(
        'store = "postgresql+psycopg://file@db/x"\nartifacts = "data"\nactor = "from-file"\n'
    )
    nested = tmp_path / "src" / "pkg"
    nested.mkdir(parents=True)
    from_file = Settings.resolve(cwd=nested, environ={})
    assert from_file.store == "postgresql+psycopg://file@db/x"
    assert from_file.artifacts == str(tmp_path / "data")  # relative to the file, not the cwd
    assert from_file.actor == "from-file" and not from_file.is_embedded
    env = {"DRIFTLOOP_STORE": "postgresql+psycopg://env@db/x", "DRIFTLOOP_ARTIFACTS": "s3://bucket/prefix/"}
    from_env = Settings.resolve(cwd=nested, environ=env)
    assert from_env.store == "postgresql+psycopg://env@db/x"
    assert from_env.artifacts == "s3://bucket/prefix" and from_env.blobs_url == "s3://bucket/prefix/blobs"
    from_args = Settings.resolve(cwd=nested, environ=env, store="sqlite:///x.db", artifacts="out")
    assert from_args.store == "sqlite:///x.db" and from_args.artifacts == str(nested / "out")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("store = ", "not valid TOML"),
        ('stor = "sqlite:///x"', "unknown setting\\(s\\) 'stor'"),
        ("store = 3", "must be a non-empty string; got 3"),
        ('store = "just-a-path.db"', "is not a URL"),
    ],
)
def test_bad_config_file_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "driftloop.toml").write_text(content)
    with pytest.raises(InvalidSettings, match=message):
        Settings.resolve(cwd=tmp_path, environ={})
