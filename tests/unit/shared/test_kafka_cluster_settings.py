"""What a node of a 3-node cluster is told, without starting one (the failover test starts one)."""

from __future__ import annotations

from pathlib import Path

from shared.infra.kafka_config import Quorum, broker_settings, server_properties


def properties(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines())


def test_a_node_of_three_names_every_voter_and_keeps_three_replicas_of_everything() -> None:
    quorum = Quorum("abc", {1: 9001, 2: 9002, 3: 9003})
    node = properties(server_properties(Path("/data/node-2"), 9102, 9002, node_id=2, quorum=quorum))
    assert node["node.id"] == "2"
    assert node["controller.quorum.voters"] == (
        "1@127.0.0.1:9001,2@127.0.0.1:9002,3@127.0.0.1:9003"
    )
    assert node["listeners"] == "PLAINTEXT://127.0.0.1:9102,CONTROLLER://127.0.0.1:9002"
    for replicas in (
        "default.replication.factor",
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "share.coordinator.state.topic.replication.factor",
    ):
        assert node[replicas] == "3", replicas
    for in_sync in (
        "min.insync.replicas",
        "transaction.state.log.min.isr",
        "share.coordinator.state.topic.min.isr",
    ):
        assert node[in_sync] == "2", in_sync
    assert node["unclean.leader.election.enable"] == "false"


def test_one_node_keeps_its_single_node_settings_and_extra_properties_win() -> None:
    alone = properties(server_properties(Path("/data/kafka"), 9092, 9093, {"num.io.threads": "4"}))
    assert alone["controller.quorum.voters"] == "1@127.0.0.1:9093"
    assert alone["default.replication.factor"] == alone["min.insync.replicas"] == "1"
    assert alone["num.io.threads"] == "4"
    assert "replica.lag.time.max.ms" not in alone
    assert broker_settings(2)["default.replication.factor"] == "2"
    assert broker_settings(2)["min.insync.replicas"] == "1"
