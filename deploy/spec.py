"""What every deployment of cryptoorch must provide, shared by the compose and Kubernetes checks."""

from __future__ import annotations

SERVICES = ("gateway", "safety", "ledger", "execution", "audit")
"""The five processes, each `python -m services.<name>`."""
WORKERS = tuple(name for name in SERVICES if name != "gateway")
"""The services without an HTTP server: `/metrics` on `CRYPTOORCH_METRICS_PORT`."""

GATEWAY_PORT = 8000
METRICS_PORT = 9100
HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
METRICS_PATH = "/metrics"
OUR_IMAGE = "cryptoorch"
PLACEHOLDER = "CHANGE-ME"

REQUIRED_ENV: dict[str, tuple[str, ...]] = {
    "gateway": (
        "KAFKA_BOOTSTRAP_SERVERS",
        "DATABASE_URL",
        "CRYPTOORCH_TRACE_EXPORTER",
        "CRYPTOORCH_GATEWAY_HOST",
        "CRYPTOORCH_GATEWAY_PORT",
        "CRYPTOORCH_JWT_SECRET",
        "CRYPTOORCH_ENCRYPTION_KEY",
        "CRYPTOORCH_EXCHANGE_SEAL_KEY",
    ),
    **{
        name: (
            "KAFKA_BOOTSTRAP_SERVERS",
            "DATABASE_URL",
            "CRYPTOORCH_TRACE_EXPORTER",
            "CRYPTOORCH_METRICS_HOST",
            "CRYPTOORCH_METRICS_PORT",
        )
        for name in WORKERS
    },
}
REQUIRED_ENV["execution"] += ("CRYPTOORCH_EXCHANGE_SEAL_KEY",)
KAFKA_CLIENT_ENV = (
    "CRYPTOORCH_KAFKA_SECURITY_PROTOCOL",
    "CRYPTOORCH_KAFKA_SASL_MECHANISM",
    "CRYPTOORCH_KAFKA_USERNAME",
    "CRYPTOORCH_KAFKA_PASSWORD",
)
"""How a service authenticates to Kafka: as its own principal (the username is the service's
name, shared/contracts/access.py), SCRAM-SHA-512 over SASL."""
for _name in SERVICES:
    REQUIRED_ENV[_name] += KAFKA_CLIENT_ENV
SASL_PROTOCOLS = frozenset({"SASL_PLAINTEXT", "SASL_SSL"})
SASL_MECHANISM = "SCRAM-SHA-512"

SECRET_ENV = frozenset(
    {
        "DATABASE_URL",
        "CRYPTOORCH_JWT_SECRET",
        "CRYPTOORCH_ENCRYPTION_KEY",
        "CRYPTOORCH_EXCHANGE_SEAL_KEY",
        "CRYPTOORCH_KAFKA_PASSWORD",
    }
)
"""Never a literal value in a committed file: compose interpolates them, Kubernetes reads the
Secret."""

ALL_INTERFACES = "0.0.0.0"  # noqa: S104 (what a container's servers must listen on)
LISTEN_ALL = {"CRYPTOORCH_GATEWAY_HOST": ALL_INTERFACES, "CRYPTOORCH_METRICS_HOST": ALL_INTERFACES}
"""In a container, a server on 127.0.0.1 cannot be reached by Prometheus or a probe."""

PENDING_SETTINGS: dict[str, str] = {
    "CRYPTOORCH_KAFKA_SECURITY_PROTOCOL": "shared/settings.py (issue 15), PLAINTEXT by default",
    "CRYPTOORCH_KAFKA_SASL_MECHANISM": "shared/settings.py (issue 15), SCRAM-SHA-512 by default",
    "CRYPTOORCH_KAFKA_USERNAME": "shared/settings.py (issue 15)",
    "CRYPTOORCH_KAFKA_PASSWORD": "shared/settings.py (issue 15)",
}
"""Settings the deployment sets before the code reads them (accepted by the name check): drop
an entry once `CommonSettings` has the field, so its value is checked too."""
