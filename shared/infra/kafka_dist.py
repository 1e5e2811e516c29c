"""The Apache Kafka jars the embedded broker runs from, and the Java that runs them.

`deploy/kafka/pom.xml` pins the version. `make install` (`python -m shared.infra.kafka_dist`)
copies the jars with Maven into a cache outside the checkout, one folder per pom
(`~/.cache/cryptoorch/kafka-<version>-<hash of the pom>/libs`), reused by every checkout and
run. `CRYPTOORCH_CACHE_DIR` moves the cache.
"""

from __future__ import annotations

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


def java_binary() -> str:
    """A `java` of version 17 or newer (JAVA_HOME first, then PATH), or a clear error."""
    home = os.environ.get("JAVA_HOME")
    candidate = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if candidate is None or not Path(candidate).exists():
        raise InfraStartError(f"no `java` to run the embedded Apache Kafka broker: {_JAVA_HINT}")
    done = subprocess.run(  # noqa: S603
        [candidate, "-version"], capture_output=True, text=True, check=False
    )
    found = re.search(r'version "(\d+)(?:\.(\d+))?', done.stderr + done.stdout)
    major = int(found.group(1)) if found else 0
    if major == 1 and found and found.group(2):  # "1.8.0_x" is Java 8
        major = int(found.group(2))
    if major < MIN_JAVA:
        raise InfraStartError(
            f"{candidate} is Java {major or 'of unknown version'}; the embedded Apache Kafka "
            f"broker needs {MIN_JAVA}+: {_JAVA_HINT}"
        )
    return candidate


def main() -> int:
    """Fetch the jars and check Java, unless KAFKA_BOOTSTRAP_SERVERS names a running broker."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        print("[cryptoorch] KAFKA_BOOTSTRAP_SERVERS is set: no embedded broker to fetch")
        return 0
    try:
        libs = ensure_libs()
        java_binary()
    except InfraStartError as exc:
        print(f"[cryptoorch] {exc}", file=sys.stderr)
        return 1
    print(f"[cryptoorch] Apache Kafka {kafka_version()} in {libs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
