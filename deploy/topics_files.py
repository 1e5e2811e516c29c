"""Reading the generated topic files back, so the checks compare what each file really says."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from deploy.documents import DeployFileError, as_dict, as_list, load_yaml
from deploy.topics import TOPICS_YAML

SCRIPT_LINE = re.compile(
    r'^\s*"\$1" (?P<name>\S+) (?P<partitions>\d+) (?P<replication>\d+)(?P<config>.*)$'
)


@dataclass(frozen=True)
class TopicRow:
    partitions: int
    replication_factor: int
    config: tuple[tuple[str, str], ...]

    def __str__(self) -> str:
        settings = " ".join(f"{key}={value}" for key, value in self.config)
        return f"{self.partitions} partitions x {self.replication_factor} replicas, {settings}"


def topics_yaml(root: Path) -> tuple[dict[str, TopicRow], int]:
    """The topics of `deploy/topics.yaml` and its `min_insync_replicas`."""
    document = as_dict(load_yaml(root / TOPICS_YAML))
    rows: dict[str, TopicRow] = {}
    for entry in as_list(document.get("topics")):
        topic = as_dict(entry)
        config = as_dict(topic.get("config"))
        rows[str(topic.get("name"))] = TopicRow(
            int(topic.get("partitions", 0)),
            int(topic.get("replication_factor", 0)),
            tuple(sorted((str(k), str(v)) for k, v in config.items())),
        )
    min_insync = document.get("min_insync_replicas")
    if not rows or not isinstance(min_insync, int):
        raise DeployFileError(f"{TOPICS_YAML}: no topics or no min_insync_replicas")
    return rows, min_insync


def script_topics(script: Path) -> dict[str, TopicRow]:
    """The topics the file `create-topics.sh` (or a copy of it) creates."""
    try:
        return script_text_topics(script.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DeployFileError(f"{script.name}: {exc}") from exc


def script_text_topics(text: str) -> dict[str, TopicRow]:
    """The topics a `create-topics.sh` text creates (its `"$1" NAME P R CONFIG...` lines)."""
    rows: dict[str, TopicRow] = {}
    for line in text.splitlines():
        match = SCRIPT_LINE.match(line)
        if match is None:
            continue
        config = (item.partition("=") for item in match.group("config").split())
        rows[match.group("name")] = TopicRow(
            int(match.group("partitions")),
            int(match.group("replication")),
            tuple(sorted((key, value) for key, _, value in config)),
        )
    return rows
