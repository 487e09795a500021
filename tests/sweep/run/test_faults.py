"""The fault matrix of "Preemptible workers": each row a real fault on real Ray (a process
killed, a node lost, a file damaged, a disk full, the S3 endpoint down, a signal), each
with expectations a reader can check by hand against an uninterrupted run of the same
sweep: two EBGANs of examples/smoke.yaml, 400 iterations each, one trial at a time,
checkpoints as often as the policy allows (fault_tools.pair_sweep). Where a fault must
follow a mid-trial checkpoint, the run that meets it also checkpoints every 100 iterations
(fault_tools.checkpointing_grid: the CLI with that trial function); the runs after the
fault are plain `sweep grid`.

The module prints the matrix (fault, outcome, seconds lost, iterations lost) at its end
(`pytest -s` shows it) and writes it to /tmp/ebgan-fault-matrix.md. Slow (13-15 minutes
on a shared 2-core CPU; the disk-full row needs root for its tmpfs, else it is skipped):
`make test-slow`, or

    .venv/bin/python -m pytest -q -s -m slow tests/sweep/run/test_faults.py
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from fault_tools import (BUDGET, MATRIX_FILE, MIN_CHECKPOINT, Relay, Row, assert_identical,
                         attempts, checkpointed, checkpointing_grid, finish, grid_args,
                         indexed_iteration, iterations_lost, ledger_consistent,
                         no_checkpoints_left, pair_sweep, past_checkpoint, reached, render,
                         run_grid, snapshot, trial_workers, wait_for)
from sweeps import Driver, ledger_entries, planned_keys
from test_cluster import Cluster, free_port, moto_process

pytestmark = pytest.mark.slow

FAULTS = ["SIGKILL of a trial's worker process", "worker raylet killed (2-node cluster)",
          "driver SIGKILLed while trials run", "checkpoint truncated / one byte flipped",
          "ledger entry truncated / not JSON", "results disk full",
          "S3 endpoint stopped mid-grid, restarted", "SIGTERM to the driver"]
NOTE = ("Each row runs `sweep grid` on 2 EBGANs x 400 iterations (smoke-sized nets, one trial "
        "at a time, two on the cluster, `checkpoint_every: 0s` and, in the run a fault hits, a "
        "checkpoint every 100 iterations). *Outcome*: what the ledger and "
        "the trial files show; every row ends with both trials `ok` and generator.pt "
        "(torch.equal), samples.png (bytes) and score identical to an uninterrupted run. "
        "*Seconds lost*: the wall time of "
        "the row's `sweep grid` runs together minus the uninterrupted run's (the cluster row: "
        "against an uninterrupted run on the same cluster; the ledger row: against nothing to "
        "run); a few seconds of noise on a shared 2-core machine. *Iterations lost*: the "
        "ledger's iterations_run minus iterations_done over both trials (the ledger row: the "
        "trial trained again).")
ROWS: list[Row] = []


@pytest.fixture(scope="module", autouse=True)
def matrix():
    yield ROWS
    table = render(ROWS, FAULTS, NOTE)
    MATRIX_FILE.write_text(table)
    print(f"\n\nFault matrix (also in {MATRIX_FILE}):\n\n{table}")


@dataclass(frozen=True)
class Baseline:
    sweep_file: Path
    results: Path
    wall_s: float


@pytest.fixture(scope="module")
def baseline(tmp_path_factory, small_classifier) -> Baseline:
    """The pair sweep run once without a fault: what every row must reproduce."""
    work = tmp_path_factory.mktemp("baseline")
    sweep_file, results = pair_sweep(work / "pair.yaml", small_classifier), work / "results"
    rc, out, wall = run_grid(grid_args(sweep_file, results), work)
    assert rc == 0, out[-4000:]
    entries = ledger_entries(results)
    assert len(entries) == 2 and all(e["status"] == "ok" for e in entries.values()), entries
    assert all(attempts(e) == [0] and e["iterations_run"] == BUDGET for e in entries.values())
    return Baseline(sweep_file, results, wall)


def logs_of(driver: Driver) -> Path:
    return driver.ray_tmp / "ray" / "session_latest" / "logs"


def kill_driver(driver: Driver) -> None:
    """SIGKILL the driver process alone, then the rest of its session (the local Ray it
    started), as a lost machine would take them."""
    driver.proc.send_signal(signal.SIGKILL)
    driver.proc.wait(timeout=30)
    driver.close()


def one_done_one_checkpointed(results: Path, at_least: int = MIN_CHECKPOINT, read=None):
    """(finished entries, {unit: (location, iteration)}) once a trial has finished and the
    other has an indexed checkpoint at ``at_least`` iterations or more."""
    done = ledger_entries(results) if (results / "ledger").is_dir() else {}
    ck = {u: v for u, v in checkpointed(results, at_least, read).items() if u not in done}
    return (done, ck) if done and ck else None


# --- 1. a trial's worker process killed -----------------------------------------------------
def test_worker_sigkill_resumes_from_its_checkpoint(tmp_path, baseline, small_classifier):
    results = tmp_path / "results"
    t0 = time.monotonic()
    sweep_file = pair_sweep(tmp_path / "pair.yaml", small_classifier)
    driver = checkpointing_grid(grid_args(sweep_file, results), tmp_path)
    try:
        ck = wait_for(driver, f"an indexed checkpoint past iteration {MIN_CHECKPOINT}",
                      lambda: checkpointed(results))
        unit = next(iter(ck))
        label = f"ebgan-{unit}"
        pids = wait_for(driver, f"the worker process of {label}",
                        lambda: trial_workers(driver.proc.pid, logs_of(driver), label), 30)
        assert len(pids) == 1, pids
        past_checkpoint(driver, results, unit, ck[unit][1])
        os.kill(pids[0], signal.SIGKILL)
        rc, out = finish(driver)
    finally:
        driver.close()
    wall = time.monotonic() - t0
    assert rc == 0, out[-4000:]
    errors = list(results.glob(f"tune/*/{label}-*/error.txt"))
    assert errors and "died" in errors[0].read_text().lower(), (errors, out[-3000:])
    entries = assert_identical(results, baseline.results)
    no_checkpoints_left(results)
    tries, lost = attempts(entries[unit]), entries[unit]["iterations_run"] - BUDGET
    assert tries[0] == 0 and len(tries) == 2 and tries[1] >= ck[unit][1], tries
    assert 0 <= lost < 0.2 * BUDGET  # iterations_run < 1.2x the budget
    assert iterations_lost(entries) == lost  # the other trial: untouched
    ROWS.append(Row(FAULTS[0], f"Tune retried the trial from its checkpoint at iteration "
                    f"{tries[1]} (it had reached {tries[1] + lost}); attempts {tries}",
                    wall - baseline.wall_s, iterations_lost(entries)))


# --- 2. a node lost -------------------------------------------------------------------------
def test_killed_raylet_resumes_on_the_other_node(tmp_path, baseline, small_classifier):
    cluster = Cluster(tmp_path)
    try:
        env = {k: cluster.env[k] for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}
        sweep_file = pair_sweep(tmp_path / "pair.yaml", small_classifier,
                                max_concurrent_trials=2)  # one trial per node
        rc, out, straight_wall = run_grid(grid_args(sweep_file, tmp_path / "straight",
                                                    "--address", cluster.address), tmp_path, env)
        assert rc == 0, out[-4000:]
        assert_identical(tmp_path / "straight", baseline.results)  # on either node
        nodes = cluster.node_ids()
        head = next(n for n, info in nodes.items() if info["head"])
        worker = cluster.workers[0]
        logs = Path(cluster.temp_dir) / "session_latest" / "logs"
        results = tmp_path / "results"

        def on_the_worker():
            ck = checkpointed(results)
            for unit in ck:
                if trial_workers(worker.sid, logs, f"ebgan-{unit}"):
                    return unit, ck[unit][1]
            return None

        t0 = time.monotonic()
        driver = checkpointing_grid(grid_args(sweep_file, results, "--address",
                                              cluster.address), tmp_path, env)
        try:
            unit, ck = wait_for(driver, "a checkpointed trial on the worker node", on_the_worker)
            past_checkpoint(driver, results, unit, ck)
            raylet = worker.raylet_pid()
            assert raylet is not None
            os.kill(raylet, signal.SIGKILL)
            rc, out = finish(driver)
        finally:
            driver.close()
        wall = time.monotonic() - t0
        assert rc == 0, out[-4000:]
        assert [n for n, info in cluster.node_ids().items() if not info["alive"]] == \
            [n for n in nodes if n != head]
    finally:
        cluster.stop()
    entries = assert_identical(results, baseline.results)
    tries, lost = attempts(entries[unit]), entries[unit]["iterations_run"] - BUDGET
    assert tries[0] == 0 and len(tries) == 2 and tries[1] >= ck, tries
    assert head.startswith(entries[unit]["node"]), (head, entries[unit]["node"])
    assert 0 <= lost < 0.2 * BUDGET  # iterations_run < 1.2x the budget
    ROWS.append(Row(FAULTS[1], f"the trial resumed on the head node from its checkpoint at "
                    f"iteration {tries[1]} (it had reached {tries[1] + lost}); attempts {tries}",
                    wall - straight_wall, iterations_lost(entries)))


# --- 3. the driver killed ---------------------------------------------------------------------
def test_driver_sigkill_rerun_continues(tmp_path, baseline, small_classifier):
    sweep_file = pair_sweep(tmp_path / "pair.yaml", small_classifier)
    results = tmp_path / "results"
    t0 = time.monotonic()
    driver = checkpointing_grid(grid_args(sweep_file, results), tmp_path)
    try:
        done, ck = wait_for(driver, "a finished trial and a checkpointed one",
                            lambda: one_done_one_checkpointed(results))
        (key,), (unit,) = done, ck
        kept = snapshot(results / "ledger") | snapshot(Path(done[key]["trial_dir"]))
        past_checkpoint(driver, results, unit, ck[unit][1])
    finally:
        kill_driver(driver)
    first_wall = time.monotonic() - t0
    killed_at, it = reached(results, unit), indexed_iteration(results, unit)
    ledger_consistent(results, planned_keys(sweep_file))
    assert set(ledger_entries(results)) == {key}
    rc, out, wall = run_grid(grid_args(sweep_file, results), tmp_path)
    assert rc == 0, out[-4000:]
    assert "1 already finished, 1 grid trials to run" in out and "1 resume from a checkpoint" in out
    entries = assert_identical(results, baseline.results)
    no_checkpoints_left(results)
    after = snapshot(results / "ledger") | snapshot(Path(done[key]["trial_dir"]))
    assert {f: after[f] for f in kept} == kept  # the finished trial: not run, not rewritten
    tries = attempts(entries[unit])
    assert tries == [0, it], (tries, it)
    assert entries[unit]["iterations_run"] == BUDGET + killed_at - it < 1.2 * BUDGET
    ROWS.append(Row(FAULTS[2], f"the rerun resumed the running trial from its checkpoint at "
                    f"iteration {tries[1]} (attempts {tries}); the finished one not rerun, its "
                    "entry and files unchanged", first_wall + wall - baseline.wall_s,
                    iterations_lost(entries)))


# --- 4. a damaged checkpoint ----------------------------------------------------------------
def test_damaged_checkpoints_restart_from_scratch(tmp_path, baseline, small_classifier):
    sweep_file = pair_sweep(tmp_path / "pair.yaml", small_classifier)
    results = tmp_path / "results"
    damaged, walls = {}, []

    def truncate(path: Path) -> None:
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])

    def flip(path: Path) -> None:
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))

    # Run 1: killed once the first trial checkpointed; its checkpoint is then truncated.
    # Run 2: killed once that trial finished and the second checkpointed; one byte flipped.
    for damage, ready in ((truncate, lambda: checkpointed(results)),
                          (flip, lambda: (one_done_one_checkpointed(results) or (None, {}))[1])):
        t0 = time.monotonic()
        driver = checkpointing_grid(grid_args(sweep_file, results), tmp_path)
        try:
            ck = wait_for(driver, "a checkpoint to damage",
                          lambda: {u: v for u, v in ready().items() if u not in damaged})
        finally:
            kill_driver(driver)
        walls.append(time.monotonic() - t0)
        (unit, (location, it)), = ck.items()
        damage(Path(location) / "state.pt")
        damaged[unit] = (location, reached(results, unit), damage.__name__)
    rc, out, wall = run_grid(grid_args(sweep_file, results), tmp_path)
    walls.append(wall)
    assert rc == 0, out[-4000:]
    entries = assert_identical(results, baseline.results)
    no_checkpoints_left(results)
    for unit, (location, reach, how) in damaged.items():
        note = entries[unit]["checkpoint_note"]
        assert note and f"checkpoint {location} is corrupt" in note, (how, note)
        record = json.loads((Path(entries[unit]["trial_dir"]) / "record.json").read_text())
        assert record["checkpoint_note"] == note
        assert attempts(entries[unit]) == [0, 0], (how, entries[unit]["attempts"])
        assert entries[unit]["iterations_run"] == reach + BUDGET
        assert not Path(location).exists()  # removed with the finished unit
    how = ", ".join(f"{d[2]} at iteration {d[1]}" for d in damaged.values())
    ROWS.append(Row(FAULTS[3], f"both detected by SHA-256 (checkpoint_note in the ledger and "
                    f"record.json: 'is corrupt'); each trial restarted from scratch ({how}); "
                    "attempts [0, 0]", sum(walls) - baseline.wall_s, iterations_lost(entries)))


# --- 5. a damaged ledger entry --------------------------------------------------------------
def test_damaged_ledger_entry_stops_the_run(tmp_path, baseline):
    results = tmp_path / "results"
    shutil.copytree(baseline.results, results, ignore=shutil.ignore_patterns(".lock"))
    sweep_file = baseline.sweep_file
    key = sorted(ledger_entries(results))[0]
    entry = results / "ledger" / f"{key}.json"
    good = entry.read_bytes()
    walls = []
    for damage in (good[: len(good) // 2], b"\x00\x01 not JSON \xff"):
        entry.write_bytes(damage)
        before = snapshot(results)
        rc, out, wall = run_grid(grid_args(sweep_file, results), tmp_path)
        walls.append(wall)
        assert rc == 2, out[-4000:]
        assert f"error: the ledger entry {entry} is damaged" in out, out[-4000:]
        assert "move the file out of ledger/" in out and "Traceback" not in out
        print("\n[ledger] " + next(ln for ln in out.splitlines() if ln.startswith("error: ")))
        assert snapshot(results) == before  # nothing written, nothing overwritten
    # What the message says to do: move it out; the trial runs again, the other does not.
    shutil.move(entry, tmp_path / entry.name)
    other = snapshot(results / "ledger")
    rc, out, wall = run_grid(grid_args(sweep_file, results), tmp_path)
    walls.append(wall)
    assert rc == 0, out[-4000:]
    assert "1 already finished, 1 grid trials to run" in out
    assert {f: snapshot(results / "ledger")[f] for f in other} == other
    entries = assert_identical(results, baseline.results)
    ROWS.append(Row(FAULTS[4], "exit 2 naming the file and what to do, both times, nothing "
                    "written; after moving it out of ledger/ (as the message says) only that "
                    "trial ran again", sum(walls), entries[key]["iterations_run"]))


# --- 6. the results disk full ---------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path):
    """A 32 MiB tmpfs (root only); unmounted at the end."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(disk)],
                           capture_output=True, text=True)
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mount.stderr.strip()}): needs root")
    try:
        yield disk
    finally:
        if subprocess.run(["umount", str(disk)]).returncode != 0:
            subprocess.run(["umount", "-l", str(disk)])


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    with open(filler, "wb") as out:
        try:
            while True:
                out.write(b"\0" * (1 << 16))
                out.flush()
        except OSError:
            pass
    return filler


