"""Checks of the infrastructure in `deploy/compose.yaml`: Kafka, topics, Prometheus, tracing."""

from __future__ import annotations

from typing import Any

from deploy import compose_kafka
from deploy.compose_model import Compose, host_port
from deploy.documents import DeployFileError, as_dict, as_list, dig, load_yaml, split_image
from deploy.spec import GATEWAY_PORT, METRICS_PATH, METRICS_PORT, SERVICES
from deploy.topics_files import TopicRow, script_topics, topics_yaml

KAFKA_IMAGE = "apache/kafka:"
BROKERS_WANTED = 3


def check(compose: Compose) -> list[str]:
    problems = image_problems(compose) + mount_problems(compose)
    try:
        wanted, min_insync = topics_yaml(compose.root)
    except DeployFileError as exc:
        return [*problems, str(exc)]
    brokers = [
        name
        for name in compose.services_with_image(KAFKA_IMAGE)
        if "broker" in compose.env(name).get("KAFKA_PROCESS_ROLES", "")
    ]
    problems += kafka_problems(compose, brokers, wanted, min_insync)
    problems += topics_init_problems(compose, brokers, wanted)
    problems += compose_kafka.check(compose, brokers)
    problems += prometheus_problems(compose)
    problems += tracing_problems(compose)
    return problems


def image_problems(compose: Compose) -> list[str]:
    problems = []
    for name in compose.services:
        _, tag = split_image(compose.image(name))
        if tag in ("", "latest"):
            problems.append(f"service {name}: image {compose.image(name)!r} needs a pinned tag")
    return problems


def mount_problems(compose: Compose) -> list[str]:
    return [
        f"service {name}: mounts {host.name}, which does not exist beside compose.yaml"
        for name in compose.services
        for host, _ in compose.bind_mounts(name)
        if not host.exists()
    ]


def kafka_problems(
    compose: Compose, brokers: list[str], wanted: dict[str, TopicRow], min_insync: int
) -> list[str]:
    if len(brokers) != BROKERS_WANTED:
        return [f"{len(brokers)} Kafka brokers ({KAFKA_IMAGE}*), {BROKERS_WANTED} wanted"]
    problems: list[str] = []
    replication = max((row.replication_factor for row in wanted.values()), default=0)
    node_ids, cluster_ids = set(), set()
    for name in brokers:
        env = compose.env(name)
        node_ids.add(env.get("KAFKA_NODE_ID"))
        cluster_ids.add(env.get("CLUSTER_ID"))
        if "KAFKA_ZOOKEEPER_CONNECT" in env or not env.get("KAFKA_CONTROLLER_QUORUM_VOTERS"):
            problems.append(f"service {name}: not in KRaft mode (controller quorum voters)")
        voters = env.get("KAFKA_CONTROLLER_QUORUM_VOTERS", "").split(",")
        if len(voters) != BROKERS_WANTED:
            problems.append(f"service {name}: {len(voters)} controller voters, 3 wanted")
        if env.get("KAFKA_MIN_INSYNC_REPLICAS") != str(min_insync):
            problems.append(f"service {name}: KAFKA_MIN_INSYNC_REPLICAS must be {min_insync}")
        if env.get("KAFKA_DEFAULT_REPLICATION_FACTOR") != str(replication):
            problems.append(f"service {name}: default replication factor must be {replication}")
        if env.get("KAFKA_AUTO_CREATE_TOPICS_ENABLE") != "false":
            problems.append(f"service {name}: topics must be created by topics-init only")
    if len(node_ids) != len(brokers) or len(cluster_ids) != 1:
        problems.append("Kafka brokers need distinct KAFKA_NODE_IDs and one CLUSTER_ID")
    if replication > len(brokers):
        problems.append(f"replication factor {replication} exceeds {len(brokers)} brokers")
    for service in SERVICES:
        servers = compose.env(service).get("KAFKA_BOOTSTRAP_SERVERS", "")
        hosts = {host_port(address)[0] for address in servers.split(",") if address}
        if service in compose.services and hosts != set(brokers):
            problems.append(f"service {service}: KAFKA_BOOTSTRAP_SERVERS must list {brokers}")
    return problems


