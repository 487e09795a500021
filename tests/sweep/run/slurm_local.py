"""A real Slurm on this machine for the Slurm tests: Debian's slurm-wlm and munge, one node.

slurmctld and slurmd run as this test's children (root, foreground, a slurm.conf of their
own in a temporary folder, free ports, no cgroups: ``proctrack/linuxproc``, ``task/none``,
the node named by ``hostname``); munged is started as the ``munge`` user after creating
``/run/munge`` owned by it, unless one already answers. Every command of a test reads that
slurm.conf through ``SLURM_CONF``, which sbatch passes on to the job. Where Slurm is not
installed and cannot be (not root, no apt-get, no network), :func:`local_slurm` skips with
the reason. Everything started here is stopped by its pid at the end, the jobs first.
"""
from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

PACKAGES = ("slurm-wlm", "munge")
DAEMONS = ("slurmctld", "slurmd", "munged", "sbatch", "scontrol", "squeue")
MUNGE_SOCKET = Path("/run/munge/munge.socket.2")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _missing() -> list[str]:
    return [d for d in DAEMONS if shutil.which(d) is None
            and not Path("/usr/sbin", d).exists()]


def ensure_installed() -> str | None:
    """None when Slurm and munge are here (installed now if need be); else why not."""
    if not _missing():
        return None
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return f"Slurm is not installed ({', '.join(_missing())} missing) and this user " \
               "cannot install it (needs root and apt-get: apt-get install slurm-wlm munge)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *PACKAGES]):
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        if out.returncode != 0:
            return f"`{' '.join(cmd)}` failed: {(out.stderr or out.stdout)[-500:]}"
    return None if not _missing() else f"still missing after apt-get: {_missing()}"


