"""The embedded broker's prerequisites: a machine without them is told what to install."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.infra.kafka_config import new_cluster_id
from shared.infra.kafka_dist import java_binary, kafka_version, libs_dir
from shared.infra.processes import InfraStartError


def fake_java(folder: Path, version_line: str) -> None:
    java = folder / "java"
    java.write_text(f"#!/bin/sh\necho '{version_line}' >&2\n")
    java.chmod(0o755)


@pytest.fixture
def no_java_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)


@pytest.mark.usefixtures("no_java_home")
def test_no_java_on_the_path_names_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(InfraStartError, match="install a Java runtime 17 or newer"):
        java_binary()


@pytest.mark.usefixtures("no_java_home")
@pytest.mark.parametrize(
    ("line", "major"),
    [('openjdk version "11.0.2" 2019-01-15', 11), ('java version "1.8.0_392"', 8)],
)
def test_a_java_older_than_17_is_refused_with_its_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line: str, major: int
) -> None:
    fake_java(tmp_path, line)
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(InfraStartError, match=f"is Java {major}; .* needs 17"):
        java_binary()


@pytest.mark.usefixtures("no_java_home")
def test_java_17_or_newer_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_java(tmp_path, 'openjdk version "21.0.1" 2023-10-17')
    monkeypatch.setenv("PATH", str(tmp_path))

    assert java_binary() == str(tmp_path / "java")


def test_the_jars_are_cached_outside_the_checkout_per_pinned_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRYPTOORCH_CACHE_DIR", str(tmp_path))

    libs = libs_dir()

    assert kafka_version().startswith("4.")
    assert libs.parent.parent == tmp_path
    assert libs.parent.name.startswith(f"kafka-{kafka_version()}-")


def test_a_new_cluster_id_never_reads_as_a_command_line_option() -> None:
    ids = {new_cluster_id() for _ in range(5000)}

    assert len(ids) == 5000
    assert not [i for i in ids if i.startswith("-") or len(i) != 22]