def test_full_results_disk_stops_cleanly_and_resumes(tmp_path, small_disk, baseline,
                                                     small_classifier):
    sweep_file = pair_sweep(tmp_path / "pair.yaml", small_classifier)
    results = small_disk / "results"
    t0 = time.monotonic()
    driver = checkpointing_grid(grid_args(sweep_file, results), tmp_path)
    try:
        done, ck = wait_for(driver, "a finished trial and a checkpointed one",
                            lambda: one_done_one_checkpointed(results))
        kept = snapshot(results / "ledger")
        filler = fill(small_disk)
        rc, out = finish(driver)
    finally:
        driver.close()
    first_wall = time.monotonic() - t0
    (unit, (location, it)), = ck.items()
    assert rc == 2, out[-4000:]
    assert "error: the grid stopped: cannot write " + str(results) in out, out[-4000:]
    assert "No space left on device" in out and "Traceback" not in out, out[-4000:]
    print("\n[disk full] " + next(ln for ln in out.splitlines() if ln.startswith("error: ")))
    assert snapshot(results / "ledger") == kept  # no half-written entry, none lost
    assert not [p for p in (results / "checkpoints").iterdir() if p.suffix != ".json"]
    assert ledger_consistent(results, planned_keys(sweep_file)).keys() == done.keys()
    filler.unlink()
    rc, out, wall = run_grid(grid_args(sweep_file, results), tmp_path)
    assert rc == 0, out[-4000:]
    entries = assert_identical(results, baseline.results)
    no_checkpoints_left(results)
    tries = attempts(entries[unit])
    assert tries[0] == 0 and len(tries) == 2 and tries[1] >= it, tries
    ROWS.append(Row(FAULTS[5], f"exit 2: 'cannot write <the file> (No space left on device)'; "
                    f"ledger intact; after freeing space the rerun resumed from iteration "
                    f"{tries[1]}", first_wall + wall - baseline.wall_s, iterations_lost(entries)))


