"""Real servers on loopback for the integration tests, started as local processes.

No Docker engine here, so: Apache Kafka's broker from its Maven Central jars on the machine's
Java, and Debian's redis-server, prometheus, prometheus-alertmanager and postgresql binaries.
Each server gets free ports and a temporary directory, and is stopped at the end of the session. Set
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
    sasl_port: int | None = None

    def stop(self, sig: int = signal.SIGTERM, grace_s: float = 30) -> None:
        """``sig``, then SIGKILL after ``grace_s``."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_kafka(workdir: Path, sasl_users: dict[str, str] | None = None) -> Server:
    """A single-node KRaft broker. With ``sasl_users`` (user -> password) it also listens
    with SASL_PLAINTEXT/PLAIN on ``Server.sasl_port``."""
    if not (KAFKA_LIBS / ".complete").exists():
        subprocess.run([str(ROOT / "scripts" / "kafka.sh")], check=True)
    port, controller = free_port(), free_port()
    listeners = [f"PLAINTEXT://127.0.0.1:{port}"]
    protocols = "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
    sasl_lines: list[str] = []
    sasl_port = None
    if sasl_users:
        sasl_port = free_port()
        listeners.append(f"SASL_PLAINTEXT://127.0.0.1:{sasl_port}")
        protocols += ",SASL_PLAINTEXT:SASL_PLAINTEXT"
        users = " ".join(f'user_{u}="{p}"' for u, p in sasl_users.items())
        sasl_lines = [
            "sasl.enabled.mechanisms=PLAIN",
            "listener.name.sasl_plaintext.plain.sasl.jaas.config="
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f"{users};",
        ]
    config = workdir / "server.properties"
    config.write_text("\n".join([
        "process.roles=broker,controller",
        "node.id=1",
        f"controller.quorum.voters=1@127.0.0.1:{controller}",
        f"listeners={','.join(listeners)},CONTROLLER://127.0.0.1:{controller}",
        f"advertised.listeners={','.join(listeners)}",
        "controller.listener.names=CONTROLLER",
        f"listener.security.protocol.map={protocols}",
        "inter.broker.listener.name=PLAINTEXT",
        f"log.dirs={workdir / 'data'}",
        "num.partitions=4",
        "offsets.topic.replication.factor=1",
        "offsets.topic.num.partitions=4",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "group.initial.rebalance.delay.ms=0",
        "auto.create.topics.enable=true",
        *sasl_lines,
    ]) + "\n")
    subprocess.run([_java(), "-cp", f"{KAFKA_LIBS}/*", _LOG4J, "kafka.tools.StorageTool",
                    "format", "-t", _cluster_id(), "-c", str(config)],
                   check=True, capture_output=True)
    server = Server(_launch_kafka(workdir), port, workdir, sasl_port)
    wait_for_port(port, 90, server.proc, workdir / "broker.log")
    return server


_LOG4J = f"-Dlog4j2.configurationFile={ROOT / 'scripts' / 'kafka' / 'log4j2.properties'}"


def _java() -> str:
    return require("java", "openjdk-17-jre")


def _launch_kafka(workdir: Path) -> subprocess.Popen:
    log = workdir / "broker.log"
    return subprocess.Popen(
        [_java(), "-Xms256m", "-Xmx768m", "-XX:+UseSerialGC", _LOG4J, "-cp", f"{KAFKA_LIBS}/*",
         "kafka.Kafka", str(workdir / "server.properties")],
        stdout=log.open("ab"), stderr=subprocess.STDOUT)


def restart_kafka(server: Server) -> Server:
    """The same broker (config, data, ports) started again after ``stop``."""
    restarted = Server(_launch_kafka(server.workdir), server.port, server.workdir,
                       server.sasl_port)
    wait_for_port(server.port, 90, restarted.proc, server.workdir / "broker.log")
    return restarted


def _cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding. One in 64 starts
    with "-", which the storage tool reads as an option (a broker that failed to start in a
    benchmark run): those are drawn again."""
    while (cluster := base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
           ).startswith("-"):
        pass
    return cluster


def start_redis(workdir: Path, port: int | None = None, password: str | None = None) -> Server:
    binary = require("redis-server", "redis-server")
    port = port or free_port()
    log = workdir / "redis.log"
    auth = ["--requirepass", password] if password else []
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir),
         "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
         "--logfile", str(log), *auth],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    wait_for_port(port, 30, proc, log)
    return Server(proc, port, workdir)


def _postgres_bin(name: str) -> str:
    """Debian keeps PostgreSQL's server programs off the PATH, under its major version."""
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
                   key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    if found:
        return str(found[-1])
    return require(name, "postgresql")


def _as_postgres(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as Debian's ``postgres`` user."""
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def _let_traverse(path: Path) -> None:
    """As root, let the ``postgres`` user reach ``path`` (temporary directories are 0700)."""
    if os.geteuid() != 0:
        return
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)


def start_postgres(workdir: Path, port: int | None = None) -> Server:
    """Debian's PostgreSQL: a fresh cluster in ``workdir`` (trust on loopback: a test
    server), user ``ccpulse``, database ``ccpulse``."""
    port = port or free_port()
    data = workdir / "data"
    data.mkdir()
    _let_traverse(workdir)
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres")
        shutil.chown(data, "postgres")
    data.chmod(0o700)
    subprocess.run(_as_postgres([_postgres_bin("initdb"), "-D", str(data), "-U", "ccpulse",
                                 "--auth=trust", "-E", "UTF8", "--no-sync"]),
                   check=True, capture_output=True, timeout=120)
    log = workdir / "postgres.log"
    proc = subprocess.Popen(
        _as_postgres([_postgres_bin("postgres"), "-D", str(data), "-p", str(port),
                      "-c", "listen_addresses=127.0.0.1",
                      "-c", f"unix_socket_directories={workdir}", "-c", "fsync=off"]),
        stdout=log.open("wb"), stderr=subprocess.STDOUT)
    wait_for_port(port, 60, proc, log)
    subprocess.run(_as_postgres([_postgres_bin("createdb"), "-h", "127.0.0.1", "-p", str(port),
                                 "-U", "ccpulse", "ccpulse"]),
                   check=True, capture_output=True, timeout=60)
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
