"""Where Java is and how the Kafka jars get into ``<var>/kafka/libs`` (Maven)."""
from __future__ import annotations

import glob
import hashlib
import shutil
import subprocess
from pathlib import Path

from firmtext.infra.daemon import InfraError

INFRA_DIR = Path(__file__).resolve().parents[2] / "infra" / "kafka"
POM = INFRA_DIR / "pom.xml"
STAMP = ".firmtext-pom.sha256"


def find_java() -> str:
    """The ``java`` to run Kafka with: the one on PATH, else a JDK under /usr/lib/jvm."""
    on_path = shutil.which("java")
    if on_path:
        return on_path
    # Prefer 17 (what bootstrap installs and Kafka 4 is tested on), then the newest.
    candidates = sorted(glob.glob("/usr/lib/jvm/*/bin/java"), reverse=True)
    candidates.sort(key=lambda path: "-17-" not in path)
    if not candidates:
        raise InfraError("Java 17 is needed to run Kafka: run scripts/bootstrap.sh "
                         "(or apt-get install openjdk-17-jre-headless).")
    return candidates[0]


def _pom_hash() -> str:
    return hashlib.sha256(POM.read_bytes()).hexdigest()


def jars_ready(libs: Path) -> bool:
    """True if ``libs`` holds the jars resolved from the current pom.xml."""
    stamp = libs / STAMP
    return stamp.is_file() and stamp.read_text().strip() == _pom_hash()


def ensure_kafka_jars(libs: Path) -> Path:
    """Resolve the Kafka broker jars into ``libs`` with Maven unless already there.

    Jars land in a sibling temporary directory that replaces ``libs`` only once
    Maven succeeded, so an interrupted download never leaves a half classpath, and
    a pom.xml change (new Kafka version) never mixes two versions' jars.
    """
    if jars_ready(libs):
        return libs
    mvn = shutil.which("mvn")
    if not mvn:
        raise InfraError("Maven is needed to fetch the Kafka jars: run scripts/bootstrap.sh "
                         "(or apt-get install maven).")
    staging = libs.with_name(libs.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    command = [mvn, "-q", "-B", "-f", str(POM), f"-Dkafka.libs={staging}",
               "dependency:copy-dependencies"]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        output = "\n".join((done.stdout + done.stderr).strip().splitlines()[-20:])
        raise InfraError(f"Maven could not fetch the Kafka jars (exit {done.returncode}):\n{output}")
    (staging / STAMP).write_text(_pom_hash() + "\n")
    shutil.rmtree(libs, ignore_errors=True)
    staging.rename(libs)
    return libs
