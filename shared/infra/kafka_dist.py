"""The Apache Kafka jars the embedded broker runs from, and the Java that runs them.

`deploy/kafka/pom.xml` pins the version. `make install` (`python -m shared.infra.kafka_dist`)
copies the jars with Maven into a cache outside the checkout, one folder per pom
(`~/.cache/cryptoorch/kafka-<version>-<hash of the pom>/libs`), reused by every checkout and
run. `CRYPTOORCH_CACHE_DIR` moves the cache.

Beside the jars, `make install` records a class-data-sharing archive of a broker's start
(`classes-<java>.jsa`, JDK 17's `-XX:ArchiveClassesAtExit`): every broker started later maps the
Kafka classes from it instead of loading and verifying them, and answers in about half the
time (a fresh start 7.2 → 3.9 s on 2 cores; a restart 4.8 → 2.3 s). Without the archive, or
with one another Java wrote, the JVM simply loads the classes itself.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from shared.infra.processes import InfraStartError

POM = Path(__file__).resolve().parents[2] / "deploy" / "kafka" / "pom.xml"
MIN_JAVA = 17
_COMPLETE = ".complete"
_JAVA_HINT = (
    "install a Java runtime 17 or newer (Debian/Ubuntu: apt-get install openjdk-17-jre-headless) "
    "or set JAVA_HOME, or point KAFKA_BOOTSTRAP_SERVERS at a running broker"
)


def kafka_version() -> str:
    """The `kafka.version` property of the pom."""
    found = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", POM.read_text())
    if found is None:
        raise InfraStartError(f"no <kafka.version> in {POM}")
    return found.group(1).strip()


def cache_root() -> Path:
    if explicit := os.environ.get("CRYPTOORCH_CACHE_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cryptoorch"


def libs_dir() -> Path:
    digest = hashlib.sha256(POM.read_bytes()).hexdigest()[:10]
    return cache_root() / f"kafka-{kafka_version()}-{digest}" / "libs"


def ensure_libs() -> Path:
    """The folder of jars, fetched with Maven on first use; raise `InfraStartError` without it."""
    libs = libs_dir()
    if (libs / _COMPLETE).exists():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise InfraStartError(
            f"Apache Kafka {kafka_version()} is not in {libs} and Maven (mvn) is not on PATH to "
            "fetch it: install Maven (Debian/Ubuntu: apt-get install maven) and run `make install`"
            ", or point KAFKA_BOOTSTRAP_SERVERS at a running broker"
        )
    libs.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="libs-", dir=libs.parent) as staging:
        argv = [mvn, "-q", "-B", "-f", str(POM), "dependency:copy-dependencies"]
        argv += [f"-DoutputDirectory={staging}", "-DincludeScope=runtime"]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603
        if done.returncode != 0:
            raise InfraStartError(
                f"mvn could not fetch Apache Kafka {kafka_version()}:\n{done.stdout}{done.stderr}"
            )
        (Path(staging) / _COMPLETE).touch()
        shutil.rmtree(libs, ignore_errors=True)
        Path(staging).rename(libs)
    return libs


def class_archive(java: str) -> Path:
    """Where the class-data archive for this Java and these jars is (it may not exist)."""
    digest = hashlib.sha256(f"{java}\n{_version_text(java)}".encode()).hexdigest()[:10]
    return libs_dir().parent / f"classes-{digest}.jsa"


def record_class_archive(java: str) -> Path | None:
    """Start a broker once in a scratch folder with `-XX:ArchiveClassesAtExit` and keep the
    archive its exit writes; None (and the broker runs without one) if that fails."""
    from shared.infra.kafka import EmbeddedKafka  # the broker needs this module's jars first

    archive = class_archive(java)
    if archive.exists():
        return archive
    staging = archive.with_suffix(f".{os.getpid()}.tmp")
    try:
        with tempfile.TemporaryDirectory(prefix="cryptoorch-cds-") as folder:
            EmbeddedKafka.start(Path(folder), record_classes_to=staging).stop()
        if staging.exists() and staging.stat().st_size > 0:
            staging.rename(archive)
            return archive
    except (InfraStartError, OSError) as exc:
        print(f"[cryptoorch] no class-data archive (brokers start slower): {exc}", file=sys.stderr)
    finally:
        staging.unlink(missing_ok=True)
    return None


def java_binary() -> str:
    """A `java` of version 17 or newer (JAVA_HOME first, then PATH), or a clear error."""
    home = os.environ.get("JAVA_HOME")
    candidate = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if candidate is None or not Path(candidate).exists():
        raise InfraStartError(f"no `java` to run the embedded Apache Kafka broker: {_JAVA_HINT}")
    found = re.search(r'version "(\d+)(?:\.(\d+))?', _version_text(candidate))
    major = int(found.group(1)) if found else 0
    if major == 1 and found and found.group(2):  # "1.8.0_x" is Java 8
        major = int(found.group(2))
    if major < MIN_JAVA:
        raise InfraStartError(
            f"{candidate} is Java {major or 'of unknown version'}; the embedded Apache Kafka "
            f"broker needs {MIN_JAVA}+: {_JAVA_HINT}"
        )
    return candidate


@functools.lru_cache(maxsize=8)
def _version_text(java: str) -> str:
    """What `java -version` prints (asked once per binary and process)."""
    done = subprocess.run(  # noqa: S603
        [java, "-version"], capture_output=True, text=True, check=False
    )
    return done.stderr + done.stdout


def main() -> int:
    """Fetch the jars and check Java, unless KAFKA_BOOTSTRAP_SERVERS names a running broker."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        print("[cryptoorch] KAFKA_BOOTSTRAP_SERVERS is set: no embedded broker to fetch")
        return 0
    try:
        libs = ensure_libs()
        java = java_binary()
    except InfraStartError as exc:
        print(f"[cryptoorch] {exc}", file=sys.stderr)
        return 1
    print(f"[cryptoorch] Apache Kafka {kafka_version()} in {libs}")
    if not class_archive(java).exists():
        print("[cryptoorch] recording the broker's class-data archive (once)")
        record_class_archive(java)
    return 0


if __name__ == "__main__":
    sys.exit(main())
