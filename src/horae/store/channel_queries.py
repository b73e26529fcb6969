"""Notification channels: add, read, list, change (with a version check) and remove.

The store checks nothing in a channel's config or secrets (``horae.alerts.channels``
validates before writing). Secrets are a column of their own that only
:meth:`ChannelQueries.channel_secrets` reads -- for the sender, at send time; every other
method returns the read model :class:`~horae.alerts.channels.Channel`, which carries only
which secrets are set. Each write calls the change hook (:func:`horae.store.on_change`)
with that read model, so an audit record never sees a secret.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from horae.alerts.channels import Channel, secrets_set
from horae.errors import Conflict, NotFound
from horae.store import rows as R
from horae.store.base import StoreBase
from horae.store.connection import Tx

CHANNEL_COLUMNS = ("id", "name", "kind", "config", "secrets", "enabled", "created_at",
                   "updated_at", "version")
_COLS = R.columns(CHANNEL_COLUMNS)


def channel_from_row(row: dict[str, Any]) -> Channel:
    return Channel(id=int(row["id"]), name=row["name"], kind=row["kind"],
                   config=json.loads(row["config"]),
                   secrets=secrets_set(row["kind"], json.loads(row["secrets"])),
                   enabled=bool(row["enabled"]), created_at=float(row["created_at"]),
                   updated_at=float(row["updated_at"]), version=int(row["version"]))


class ChannelQueries(StoreBase):
    def channel_add(self, name: str, kind: str, config: Mapping[str, Any],
                    secrets: Mapping[str, str], *, enabled: bool = True) -> Channel:
        """Insert a channel; Conflict when the name is taken."""
        with self.db.write() as tx:
            row = tx.one(
                "INSERT INTO horae_channels (name, kind, config, secrets, enabled, created_at,"
                " updated_at, version) VALUES (:name, :kind, :config, :secrets, :enabled,"
                f" :now, :now, 1) ON CONFLICT (name) DO NOTHING RETURNING {_COLS}",
                {"name": name, "kind": kind, "config": R.dumps(dict(config)),
                 "secrets": R.dumps(dict(secrets)), "enabled": int(enabled),
                 "now": self._now(tx)})
            if row is None:
                raise Conflict(f"a channel named {name!r} exists")
            channel = channel_from_row(row)
            self._changed(tx, channel)
        return channel

    def channel_get(self, channel_id: int) -> Channel:
        with self.db.read() as tx:
            row = tx.one(f"SELECT {_COLS} FROM horae_channels WHERE id = :id",
                         {"id": channel_id})
        if row is None:
            raise NotFound("channel", channel_id)
        return channel_from_row(row)

    def channel_by_name(self, name: str) -> Channel:
        with self.db.read() as tx:
            row = tx.one(f"SELECT {_COLS} FROM horae_channels WHERE name = :name",
                         {"name": name})
        if row is None:
            raise NotFound("channel", name)
        return channel_from_row(row)

    def channel_list(self, *, kind: str | None = None) -> list[Channel]:
        """Every channel (of ``kind``), ordered by name."""
        where = "" if kind is None else " WHERE kind = :kind"
        with self.db.read() as tx:
            rows = tx.all(f"SELECT {_COLS} FROM horae_channels{where} ORDER BY name",
                          {"kind": kind})
        return [channel_from_row(r) for r in rows]

    def channel_secrets(self, channel_id: int) -> dict[str, str]:
        """The secret values of a channel: only for sending, never to show."""
        with self.db.read() as tx:
            row = tx.one("SELECT secrets FROM horae_channels WHERE id = :id",
                         {"id": channel_id})
        if row is None:
            raise NotFound("channel", channel_id)
        secrets: dict[str, str] = json.loads(row["secrets"])
        return secrets

    def channel_update(self, channel_id: int, *, name: str, config: Mapping[str, Any],
                       secrets: Mapping[str, str], enabled: bool,
                       expected_version: int | None = None) -> Channel:
        """Write a channel's new state (the caller merged it) as the next version.
        NotFound; Conflict when the name is taken or, with ``expected_version``, when the
        stored version differs."""
        guard = "" if expected_version is None else " AND version = :expected"
        try:
            return self._channel_write(channel_id, name, config, secrets, enabled,
                                       expected_version, guard)
        except Exception as e:
            # Two renames to one name at once: the unique index refuses the second.
            if any(c.__name__ == "IntegrityError" for c in type(e).__mro__):
                raise Conflict(f"a channel named {name!r} exists") from None
            raise

    def _channel_write(self, channel_id: int, name: str, config: Mapping[str, Any],
                       secrets: Mapping[str, str], enabled: bool, expected_version: int | None,
                       guard: str) -> Channel:
        with self.db.write() as tx:
            if name != self._name_of(tx, channel_id) and tx.one(
                    "SELECT id FROM horae_channels WHERE name = :name", {"name": name}):
                raise Conflict(f"a channel named {name!r} exists")
            row = tx.one(
                "UPDATE horae_channels SET name = :name, config = :config, secrets ="
                f" :secrets, enabled = :enabled, updated_at = {self.db.now_sql}, version ="
                f" version + 1 WHERE id = :id{guard} RETURNING {_COLS}",
                {"id": channel_id, "name": name, "config": R.dumps(dict(config)),
                 "secrets": R.dumps(dict(secrets)), "enabled": int(enabled),
                 "expected": expected_version})
            if row is None:
                self._channel_moved(tx, channel_id, expected_version)
            assert row is not None
            channel = channel_from_row(row)
            self._changed(tx, channel)
        return channel

    def channel_delete(self, channel_id: int, *, expected_version: int | None = None) -> None:
        """Remove a channel. NotFound, or Conflict on a lost update."""
        guard = "" if expected_version is None else " AND version = :expected"
        with self.db.write() as tx:
            if not tx.run(f"DELETE FROM horae_channels WHERE id = :id{guard}",
                          {"id": channel_id, "expected": expected_version}):
                self._channel_moved(tx, channel_id, expected_version)
            self._changed(tx, None)

    def _name_of(self, tx: Tx, channel_id: int) -> str:
        row = tx.one("SELECT name FROM horae_channels WHERE id = :id", {"id": channel_id})
        if row is None:
            raise NotFound("channel", channel_id)
        return str(row["name"])

    def _channel_moved(self, tx: Tx, channel_id: int, expected: int | None) -> None:
        found = tx.one("SELECT version FROM horae_channels WHERE id = :id", {"id": channel_id})
        if found is None:
            raise NotFound("channel", channel_id)
        raise Conflict(f"channel {channel_id} changed meanwhile (version {found['version']},"
                       f" expected {expected}); reload it and try again")
