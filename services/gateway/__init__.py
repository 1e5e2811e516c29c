"""The gateway: the HTTP API, its read models and its outbox relay."""

NAME = "gateway"
"""The service's name: its database, its consumer group and the producer of its messages
(the operator's CLI writes as the gateway too: `admin create`, `kill-switch`)."""
