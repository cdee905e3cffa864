"""Several hosts over real ssh gateways, as docs/xdist-and-hosts.md documents: an sshd started on
127.0.0.1 by the test (Debian's openssh-server; a throwaway host key and user key made in tmp_path;
an unprivileged port), two ``ssh=`` gateways to it, ``--dist each``, one readiness matrix.

Both "hosts" are this machine, so each gateway gets its own working directory (``chdir``), the
same Python (``python=``), and the project's ``bench/`` by xdist's ``--rsyncdir``. Skips where
sshd is missing (``make test`` installs it), except under CI=true, where it must run."""

from __future__ import annotations

import getpass
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.ci_skips import under_ci

REPO = Path(__file__).resolve().parent.parent
SSHD = Path("/usr/sbin/sshd")


def require(tool: str | None) -> str:
    if tool is None or not Path(tool).exists():
        reason = "openssh-server is not installed (make test installs it: make sshd)"
        if under_ci():
            pytest.fail(f"{reason}; under CI=true the ssh hosts test must run")
        pytest.skip(reason)
    return tool


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keygen(path: Path) -> Path:
    subprocess.run([require(shutil.which("ssh-keygen")), "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path


def sshd_config(root: Path, port: int, host_key: Path, authorized: Path) -> Path:
    config = root / "sshd_config"
    config.write_text("\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {host_key}", f"PidFile {root / 'sshd.pid'}",
        f"AuthorizedKeysFile {authorized}", "StrictModes no",  # the keys live in tmp_path
        "PubkeyAuthentication yes", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password", "UsePAM no",
        "AcceptEnv PYTHONPATH",  # a checkout run with PYTHONPATH (not installed) imports the same qpbench remotely
        "",
    ]))
    return config


def ssh_config(root: Path, port: int, user_key: Path, host_key: Path) -> Path:
    known = root / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {(host_key.with_suffix('.pub')).read_text()}")
    config = root / "ssh_config"
    config.write_text("\n".join([
        "Host qphost", "  HostName 127.0.0.1", f"  Port {port}", f"  User {getpass.getuser()}",
        f"  IdentityFile {user_key}", "  IdentitiesOnly yes", f"  UserKnownHostsFile {known}",
        "  StrictHostKeyChecking yes", "  BatchMode yes", "  SendEnv PYTHONPATH", "",
    ]))
    return config


@pytest.fixture
def ssh_host(tmp_path: Path):
    """An sshd on 127.0.0.1 that accepts a throwaway key; yields the client's ssh_config (host 'qphost')."""
    sshd = require(str(SSHD) if SSHD.exists() else None)
    require(shutil.which("ssh"))
    root = tmp_path / "ssh"
    root.mkdir()
    host_key, user_key = keygen(root / "host_key"), keygen(root / "user_key")
    authorized = root / "authorized_keys"
    authorized.write_text(user_key.with_suffix(".pub").read_text())
    port = free_port()
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation directory
    log = root / "sshd.log"
    server = subprocess.Popen([sshd, "-D", "-e", "-f", str(sshd_config(root, port, host_key, authorized))],
                              stdout=subprocess.DEVNULL, stderr=log.open("w"))
    client = ssh_config(root, port, user_key, host_key)
    try:
        deadline = time.monotonic() + 30
        while subprocess.run(["ssh", "-F", str(client), "qphost", "true"], check=False, capture_output=True).returncode != 0:
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"sshd did not accept the test key:\n{log.read_text()}")
            time.sleep(0.2)
        yield client
    finally:
        server.terminate()
        server.wait(10)


@pytest.mark.slow
def test_dist_each_over_two_ssh_gateways_gives_one_matrix_and_per_host_records(ssh_host, pytester, tiny_files,
                                                                                 monkeypatch):
    bench = pytester.path / "bench"
    bench.mkdir()
    for src in (REPO / "bench").glob("test_*.py"):
        shutil.copy(src, bench / src.name)
    for path in tiny_files.values():
        shutil.copy(path, bench / path.name)
    # the remote shell starts from a clean environment: hand over the qpbench this run imports
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    monkeypatch.syspath_prepend(str(bench))  # the controller's early check of the workload imports the factory
    hosts = ("hostA", "hostB")
    for h in hosts:  # a host's working directory exists before its gateway starts there
        (pytester.path / "remote" / h).mkdir(parents=True)
    gateways = [a for h in hosts for a in (
        "--tx", f"ssh_config={ssh_host}//ssh=qphost//id={h}//python={sys.executable}//chdir={pytester.path / 'remote' / h}")]
    result = pytester.runpytest(
        # absolute paths: xdist maps every existing path among the arguments into an rsync root
        str(bench), "--dist", "each", *gateways, f"--rsyncdir={bench}",
        "--qp-model-factory=tinymodel:build", "--qp-checkpoint=bench/tiny.pt", "--qp-dataset=bench/tiny.npz",
        "--qp-input-size=16", "--qp-profile=quick", "--qp-variants=eager", "-k", "accuracy or latency",
        "--qp-target=latency_p95_ms=100000", "-p", "no:cacheprovider",
    )
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines(["*host hostA (first of 2)*", "readiness by host*",
                                 "variant*hostA*hostB*all hosts*", "eager*ready 100*ready 100*ready*"])
    for h in hosts:  # each worker ran in its own remote directory, from the rsynced bench/
        assert (pytester.path / "remote" / h / "bench" / "test_accuracy.py").exists()
    record = json.loads((pytester.path / "results" / "latest.json").read_text())
    assert set(record["hosts"]) == set(hosts)
    for host in record["hosts"].values():
        assert host["fingerprint"]["cores_logical"] >= 1
        kinds = {(r["kind"], r["variant"]) for r in host["results"]}
        assert kinds >= {("accuracy", "eager"), ("latency", "eager")}
        assert next(r for r in host["results"] if r["kind"] == "accuracy")["pearson"] == pytest.approx(1.0)
    matrix = record["matrix"]
    assert matrix["hosts"] == list(hosts) and matrix["variants"] == ["eager"]
    assert set(matrix["cells"]["eager"]) == set(hosts)


def test_without_sshd_the_test_skips_with_the_install_hint_except_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="make sshd"):
        require(None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="under CI=true the ssh hosts test must run"):
        require(None)
