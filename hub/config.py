"""config.yaml: embedded defaults, the file, then environment overrides.

Every key has a default here (the embedded defaults the README's first command
runs on) and is documented in config.yaml.  Any key can be overridden from the
environment as ``EDIHUB__SECTION__KEY`` (for example
``EDIHUB__FOLDERS__INBOUND=/data/in``); values are parsed as YAML scalars, so
``EDIHUB__X12__CHUNK_SIZE=65536`` is an integer.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

ENV_PREFIX = "EDIHUB__"
CONFIG_ENV = "EDIHUB_CONFIG"

DEFAULTS: dict[str, dict[str, Any]] = {
    "database": {
        "url": "sqlite:///var/edihub.db",
    },
    "folders": {
        "inbound": "inbound",
        "outbound": "outbound",
        "archive": "var/archive",
        "settle_seconds": 2.0,
        "scan_interval": 30.0,
    },
    "partners": {
        "folder": "partner_profiles",
        "mappings": "mappings",
    },
    "runtime": {
        "worker_id": None,
        "lease_seconds": 300.0,
        "retry_base_seconds": 30.0,
        "retry_max_seconds": 3600.0,
        "max_attempts": 10,
        "duplicate_window_days": 30,
        "poll_seconds": 60.0,
        "ack_sweep_seconds": 300.0,
    },
    "sftp_server": {
        "port": 0,
        "listen": "0.0.0.0",
        "host_key": "var/sftp/ssh_host_ed25519_key",
    },
    "as2": {
        "as2_id": None,
        "keys": [],
        "listen": "127.0.0.1",
        "port": 0,
        "public_url": None,
        "folder": "var/as2",
        "max_size": 536870912,
        "max_decompressed_size": 1073741824,
        "cert_warn_days": 30,
    },
    "erp": {
        "type": "folder",
        "folder": {"inbox": "var/erp/inbox", "outbox": "var/erp/outbox", "format": "json"},
        "http": {},
        "sql": {},
        "tryton": {},
    },
    "x12": {
        "chunk_size": 1 << 20,
        "max_segment_length": 1 << 24,
        "max_transaction_segments": 2_000_000,
        "ebcdic_codec": "cp037",
        "encoding": None,
    },
}


class ConfigError(ValueError):
    """config.yaml or an override is not valid; the message names the key."""


def _merge(base: dict[str, Any], extra: Mapping[str, Any], where: str, depth: int = 0) -> None:
    """Sections (depth 0) merge key by key; a setting whose default is a mapping (an adapter's options) is
    replaced as a whole by the mapping given, and checked by the adapter that reads it."""
    for key, value in extra.items():
        if key not in base:
            raise ConfigError(f"{where}: unknown key {key!r} (known: {', '.join(sorted(base))})")
        if isinstance(base[key], dict) and depth == 0:
            if not isinstance(value, Mapping):
                raise ConfigError(f"{where}: {key!r} must be a mapping")
            _merge(base[key], value, f"{where}.{key}", 1)
        elif isinstance(base[key], dict):
            if not isinstance(value, Mapping):
                raise ConfigError(f"{where}.{key} must be a mapping of options, not {value!r}")
            base[key] = dict(value)
        else:
            base[key] = value


def load_config(path: str | os.PathLike | None = None, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Defaults, then ``path`` (or $EDIHUB_CONFIG, or ./config.yaml when present), then the environment."""
    environ = os.environ if environ is None else environ
    config = copy.deepcopy(DEFAULTS)
    if path is None:
        path = environ.get(CONFIG_ENV) or ("config.yaml" if Path("config.yaml").is_file() else None)
    if path is not None:
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from exc
        if not isinstance(data, Mapping):
            raise ConfigError(f"{path}: the top level must be a mapping")
        _merge(config, data, str(path))
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        keys = name[len(ENV_PREFIX) :].lower().split("__")
        if len(keys) != 2 or keys[0] not in config or keys[1] not in config[keys[0]]:
            raise ConfigError(f"environment {name}: no such setting {'.'.join(keys)}")
        config[keys[0]][keys[1]] = yaml.safe_load(raw) if raw != "" else None
    _check_types(config)
    return config


def _check_types(config: Mapping[str, Any]) -> None:
    """Each setting has its default's type: a positive integer, a number >= 0, a string, a mapping (an adapter's
    options), a list of mappings (``as2.keys``), or (default null) a string or null."""
    for section, keys in DEFAULTS.items():
        for key, default in keys.items():
            value = config[section][key]
            where = f"{section}.{key}"
            if isinstance(default, dict):
                if not isinstance(value, Mapping):
                    raise ConfigError(f"{where} must be a mapping of options, not {value!r}")
            elif isinstance(default, list):
                if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
                    raise ConfigError(f"{where} must be a list of mappings, not {value!r}")
            elif isinstance(default, float):
                if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                    raise ConfigError(f"{where} must be a number >= 0, not {value!r}")
            elif isinstance(default, int):
                low = 0 if default == 0 else 1  # a default of 0 means "off" (sftp_server.port)
                if not isinstance(value, int) or isinstance(value, bool) or value < low:
                    raise ConfigError(f"{where} must be {'an integer >= 0' if low == 0 else 'a positive integer'}, "
                                      f"not {value!r}")
            elif isinstance(default, str):
                if not isinstance(value, str) or not value:
                    raise ConfigError(f"{where} must be a non-empty string, not {value!r}")
            elif value is not None and not isinstance(value, str):
                raise ConfigError(f"{where} must be a string or null, not {value!r}")


def documented_keys() -> list[str]:
    """Every ``section.key`` that exists (the docs test checks each is documented)."""
    return [f"{section}.{key}" for section, keys in DEFAULTS.items() for key in keys]


def x12_reader_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments for :class:`hub.edi.x12.X12Reader` from the ``x12`` section."""
    section = config["x12"]
    return {
        "chunk_size": int(section["chunk_size"]),
        "max_segment_length": int(section["max_segment_length"]),
        "max_transaction_segments": int(section["max_transaction_segments"]),
        "ebcdic_codec": section["ebcdic_codec"],
        "encoding": section["encoding"],
    }
