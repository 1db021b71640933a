"""One frozen settings object, read once from the environment and passed down.

Every knob is a ``LIVEMOD_*`` variable. Secrets are wrapped in :class:`Secret` so that
printing the settings (``livemod settings``) or logging them never shows the value;
a secret may also be read from a file (``LIVEMOD_SASL_PASSWORD_FILE``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Mapping

REPO_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A LIVEMOD_* variable has a value that cannot be used."""


@dataclass(frozen=True, slots=True)
class Secret:
    value: str = ""

    def __repr__(self) -> str:
        return "Secret('***')" if self.value else "Secret('')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self.value)


@dataclass(frozen=True, slots=True)
class Settings:
    bootstrap_servers: str = "127.0.0.1:9092"
    # PLAINTEXT | SSL | SASL_PLAINTEXT | SASL_SSL
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "SCRAM-SHA-512"
    sasl_username: str = ""
    sasl_password: Secret = Secret()
    ssl_cafile: str = ""
    # Prepended to every topic name; lets several deployments (or tests) share a cluster.
    topic_prefix: str = ""
    app_id: str = "livemod"
    metrics_port: int = 0  # 0 = no Prometheus endpoint
    metrics_host: str = "127.0.0.1"
    lexicon_dir: Path = REPO_ROOT / "lexicons"
    # Seconds between checks for changed lexicon files (hot reload); 0 disables.
    reload_interval: float = 2.0
    data_dir: Path = REPO_ROOT / ".livemod-data"
    partitions: int = 6
    # Evidence topics keep records at least 60 days (standard 4.3.2.2(4)).
    evidence_retention_days: int = 60
    max_event_bytes: int = 256 * 1024
    # A product shown this many seconds before/after speech still counts as "on screen".
    product_grace_s: float = 10.0
    # How far back a viewer's earlier messages are joined to catch split handles.
    split_window_s: float = 30.0
    split_window_messages: int = 4
    # Kafka group timing; tests shorten these so joins and rebalances are quick.
    session_timeout_s: float = 30.0
    rebalance_timeout_s: float = 30.0
    heartbeat_interval_s: float = 3.0
    # How long the producer retries an output record before the worker gives up and exits
    # (without committing: see Worker._delivered in stream/worker.py).
    producer_request_timeout_s: float = 120.0
    # Records taken per turn of the worker loop (aiokafka max_poll_records).
    batch_max: int = 2000
    # Seconds between sweeps that drop subject histories with nothing left in any window.
    state_sweep_interval_s: float = 60.0
    startup_deadline_s: float = 60.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for f in fields(cls):
            name = "LIVEMOD_" + f.name.upper()
            raw = env.get(name)
            if f.type == "Secret":
                file_raw = env.get(name + "_FILE")
                if raw is None and file_raw:
                    try:
                        raw = Path(file_raw).read_text(encoding="utf-8").strip()
                    except OSError as exc:
                        raise SettingsError(f"{name}_FILE: cannot read {file_raw}: {exc.strerror}") from exc
            if raw is None:
                continue
            values[f.name] = _parse(name, f.type, raw)
        settings = cls(**values)  # type: ignore[arg-type]
        settings.validate()
        return settings

    def validate(self) -> None:
        protocols = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"}
        if self.security_protocol not in protocols:
            raise SettingsError(
                f"LIVEMOD_SECURITY_PROTOCOL={self.security_protocol!r}: expected one of {sorted(protocols)}"
            )
        if self.security_protocol.startswith("SASL") and not (self.sasl_username and self.sasl_password):
            raise SettingsError("SASL needs LIVEMOD_SASL_USERNAME and LIVEMOD_SASL_PASSWORD (or _FILE)")
        # Checked here: the SSL context would only fail at the first connection, with a bare errno.
        if "SSL" in self.security_protocol and self.ssl_cafile and not Path(self.ssl_cafile).is_file():
            raise SettingsError(f"LIVEMOD_SSL_CAFILE={self.ssl_cafile!r}: no such file")
        if self.partitions < 1:
            raise SettingsError("LIVEMOD_PARTITIONS must be at least 1")
        if self.evidence_retention_days < 60:
            raise SettingsError("LIVEMOD_EVIDENCE_RETENTION_DAYS below 60 breaks standard 4.3.2.2(4)")

    def topic(self, name: str) -> str:
        return self.topic_prefix + name

    def kafka_client_kwargs(self) -> dict[str, object]:
        """Connection arguments shared by aiokafka producers, consumers and admin clients."""
        kwargs: dict[str, object] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
        }
        if "SSL" in self.security_protocol:
            from aiokafka.helpers import create_ssl_context

            kwargs["ssl_context"] = create_ssl_context(cafile=self.ssl_cafile or None)
        if self.security_protocol.startswith("SASL"):
            kwargs.update(
                sasl_mechanism=self.sasl_mechanism,
                sasl_plain_username=self.sasl_username,
                sasl_plain_password=self.sasl_password.value,
            )
        return kwargs

    def masked(self) -> dict[str, str]:
        return {f.name: str(getattr(self, f.name)) for f in fields(self)}


def _parse(name: str, type_name: object, raw: str) -> object:
    try:
        if type_name == "int":
            return int(raw)
        if type_name == "float":
            return float(raw)
        if type_name == "Path":
            return Path(raw)
        if type_name == "Secret":
            return Secret(raw)
        return raw
    except ValueError:
        raise SettingsError(f"{name}={raw!r}: not a valid {type_name}") from None