# --- 7. the S3 endpoint down ----------------------------------------------------------------
BUCKET = "sweep-faults"


@pytest.fixture
def s3(tmp_path):
    """A moto S3 server (its own process, stopped by pid) behind a Relay that the test can
    stop and restart: (boto3 client straight to moto, the relay, the sweep's AWS env)."""
    with moto_process(tmp_path / "moto.log", BUCKET) as (port, client):
        relay = Relay(free_port(), port, tmp_path / "relay.log")
        try:
            relay.start()
            yield client, relay, {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{relay.port}",
                                  "AWS_ACCESS_KEY_ID": "testing",
                                  "AWS_SECRET_ACCESS_KEY": "testing",
                                  "AWS_DEFAULT_REGION": "us-east-1"}
        finally:
            relay.stop()


def test_s3_outage_then_retry_errors(tmp_path, s3, baseline, small_classifier):
    client, relay, aws = s3

    def read(uri: str) -> bytes:
        bucket, key = uri[len("s3://"):].split("/", 1)
        return client.get_object(Bucket=bucket, Key=key)["Body"].read()

    sweep_file = pair_sweep(tmp_path / "pair.yaml", small_classifier,
                            storage=f"s3://{BUCKET}/pair")
    results = tmp_path / "results"
    t0 = time.monotonic()
    driver = Driver(grid_args(sweep_file, results), tmp_path, aws)
    try:
        # Uploads make S3 checkpoints dearer: the 50x rule spaces them past this short
        # trial's length, so the first one (iteration 1) is the one to wait for.
        done, ck = wait_for(driver, "a finished trial and one checkpointed in S3",
                            lambda: one_done_one_checkpointed(results, at_least=1, read=read))
        kept = snapshot(results / "ledger")
        relay.stop()
        stopped_at = time.monotonic()
        rc, out = finish(driver)
    finally:
        driver.close()
    first_wall = time.monotonic() - t0
    (key,), ((unit, (location, it)),) = done, ck.items()
    assert location.startswith(f"s3://{BUCKET}/pair/tune/")
    assert rc == 0, out[-4000:]  # every trial has a result: one `ok`, one `error`
    assert "[grid] finished: 2 of 2 trials" in out and "(error 1, ok 1)" in out, out[-4000:]
    entries = ledger_consistent(results, planned_keys(sweep_file))
    error = entries[unit]["error"]
    assert entries[unit]["status"] == "error" and "Could not connect" in error, error
    print(f"\n[s3] the ledger's error for {unit}: {error}")
    assert {f: snapshot(results / "ledger")[f] for f in kept} == kept
    relay.start()
    rc, out, wall = run_grid(grid_args(sweep_file, results, "--retry-errors"), tmp_path, aws)
    assert rc == 0, out[-4000:]
    assert "1 already finished, 1 grid trials to run" in out, out[-4000:]
    assert {f: snapshot(results / "ledger")[f] for f in kept} == kept  # not run again
    entries = assert_identical(results, baseline.results, read=read)  # files read from S3
    keys = {o["Key"] for o in client.list_objects_v2(Bucket=BUCKET, Prefix="pair/")["Contents"]}
    for k, entry in entries.items():
        assert entry["trial_dir"] == f"s3://{BUCKET}/pair/trials/{k}"
        assert json.loads(read(f"s3://{BUCKET}/pair/ledger/{k}.json"))["status"] == "ok"
    assert "pair/trials.parquet" in keys
    assert not [k for k in keys if "/checkpoint_" in k]  # finished units' checkpoints removed
    tries = attempts(entries[unit])
    ROWS.append(Row(FAULTS[6], f"the running trial recorded `error` with the S3 client's "
                    "message ('OSError: .. AWS Error NETWORK_CONNECTION .. Could not connect to "
                    f"server') after its retries ({stopped_at - t0:.0f} s into the grid); the "
                    "finished one kept; "
                    f"after the restart --retry-errors ran only the error (attempts {tries}); "
                    "every file in the bucket", first_wall + wall - baseline.wall_s,
                    iterations_lost(entries)))


