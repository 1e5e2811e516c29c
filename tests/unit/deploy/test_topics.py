"""The topic configuration of the deployment is the one of `shared.contracts`."""

from __future__ import annotations

import pytest

from deploy import topics
from deploy.topics import DEPLOY_ROOT, FOREVER, render_all, stale_files, topic_specs
from deploy.topics_files import script_topics, topics_yaml
from shared.contracts.topics import PARTITIONS, Topic, all_topics


def test_committed_topic_files_are_what_the_contracts_generate() -> None:
    stale = stale_files(DEPLOY_ROOT)

    assert stale == [], f"{stale} are stale: run `python -m deploy.topics`"


def test_the_script_creates_every_contract_topic_with_its_partitions_and_three_replicas() -> None:
    created = script_topics(DEPLOY_ROOT / "create-topics.sh")

    assert set(created) == set(all_topics())
    for topic in Topic:
        assert created[topic.value].partitions == PARTITIONS
        assert created[topic.dlq].partitions == 1
    assert {row.replication_factor for row in created.values()} == {3}
    assert all(("min.insync.replicas", "2") in row.config for row in created.values())


def test_topics_yaml_and_the_script_state_the_same_topics() -> None:
    stated, min_insync = topics_yaml(DEPLOY_ROOT)

    assert stated == script_topics(DEPLOY_ROOT / "create-topics.sh")
    assert min_insync == 2


def test_the_event_log_is_kept_forever_and_price_ticks_for_a_day() -> None:
    retention = {spec.name: spec.retention_ms for spec in topic_specs()}

    assert retention[Topic.MARKET_PRICES.value] == 24 * 60 * 60 * 1000
    assert retention[Topic.LEDGER_EVENTS.value] == FOREVER
    assert retention[Topic.ORDER_COMMANDS.dlq] == FOREVER


def test_a_topic_without_a_decided_retention_stops_the_generation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    undecided = {t: ms for t, ms in topics.RETENTION_MS.items() if t is not Topic.LEDGER_EVENTS}
    monkeypatch.setattr(topics, "RETENTION_MS", undecided)

    with pytest.raises(ValueError, match="LEDGER_EVENTS"):
        render_all()


def test_a_change_of_partitions_in_the_contracts_makes_every_generated_file_stale(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(topics, "PARTITIONS", PARTITIONS * 2)

    assert set(stale_files(DEPLOY_ROOT)) == set(render_all())


def test_check_mode_exits_zero_on_fresh_files_and_one_on_stale_ones(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert topics.main(["--check"]) == 0

    monkeypatch.setattr(topics, "REPLICATION_FACTOR", 1)

    assert topics.main(["--check"]) == 1
    assert "deploy/topics.yaml is stale" in capsys.readouterr().err
