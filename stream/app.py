"""The faust App, built from Settings (never from module-level globals, so tests can run
several workers with different settings in one process tree)."""
from __future__ import annotations

import faust

from .settings import Settings


def broker_credentials(settings: Settings) -> faust.types.auth.CredentialsT | None:
    if settings.security_protocol.startswith("SASL"):
        ssl_context = None
        if settings.security_protocol == "SASL_SSL":
            from aiokafka.helpers import create_ssl_context

            ssl_context = create_ssl_context(cafile=settings.ssl_cafile or None)
        return faust.SASLCredentials(
            username=settings.sasl_username,
            password=settings.sasl_password.value,
            ssl_context=ssl_context,
            mechanism=settings.sasl_mechanism,
        )
    if settings.security_protocol == "SSL":
        from aiokafka.helpers import create_ssl_context

        return faust.SSLCredentials(create_ssl_context(cafile=settings.ssl_cafile or None))
    return None


def create_app(settings: Settings) -> faust.App:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return faust.App(
        settings.topic_prefix + settings.app_id,
        broker=[f"kafka://{hp}" for hp in settings.bootstrap_servers.split(",")],
        broker_credentials=broker_credentials(settings),
        # faust's exactly_once has open crash/duplicate bugs; outputs carry deterministic ids instead.
        processing_guarantee="at_least_once",
        autodiscover=False,
        store="memory://",
        datadir=str(settings.data_dir / (settings.topic_prefix + settings.app_id)),
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
        value_serializer="raw",
        key_serializer="raw",
        web_enabled=settings.web_enabled,
        web_port=settings.web_port,
        web_bind=settings.web_host,
        web_in_thread=False,
        # If the web server is on, it shows stats only: no table contents or key routing.
        web_tables_enabled=False,
        web_router_enabled=False,
        web_graph_enabled=False,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.session_timeout_s,
        broker_rebalance_timeout=settings.rebalance_timeout_s,
        broker_heartbeat_interval=settings.heartbeat_interval_s,
        broker_commit_interval=1.0,
        producer_linger=0.005,
        producer_acks=-1,
        producer_request_timeout=settings.producer_request_timeout_s,
        table_cleanup_interval=30.0,
    )