def topics_init_problems(
    compose: Compose, brokers: list[str], wanted: dict[str, TopicRow]
) -> list[str]:
    if "topics-init" not in compose.services:
        return ["service topics-init is missing (it creates the topics)"]
    where = "service topics-init"
    command = compose.command("topics-init")
    if not any(part.endswith("create-topics.sh") for part in command) or "--wait" in command:
        return [f"{where}: must run create-topics.sh (without --wait)"]
    script = next((p for p in command if p.endswith("create-topics.sh")), "")
    mounted = compose.mounted_file("topics-init", script)
    if mounted is None or not mounted.is_file():
        return [f"{where}: {script} is not mounted from deploy/create-topics.sh"]
    problems = [
        f"{where}: must wait for {broker} (service_healthy)"
        for broker in brokers
        if compose.depends_on("topics-init").get(broker) != "service_healthy"
    ]
    created = script_topics(mounted)
    for name in sorted(set(wanted) | set(created)):
        if created.get(name) != wanted.get(name):
            problems.append(
                f"{where}: topic {name} is {created.get(name)} in {mounted.name}, "
                f"{wanted.get(name)} in topics.yaml"
            )
    return problems


def _scrape_targets(job: dict[str, Any]) -> set[tuple[str, int | None]]:
    targets: set[tuple[str, int | None]] = set()
    for sd in as_list(job.get("dns_sd_configs")):
        port = as_dict(sd).get("port")
        targets |= {
            (str(n), port if isinstance(port, int) else None)
            for n in as_list(as_dict(sd).get("names"))
        }
    for static in as_list(job.get("static_configs")):
        targets |= {host_port(str(t)) for t in as_list(as_dict(static).get("targets"))}
    return targets


def prometheus_problems(compose: Compose) -> list[str]:
    servers = compose.services_with_image("prom/prometheus:")
    if not servers:
        return ["no Prometheus service (prom/prometheus)"]
    config_path = compose.mounted_file(servers[0], "prometheus.yml")
    if config_path is None:
        return [f"service {servers[0]}: prometheus.yml is not mounted"]
    try:
        config = as_dict(load_yaml(config_path))
    except DeployFileError as exc:
        return [str(exc)]
    scraped: set[tuple[str, int | None]] = set()
    for job in as_list(config.get("scrape_configs")):
        if as_dict(job).get("metrics_path", METRICS_PATH) == METRICS_PATH:
            scraped |= _scrape_targets(as_dict(job))
    problems = []
    for service in SERVICES:
        env = compose.env(service)
        gateway = service == "gateway"
        port_text = env.get("CRYPTOORCH_GATEWAY_PORT" if gateway else "CRYPTOORCH_METRICS_PORT", "")
        default = GATEWAY_PORT if gateway else METRICS_PORT
        port = int(port_text) if port_text.isdigit() else default
        if (service, port) not in scraped:
            problems.append(f"{config_path.name}: no job scrapes {service}:{port}{METRICS_PATH}")
    return problems


def tracing_problems(compose: Compose) -> list[str]:
    collectors = [n for n in compose.services if "opentelemetry-collector" in compose.image(n)]
    jaegers = [n for n in compose.services if compose.image(n).startswith("jaegertracing/")]
    if not collectors or not jaegers:
        return ["an OpenTelemetry collector and Jaeger are both needed"]
    problems = []
    config_path = compose.mounted_file(collectors[0], "config.yaml")
    try:
        config = as_dict(load_yaml(config_path)) if config_path else {}
    except DeployFileError as exc:
        return [str(exc)]
    pipeline = as_dict(dig(config, "service", "pipelines", "traces"))
    exporters = [
        as_dict(dig(config, "exporters", str(e))) for e in as_list(pipeline.get("exporters"))
    ]
    if "otlp" not in as_list(pipeline.get("receivers")):
        problems.append(f"service {collectors[0]}: its traces pipeline must receive otlp")
    if not any(host_port(str(e.get("endpoint", "")))[0] in jaegers for e in exporters):
        problems.append(f"service {collectors[0]}: its traces pipeline must export to Jaeger")
    for service in SERVICES:
        env = compose.env(service)
        endpoint = host_port(env.get("OTEL_EXPORTER_OTLP_ENDPOINT", ""))[0]
        if service in compose.services and (
            env.get("CRYPTOORCH_TRACE_EXPORTER") != "otlp" or endpoint not in collectors
        ):
            problems.append(f"service {service}: must export traces (otlp) to {collectors[0]}")
    return problems
