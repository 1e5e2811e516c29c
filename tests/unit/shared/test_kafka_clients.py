"""Every aiokafka client of a process that imports `shared.kafka` asks the broker for
metadata without letting it create the topics it names (an aiokafka upgrade that moves the
request elsewhere fails here, not silently in a broker restart)."""

from __future__ import annotations

import aiokafka.admin.client
import aiokafka.client
import pytest
from aiokafka.protocol.metadata import MetadataRequest_v4, MetadataRequest_v5

import shared.kafka  # noqa: F401  (what is under test: importing it)


@pytest.mark.parametrize("module", [aiokafka.client, aiokafka.admin.client])
@pytest.mark.parametrize("struct", [MetadataRequest_v4, MetadataRequest_v5])
def test_a_metadata_request_for_named_topics_never_allows_auto_creation(
    module: object, struct: type[MetadataRequest_v5]
) -> None:
    request = module.MetadataRequest(["orders.commands.v1"])  # type: ignore[attr-defined]

    built = request.build(struct)

    assert built.allow_auto_topic_creation is False