# --- 8. SIGTERM -------------------------------------------------------------------------------
def test_sigterm_stops_consistently_and_rerun_continues(tmp_path, baseline, small_classifier):
    sweep_file = pair_sweep(tmp_path / "pair.yaml", small_classifier)
    results = tmp_path / "results"
    t0 = time.monotonic()
    driver = checkpointing_grid(grid_args(sweep_file, results), tmp_path)
    try:
        done, ck = wait_for(driver, "a finished trial and a checkpointed one",
                            lambda: one_done_one_checkpointed(results))
        kept = snapshot(results / "ledger")
        (unit,) = ck
        past_checkpoint(driver, results, unit, ck[unit][1])
        sent = time.monotonic()
        driver.proc.send_signal(signal.SIGTERM)
        rc, out = finish(driver, timeout=60)
        took = time.monotonic() - sent
    finally:
        driver.close()
    first_wall = time.monotonic() - t0
    assert rc == 143, out[-4000:]
    assert took < 10 and "[grid] SIGTERM: stopping now" in out, (took, out[-4000:])
    assert "[grid] stopped: 1 of 2 trials" in out and "Traceback" not in out, out[-4000:]
    assert ledger_consistent(results, planned_keys(sweep_file)).keys() == done.keys()
    assert snapshot(results / "ledger") == kept
    killed_at, it = reached(results, unit), indexed_iteration(results, unit)
    rc, out, wall = run_grid(grid_args(sweep_file, results), tmp_path)
    assert rc == 0, out[-4000:]
    assert "1 resume from a checkpoint" in out
    entries = assert_identical(results, baseline.results)
    no_checkpoints_left(results)
    assert attempts(entries[unit]) == [0, it]
    assert entries[unit]["iterations_run"] == BUDGET + killed_at - it < 1.2 * BUDGET
    ROWS.append(Row(FAULTS[7], f"exit 143 {took:.1f} s after the signal; ledger and table hold "
                    f"the finished trial only; the rerun resumed the other from iteration {it}",
                    first_wall + wall - baseline.wall_s, iterations_lost(entries)))
