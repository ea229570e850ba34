"""Reading the Delta log directly: which version a commit became, and which files any version refers to.

deltalake answers neither question cheaply: a commit returns no version (and under concurrent writers
the latest version may be someone else's), and it lists the files of one version at a time. Both
answers come from the log's own files, read through the same pyarrow filesystem as the data.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from driftloop.errors import InvalidState

__all__ = ["COMMIT_TOKEN", "find_commit", "referenced_files"]

COMMIT_TOKEN = "driftloop.commit"
"""The commitInfo key whose value, unique per commit, identifies the commit in the log."""


def find_commit(filesystem: Any, table_path: str, token: str, *, after: int) -> int | None:
    """The version whose commit carries ``token``, looking from ``after + 1`` up to the latest; None if absent.

    A writer that lost a race commits a few versions later, so this reads one or a few small files.
    """
    version = after + 1
    while True:
        try:
            with filesystem.open_input_stream(f"{table_path}/_delta_log/{version:020d}.json") as stream:
                lines = stream.read().decode("utf-8").splitlines()
        except FileNotFoundError:
            return None
        for line in lines:
            if '"commitInfo"' in line and json.loads(line).get("commitInfo", {}).get(COMMIT_TOKEN) == token:
                return version
        version += 1


def referenced_files(filesystem: Any, table_path: str) -> set[str]:
    """Relative paths of every data file any version in the log adds or removes.

    Raises:
        InvalidState: The log uses a checkpoint format read here is not sure to cover (V2 checkpoints
            with sidecar files, as some Spark writers produce); nothing may be deleted on its basis.
    """
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from pyarrow import fs

    log = f"{table_path}/_delta_log"
    paths: set[str] = set()
    for info in filesystem.get_file_info(fs.FileSelector(log, allow_not_found=True)):
        name = info.base_name
        if info.type == fs.FileType.Directory or (".checkpoint." in name and name.endswith(".json")):
            raise InvalidState(
                f"The Delta log at {log} holds {name!r}, a checkpoint format driftloop does not read; "
                "no file was deleted."
            )
        if name.endswith(".json") and name[:20].isdigit():
            with filesystem.open_input_stream(info.path) as stream:
                for line in stream.read().decode("utf-8").splitlines():
                    action = json.loads(line) if line.strip() else {}
                    paths.update(unquote(action[kind]["path"]) for kind in ("add", "remove") if kind in action)
        elif ".checkpoint" in name and name.endswith(".parquet"):
            columns = [
                column
                for column in ("add", "remove")
                if column in pq.read_schema(info.path, filesystem=filesystem).names
            ]
            checkpoint = pq.read_table(info.path, filesystem=filesystem, columns=columns)
            for column in columns:
                paths.update(unquote(path) for path in pc.struct_field(checkpoint[column], "path").to_pylist() if path)
    return paths
