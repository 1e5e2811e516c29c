"""Write the published contract: JSON Schema of every message and the AsyncAPI document.

`python -m shared.contracts.publish docs` (or `make schemas`). A test regenerates
both in memory and fails when the committed files are stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

from shared.contracts import registered
from shared.contracts.envelope import Envelope, Payload
from shared.contracts.topics import Topic, dead_letter_topic


def message_schema(cls: type[Payload]) -> dict[str, Any]:
    """The envelope with this payload, as one self-contained JSON Schema."""
    payload = cls.model_json_schema(mode="serialization", ref_template="#/$defs/{model}")
    defs = payload.pop("$defs", {})
    envelope = Envelope.model_json_schema(mode="serialization")
    envelope.pop("$defs", None)
    envelope["properties"]["payload"] = payload
    envelope["properties"]["type"] = {"const": cls.TYPE}
    envelope["properties"]["version"] = {"const": cls.VERSION}
    envelope["title"] = f"{cls.TYPE} v{cls.VERSION}"
    envelope["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    if defs:
        envelope["$defs"] = defs
    return envelope


def schema_files() -> dict[str, str]:
    """File name → content, for every registered message."""
    return {
        f"{kind}.v{version}.json": json.dumps(message_schema(cls), indent=2, sort_keys=True) + "\n"
        for (kind, version), cls in sorted(registered().items())
    }


def asyncapi() -> str:
    by_topic: dict[str, list[str]] = {}
    for (kind, version), cls in sorted(registered().items()):
        if kind != "DeadLettered":
            by_topic.setdefault(cls.TOPIC.value, []).append(f"{kind}.v{version}")
    channels: dict[str, Any] = {}
    for topic in Topic:
        names = by_topic.get(topic.value, [])
        channels[topic.value] = {
            "address": topic.value,
            "description": "Kafka key: the envelope's account_id.",
            "messages": {n: {"$ref": f"schemas/{n}.json"} for n in names},
        }
        channels[dead_letter_topic(topic.value)] = {
            "address": dead_letter_topic(topic.value),
            "description": f"Messages from {topic.value} that could not be applied.",
            "messages": {"DeadLettered.v1": {"$ref": "schemas/DeadLettered.v1.json"}},
        }
    document = {
        "asyncapi": "3.0.0",
        "info": {
            "title": "cryptoorch topics",
            "version": "1",
            "description": "Every message is a JSON envelope; money is a decimal string.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
    }
    return yaml.safe_dump(document, sort_keys=False)


def write(folder: Path) -> None:
    schemas = folder / "schemas"
    schemas.mkdir(parents=True, exist_ok=True)
    for stale in schemas.glob("*.json"):
        stale.unlink()
    for name, content in schema_files().items():
        (schemas / name).write_text(content)
    (folder / "asyncapi.yaml").write_text(asyncapi())


if __name__ == "__main__":
    write(Path(sys.argv[1] if len(sys.argv) > 1 else "docs"))
