"""Settings come from LIVEMOD_* variables, fail clearly on bad values, never print secrets."""
from __future__ import annotations

from pathlib import Path

import pytest

from stream.settings import Settings, SettingsError


def test_defaults_without_environment() -> None:
    s = Settings.from_env({})
    assert s.bootstrap_servers == "127.0.0.1:9092" and s.metrics_port == 0 and s.partitions == 6


def test_reads_typed_values() -> None:
    s = Settings.from_env({"LIVEMOD_PARTITIONS": "3", "LIVEMOD_SASL_USERNAME": "u",
                           "LIVEMOD_PRODUCT_GRACE_S": "4.5", "LIVEMOD_TOPIC_PREFIX": "dev."})
    assert (s.partitions, s.sasl_username, s.product_grace_s) == (3, "u", 4.5)
    assert s.topic("live.danmaku") == "dev.live.danmaku"


@pytest.mark.parametrize("env, message", [
    ({"LIVEMOD_PARTITIONS": "many"}, "LIVEMOD_PARTITIONS='many': not a valid int"),
    ({"LIVEMOD_PRODUCT_GRACE_S": "soon"}, "LIVEMOD_PRODUCT_GRACE_S='soon': not a valid float"),
    ({"LIVEMOD_SECURITY_PROTOCOL": "TLS"}, "LIVEMOD_SECURITY_PROTOCOL='TLS'"),
    ({"LIVEMOD_SECURITY_PROTOCOL": "SASL_SSL"}, "SASL needs LIVEMOD_SASL_USERNAME"),
    ({"LIVEMOD_EVIDENCE_RETENTION_DAYS": "30"}, "4.3.2.2(4)"),
    # A password file that is not there names the variable, not just an errno.
    ({"LIVEMOD_SECURITY_PROTOCOL": "SASL_SSL", "LIVEMOD_SASL_USERNAME": "livemod",
      "LIVEMOD_SASL_PASSWORD_FILE": "/nonexistent/livemod.password"}, "LIVEMOD_SASL_PASSWORD_FILE: cannot read"),
    # A missing CA file fails at startup, not at the first TLS handshake.
    ({"LIVEMOD_SECURITY_PROTOCOL": "SSL", "LIVEMOD_SSL_CAFILE": "/nonexistent/ca.pem"},
     "LIVEMOD_SSL_CAFILE='/nonexistent/ca.pem': no such file"),
])
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Settings.from_env(env)


def test_secret_is_masked_and_can_come_from_a_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "pw"
    secret_file.write_text("s3cr3t-value\n")
    s = Settings.from_env({"LIVEMOD_SECURITY_PROTOCOL": "SASL_SSL", "LIVEMOD_SASL_USERNAME": "livemod",
                           "LIVEMOD_SASL_PASSWORD_FILE": str(secret_file)})
    assert s.sasl_password.value == "s3cr3t-value"
    shown = repr(s) + str(s.masked())
    assert "s3cr3t" not in shown and "***" in shown
    assert s.kafka_client_kwargs()["sasl_plain_password"] == "s3cr3t-value"
