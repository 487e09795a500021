"""A family with `scheduler: asha` on real Ray Tune (examples/asha-smoke.yaml: 16 GANs of
small nets, 300 iterations, rungs at 50 and 150 on 500 samples): it stops configurations
early, records them `stopped` once each, costs fewer iterations than the same family
without a scheduler, reruns nothing; packs stop members; a driver SIGKILL mid-family keeps
the rung results recorded before it. Slow: each grid takes about a minute on 2 CPUs.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

import signal

from fault_tools import snapshot, wait_for
from sweeps import REPO, Driver, ledger_entries, planned_keys, sweep

pytestmark = pytest.mark.slow

EXAMPLE = REPO / "examples" / "asha-smoke.yaml"
BUDGET, RUNGS = 300, (50, 150)


def asha_sweep(path: Path, classifier: Path, edit=None) -> Path:
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["score"]["classifier"] = str(classifier)
    if edit is not None:
        edit(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def grid(sweep_file: Path, results: Path, *extra: str) -> tuple[int, str]:
    return sweep("grid", "-c", str(sweep_file), "--results", str(results), *extra,
                 cwd=sweep_file.parent)


def rows(entry: dict) -> list[list]:
    return json.loads(entry["rungs"]) if entry.get("rungs") else []


def check_entries(entries: dict[str, dict], keys: set[str]) -> None:
    """Every configuration once, each stopped one at the rung the board said no."""
    assert set(entries) == keys
    for key, e in entries.items():
        assert e["trial_key"] == key
        decided = rows(e)
        if e["status"] == "stopped":
            assert decided[-1][3] is False and e["stopped_at"] == decided[-1][0] in RUNGS
            assert e["iterations_done"] == e["stopped_at"] and e["score"] is None
            assert e["rung_score"] == decided[-1][1]
        else:
            assert e["status"] == "ok" and e["iterations_done"] == BUDGET
            assert [r[0] for r in decided] == list(RUNGS) and all(r[3] for r in decided)
        files = {p.name for p in Path(e["trial_dir"]).iterdir()}
        assert {"samples.png", "generator.pt", "record.json"} <= files


def kill_driver(driver: Driver) -> None:
    """SIGKILL the driver alone, then its session (the local Ray it started)."""
    driver.proc.send_signal(signal.SIGKILL)
    driver.proc.wait(timeout=30)
    driver.close()


def index_rungs(results: Path) -> dict[str, list[list]]:
    """key -> rung rows in the checkpoint index (configurations still training)."""
    out: dict[str, list[list]] = {}
    for p in (results / "checkpoints").glob("*.json"):
        for key, r in json.loads(p.read_text()).get("rungs", {}).items():
            out[key] = r["rows"]
    return out


def spent(entries: dict[str, dict]) -> int:
    return sum(int(e["iterations_run"]) for e in entries.values())


@pytest.fixture(scope="module")
def asha_run(tmp_path_factory, small_classifier):
    work = tmp_path_factory.mktemp("asha")
    sweep_file = asha_sweep(work / "asha.yaml", small_classifier)
    results = work / "results"
    t0 = time.monotonic()
    rc, out = grid(sweep_file, results)
    assert rc == 0, out[-4000:]
    return sweep_file, results, out, time.monotonic() - t0


def test_asha_stops_early_records_once_and_reruns_nothing(asha_run, tmp_path,
                                                          small_classifier):
    sweep_file, results, out, wall = asha_run
    entries = ledger_entries(results)
    check_entries(entries, planned_keys(sweep_file))
    stopped = [e for e in entries.values() if e["status"] == "stopped"]
    assert stopped, out[-3000:]
    table = __import__("pandas").read_parquet(results / "trials.parquet")
    assert len(table) == 16 == table["trial_key"].nunique()
    assert (table["status"] == "stopped").sum() == len(stopped)

    # the same family without a scheduler trains every configuration to the budget
    plain = asha_sweep(tmp_path / "plain.yaml", small_classifier,
                       lambda doc: doc["families"]["gan"].pop("scheduler"))
    rc, out_plain = grid(plain, tmp_path / "plain")
    assert rc == 0, out_plain[-4000:]
    full = ledger_entries(tmp_path / "plain")
    assert all(not e.get("rungs") for e in full.values())
    assert spent(entries) < spent(full) <= 16 * BUDGET
    print(f"\nasha: {len(stopped)} of 16 stopped, {spent(entries):,} iterations "
          f"({wall:.0f} s); without: {spent(full):,}")

    # a rerun (also with --retry-errors) runs nothing: stopped is a result, not an error
    before = snapshot(results / "ledger")
    for extra in ((), ("--retry-errors",)):
        rc, again = grid(sweep_file, results, *extra)
        assert rc == 0 and "16 already finished, 0 grid trials to run" in again, again[-3000:]
    assert snapshot(results / "ledger") == before


def test_extend_adds_only_the_new_configurations(asha_run, tmp_path):
    sweep_file, results, _, _ = asha_run
    import shutil
    copy = tmp_path / "results"
    shutil.copytree(results, copy)
    before = snapshot(copy / "ledger")
    wider = asha_sweep(tmp_path / "wider.yaml", Path(yaml.safe_load(sweep_file.read_text())
                                                     ["score"]["classifier"]),
                       lambda doc: doc["families"]["gan"]["axes"]["lr"].append(0.0001))
    rc, out = grid(wider, copy, "--extend")
    assert rc == 0, out[-4000:]
    assert "16 already finished, 8 grid trials to run" in out
    # the earlier rung results take part in the new configurations' decisions
    assert "rung results of earlier runs take part" in out
    after = ledger_entries(copy)
    assert len(after) == 24 and {k: v for k, v in snapshot(copy / "ledger").items()
                                 if k in before} == before


def test_packs_stop_members_at_their_rung(asha_run, tmp_path, small_classifier):
    sweep_file = asha_sweep(tmp_path / "packs.yaml", small_classifier,
                            lambda doc: doc["resources"].update(pack=8))
    rc, out = grid(sweep_file, tmp_path / "results")
    assert rc == 0, out[-4000:]
    assert "2 packs" in out
    entries = ledger_entries(tmp_path / "results")
    check_entries(entries, planned_keys(sweep_file))
    assert any(e["status"] == "stopped" for e in entries.values())
    assert {e["pack_size"] for e in entries.values()} == {8}
    # a member is its solo run, at every rung and at the end, after the pack stopped others
    # and compacted (float32 runs: test_packs.py's tolerance)
    solo = ledger_entries(asha_run[1])
    both = [k for k in entries if entries[k]["status"] == solo[k]["status"] == "ok"]
    assert both
    for k in both:
        assert entries[k]["score"] == pytest.approx(solo[k]["score"], rel=1e-5)
        assert entries[k]["fd"] == pytest.approx(solo[k]["fd"], rel=1e-5)
    for k in entries:
        shared = min(len(rows(entries[k])), len(rows(solo[k])))
        for a, b in zip(rows(entries[k])[:shared], rows(solo[k])[:shared]):
            assert a[0] == b[0] and a[1] == pytest.approx(b[1], rel=1e-5, abs=1e-7), k


def test_driver_sigkill_keeps_the_rung_results(asha_run, tmp_path, small_classifier):
    sweep_file = asha_sweep(tmp_path / "asha.yaml", small_classifier)
    results = tmp_path / "results"
    driver = Driver(["grid", "-c", str(sweep_file), "--results", str(results)], tmp_path)

    def some_done_and_rungs_in_flight():
        done = ledger_entries(results) if (results / "ledger").is_dir() else {}
        flight = index_rungs(results) if (results / "checkpoints").is_dir() else {}
        return len(done) >= 3 and any(k not in done for k in flight)

    try:
        wait_for(driver, "finished trials and rung results in flight",
                 some_done_and_rungs_in_flight, every=0.02)
    finally:
        kill_driver(driver)
    before = ledger_entries(results)
    in_flight = {k: v for k, v in index_rungs(results).items() if k not in before}
    assert in_flight
    kept = snapshot(results / "ledger")
    recorded = sum(len(rows(e)) for e in before.values()) + sum(map(len, in_flight.values()))
    rc, out = grid(sweep_file, results)
    assert rc == 0, out[-4000:]
    assert f"{len(before)} already finished, {16 - len(before)} grid trials to run" in out
    assert f"{recorded} rung results of earlier runs take part" in out
    after = ledger_entries(results)
    check_entries(after, planned_keys(sweep_file))
    assert {k: v for k, v in snapshot(results / "ledger").items() if k in kept} == kept
    # a configuration decided at a rung before the kill keeps that decision
    for key, old in in_flight.items():
        now = {r[0]: r[3] for r in rows(after[key])}
        assert all(now[r[0]] == r[3] for r in old if r[3] is not None), (key, old, now)
    uninterrupted = ledger_entries(asha_run[1])
    differ = {k for k in after if after[k]["status"] != uninterrupted[k]["status"]}
    print(f"\nSIGKILL after {len(before)} of 16: {recorded} rung results kept; "
          f"{len(differ)} configurations ended differently from the uninterrupted run")


def test_an_optuna_family_is_scheduled_alike(tmp_path, small_classifier):
    import optuna

    from sweep.run.scheduling.optuna_search import storage

    def edit(doc: dict) -> None:
        fam = doc["families"]["gan"]
        fam.update(search="optuna", trials=8)
        fam["axes"]["lr"] = {"loguniform": [0.0001, 0.05]}
    sweep_file = asha_sweep(tmp_path / "optuna.yaml", small_classifier, edit)
    results = tmp_path / "results"
    rc, out = grid(sweep_file, results)
    assert rc == 0, out[-4000:]
    entries = ledger_entries(results)
    assert len(entries) == 8
    check_entries(entries, set(entries))
    assert all(rows(e) for e in entries.values())  # every one scored at its first rung
    study = optuna.load_study(study_name="gan-seed0", storage=storage(results))
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) == 8
    # a stopped configuration tells the study 0, as a collapsed generator would
    stopped = {round(e["lr"], 12) for e in entries.values() if e["status"] == "stopped"}
    assert all(t.value == 0.0 for t in done if round(t.params["lr"], 12) in stopped)