def _munge_answers() -> bool:
    try:
        enc = subprocess.run(["munge", "-n"], capture_output=True, timeout=10)
        return enc.returncode == 0 and subprocess.run(
            ["unmunge"], input=enc.stdout, capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _start_munged() -> int | None:
    """Start munged as `munge` if none answers: its pid (ours to stop), else None."""
    if _munge_answers():
        return None
    munge = pwd.getpwnam("munge")
    for folder in (Path("/run/munge"), Path("/var/log/munge"), Path("/var/lib/munge")):
        folder.mkdir(parents=True, exist_ok=True)
        os.chown(folder, munge.pw_uid, munge.pw_gid)
    if not Path("/etc/munge/munge.key").exists():
        subprocess.run(["runuser", "-u", "munge", "--", "mungekey", "--create"], check=True)
    subprocess.run(["runuser", "-u", "munge", "--", shutil.which("munged") or "/usr/sbin/munged"],
                   check=True, timeout=30)
    deadline = time.monotonic() + 30
    while not _munge_answers():
        if time.monotonic() > deadline:
            raise RuntimeError("munged started but does not answer")
        time.sleep(0.2)
    pidfile = Path("/run/munge/munged.pid")
    return int(pidfile.read_text().split()[0]) if pidfile.exists() else None


def slurm_conf(folder: Path) -> str:
    """One node (this machine, as `slurmd -C` sees it), one partition, requeue allowed."""
    node = subprocess.run(["slurmd", "-C"], capture_output=True, text=True,
                          check=True).stdout.splitlines()[0]
    host = socket.gethostname().split(".")[0]
    node = re.sub(r"^NodeName=\S+", f"NodeName={host}", node)
    return "\n".join([
        "ClusterName=ebgantest", f"SlurmctldHost={host}", "SlurmUser=root", "SlurmdUser=root",
        f"SlurmctldPort={_free_port()}", f"SlurmdPort={_free_port()}", "AuthType=auth/munge",
        f"StateSaveLocation={folder}/state", f"SlurmdSpoolDir={folder}/spool",
        f"SlurmctldPidFile={folder}/slurmctld.pid", f"SlurmdPidFile={folder}/slurmd.pid",
        f"SlurmctldLogFile={folder}/slurmctld.log", f"SlurmdLogFile={folder}/slurmd.log",
        "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none",
        "JobAcctGatherType=jobacct_gather/none", "AccountingStorageType=accounting_storage/none",
        "SchedulerType=sched/backfill", "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_CPU", "ReturnToService=2", "MpiDefault=none",
        "JobRequeue=1", "KillWait=30", "MinJobAge=3600",
        f"{node} State=UNKNOWN",
        f"PartitionName=test Nodes={host} Default=YES MaxTime=INFINITE State=UP", ""])


class LocalSlurm:
    """slurmctld + slurmd of one generated slurm.conf; ``env`` runs Slurm commands on it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        for sub in ("state", "spool"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        self.conf = folder / "slurm.conf"
        self.conf.write_text(slurm_conf(folder))
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}
        self.procs: list[subprocess.Popen] = []
        for daemon in ("slurmctld", "slurmd"):
            log = open(folder / f"{daemon}.out", "w")
            self.procs.append(subprocess.Popen([daemon, "-D", "-f", str(self.conf)],
                                               env=self.env, stdout=log,
                                               stderr=subprocess.STDOUT, start_new_session=True))
        self._wait_idle()

    def run(self, *cmd: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
        return subprocess.run(list(cmd), env=kw.pop("env", self.env), capture_output=True,
                              text=True, timeout=60, check=check, **kw)

    def _wait_idle(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.procs):
                raise RuntimeError("a Slurm daemon exited:\n" + self.logs())
            out = self.run("sinfo", "-h", "-o", "%T", check=False)
            if out.returncode == 0 and out.stdout.strip() in ("idle", "mixed"):
                return
            time.sleep(0.5)
        raise TimeoutError("the Slurm node is not idle:\n" + self.logs())

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-2000:]}"
                         for p in sorted(self.folder.glob("*.log")))

    def submit(self, script: Path, *options: str, cwd: Path, env: dict[str, str]) -> int:
        out = self.run("sbatch", "--parsable", *options, str(script), cwd=cwd,
                       env={**env, "SLURM_CONF": str(self.conf)})
        return int(out.stdout.strip().split(";")[0])

    def job(self, job_id: int) -> dict[str, str]:
        """`scontrol show job` as a dict (JobState, Restarts, ExitCode, ...)."""
        out = self.run("scontrol", "show", "job", "-o", str(job_id)).stdout
        return dict(f.split("=", 1) for f in out.split() if "=" in f)

    def wait(self, job_id: int, states: tuple[str, ...], timeout: float) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while True:
            info = self.job(job_id)
            if info.get("JobState") in states:
                return info
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {info.get('JobState')} after "
                                   f"{timeout:.0f} s")
            time.sleep(1)

    def stop(self) -> None:
        self.run("scancel", "--full", "-u", pwd.getpwuid(os.getuid()).pw_name, check=False)
        deadline = time.monotonic() + 60
        while self.run("squeue", "-h", check=False).stdout.strip() and time.monotonic() < deadline:
            time.sleep(1)
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


@contextmanager
def local_slurm() -> Iterator[LocalSlurm]:
    """A running one-node Slurm, or a skip saying why there can be none here."""
    why = ensure_installed()
    if why:
        pytest.skip(f"no Slurm: {why}")
    try:
        munged = _start_munged()
    except (OSError, RuntimeError, subprocess.SubprocessError, KeyError) as exc:
        pytest.skip(f"no Slurm: munged could not be started ({exc})")
    folder = Path(tempfile.mkdtemp(prefix="slurm-", dir="/tmp"))
    try:
        slurm = LocalSlurm(folder)
        try:
            yield slurm
        finally:
            slurm.stop()
    finally:
        if munged is not None:
            try:
                os.kill(munged, signal.SIGTERM)
            except ProcessLookupError:
                pass
        shutil.rmtree(folder, ignore_errors=True)
