"""Icinga 2 as the peer our users would pick: its passive check-result API on loopback.

A foreground ``icinga2 daemon`` with its own config, data, log and run folders
under a temp dir, a certificate made here with openssl (the API is HTTPS only),
an API user, and ``hosts`` x ``services`` passive services to post results for.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
import urllib.request
from base64 import b64encode
from pathlib import Path

from .env import BenchError, Service, free_port, wait_for

USER, PASSWORD = "bench", "bench-password"
NODE = "bench-icinga"


def _openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise BenchError(f"openssl {args[0]}: {done.stderr.strip()}")


def _config(port: int, hosts: int, services: int) -> str:
    objects = []
    for h in range(hosts):
        objects.append(
            f'object Host "h{h}" {{ check_command = "dummy"; enable_active_checks = false; '
            'address = "127.0.0.1" }'
        )
        objects += [
            f'object Service "s{s}" {{ host_name = "h{h}"; check_command = "dummy"; '
            "enable_active_checks = false }"
            for s in range(services)
        ]
    return _HEAD.format(port=port, user=USER, password=PASSWORD) + "\n".join(objects) + "\n"


_HEAD = """include <itl>
object Endpoint NodeName {{ host = "127.0.0.1" }}
object Zone ZoneName {{ endpoints = [ NodeName ] }}
object ApiListener "api" {{
  bind_host = "127.0.0.1"
  bind_port = {port}
  accept_config = false
  accept_commands = false
}}
object ApiUser "{user}" {{ password = "{password}"; permissions = [ "*" ] }}
object CheckerComponent "checker" {{ }}
object IcingaApplication "app" {{ enable_perfdata = false }}
"""


class Icinga:
    """A running Icinga 2; ``url`` is its API's base."""

    def __init__(self, workdir: Path, hosts: int = 100, services: int = 10) -> None:
        binary = shutil.which("icinga2")
        if binary is None:
            raise BenchError("icinga2 is not installed (Debian package icinga2-bin)")
        self.hosts, self.services = hosts, services
        self.port = free_port()
        root = workdir / "icinga2"
        # icinga2 runs as the Debian package's user: it must reach its folders through ours
        workdir.chmod(0o711)
        dirs = {
            "etc": root / "etc",
            "data": root / "data",
            "certs": root / "data" / "certs",
            "log": root / "log",
            "cache": root / "cache",
            "spool": root / "spool",
            "run": root / "run",
        }
        for d in dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        (dirs["run"] / "icinga2").mkdir(exist_ok=True)
        (dirs["data"] / "api").mkdir(exist_ok=True)
        certs = dirs["certs"]
        _openssl(
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=PortaCare bench CA",
            cwd=certs,
        )
        _openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            f"{NODE}.key",
            "-out",
            f"{NODE}.csr",
            "-subj",
            f"/CN={NODE}",
            cwd=certs,
        )
        _openssl(
            "x509",
            "-req",
            "-in",
            f"{NODE}.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            f"{NODE}.crt",
            "-days",
            "2",
            cwd=certs,
        )
        conf = dirs["etc"] / "icinga2.conf"
        conf.write_text(_config(self.port, hosts, services), encoding="utf-8")
        # icinga2 drops root for the Debian package's user, which must own its folders
        subprocess.run(["chown", "-R", "nagios:nagios", str(root)], check=False)
        argv = [
            binary,
            "daemon",
            "-c",
            str(conf),
            f"-DNodeName={NODE}",
            f"-DZoneName={NODE}",
            f"-DDataDir={dirs['data']}",
            f"-DLogDir={dirs['log']}",
            f"-DCacheDir={dirs['cache']}",
            f"-DSpoolDir={dirs['spool']}",
            f"-DInitRunDir={dirs['run']}",
            f"-DPidPath={dirs['run']}/icinga2.pid",
            f"-DStatePath={dirs['data']}/icinga2.state",
            f"-DObjectsPath={dirs['cache']}/icinga2.debug",
            f"-DVarsPath={dirs['cache']}/icinga2.vars",
            "-DRunAsUser=nagios",
            "-DRunAsGroup=nagios",
        ]
        self.url = f"https://127.0.0.1:{self.port}"
        self.service = Service(argv, root / "icinga2.log")
        try:
            wait_for(self._ready, 60, f"icinga2 API on port {self.port}")
        except BaseException:
            self.stop()
            raise

    def _ready(self) -> bool:
        self.service.check_alive()
        return self.post_one() == 200

    def post_one(self) -> int:
        context = ssl._create_unverified_context()
        request = urllib.request.Request(
            f"{self.url}/v1/actions/process-check-result",
            data=b'{"type":"Service","service":"h0!s0","exit_status":0,"plugin_output":"up"}',
            headers={
                "Accept": "application/json",
                "Content-Type": "application/json",
                "Authorization": "Basic " + b64encode(f"{USER}:{PASSWORD}".encode()).decode(),
            },
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=3, context=context) as answer:
            return int(answer.status)

    def stop(self) -> None:
        self.service.stop()
