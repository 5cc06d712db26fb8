"""Real servers on loopback for the integration tests, started as local processes.

No Docker engine here, so: Apache Kafka's broker from its Maven Central jars on the machine's
Java, and Debian's redis-server, prometheus and prometheus-alertmanager binaries. Each server
gets free ports and a temporary directory, and is stopped at the end of the session. Set
``CCPULSE_TEST_KAFKA`` / ``CCPULSE_TEST_REDIS`` to use servers that already run instead.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KAFKA_LIBS = ROOT / ".cache" / "kafka" / "libs"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout_s: float, proc: subprocess.Popen | None = None,
                  log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text()[-3000:] if log and log.exists() else ""
            raise RuntimeError(f"server exited with {proc.returncode} before listening:\n{tail}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout_s}s")


def require(binary: str, package: str) -> str:
    path = shutil.which(binary)
    if path is None:
        raise RuntimeError(f"{binary} not found: run `make setup` (installs Debian's {package})")
    return path


@dataclass
class Server:
    proc: subprocess.Popen
    port: int
    workdir: Path

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_kafka(workdir: Path) -> Server:
    if not (KAFKA_LIBS / ".complete").exists():
        subprocess.run([str(ROOT / "scripts" / "kafka.sh")], check=True)
    java = require("java", "openjdk-17-jre")
    port, controller = free_port(), free_port()
    data = workdir / "data"
    config = workdir / "server.properties"
    config.write_text("\n".join([
        "process.roles=broker,controller",
        "node.id=1",
        f"controller.quorum.voters=1@127.0.0.1:{controller}",
        f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}",
        f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names=CONTROLLER",
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name=PLAINTEXT",
        f"log.dirs={data}",
        "num.partitions=4",
        "offsets.topic.replication.factor=1",
        "offsets.topic.num.partitions=4",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "group.initial.rebalance.delay.ms=0",
        "auto.create.topics.enable=true",
    ]) + "\n")
    classpath = f"{KAFKA_LIBS}/*"
    log4j = f"-Dlog4j2.configurationFile={ROOT / 'scripts' / 'kafka' / 'log4j2.properties'}"
    subprocess.run([java, "-cp", classpath, log4j, "kafka.tools.StorageTool", "format",
                    "-t", _cluster_id(), "-c", str(config)],
                   check=True, capture_output=True)
    log = workdir / "broker.log"
    proc = subprocess.Popen(
        [java, "-Xms256m", "-Xmx768m", "-XX:+UseSerialGC", log4j, "-cp", classpath,
         "kafka.Kafka", str(config)],
        stdout=log.open("wb"), stderr=subprocess.STDOUT)
    wait_for_port(port, 90, proc, log)
    return Server(proc, port, workdir)


def _cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


def start_redis(workdir: Path, port: int | None = None) -> Server:
    binary = require("redis-server", "redis-server")
    port = port or free_port()
    log = workdir / "redis.log"
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir),
         "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
         "--logfile", str(log)],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    wait_for_port(port, 30, proc, log)
    return Server(proc, port, workdir)


def external(name: str) -> str | None:
    return os.environ.get(name) or None


def start_alertmanager(workdir: Path, port: int | None = None) -> Server:
    binary = require("prometheus-alertmanager", "prometheus-alertmanager")
    port = port or free_port()
    config = workdir / "alertmanager.yml"
    config.write_text(
        "route:\n  receiver: 'null'\n  group_wait: 1s\nreceivers:\n  - name: 'null'\n")
    log = workdir / "alertmanager.log"
    proc = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.path={workdir / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        stdout=log.open("wb"), stderr=subprocess.STDOUT)
    wait_for_port(port, 30, proc, log)
    return Server(proc, port, workdir)


def start_prometheus(workdir: Path, config: str, port: int | None = None) -> Server:
    """Debian's prometheus with ``config`` (YAML text), on a loopback port."""
    binary = require("prometheus", "prometheus")
    port = port or free_port()
    config_path = workdir / "prometheus.yml"
    config_path.write_text(config)
    log = workdir / "prometheus.log"
    proc = subprocess.Popen(
        [binary, f"--config.file={config_path}", f"--storage.tsdb.path={workdir / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log.open("wb"), stderr=subprocess.STDOUT)
    wait_for_port(port, 30, proc, log)
    return Server(proc, port, workdir)
