"""A grid stopped part-way holds a random sample of each family, in proportion to the
families' sizes (the seeded, stratified hand-out order), and the summary says its numbers
estimate the full grid from that sample."""
from __future__ import annotations

import json
import signal
import time

import pandas as pd
import pytest

from sweeps import Driver, api_command, sweep, write_sweep

pytestmark = pytest.mark.slow  # minutes on a 2-core machine (make test-slow)

GAN_GROUPS, EBGAN_GROUPS = 6, 6  # architecture groups: GAN 6 x 24 = 144, EBGAN 6 x 2 = 12


def _two_families(doc: dict) -> None:
    doc["families"] = {
        "ebgan": {"model": "ebgan", "axes": {
            "nLayerG": [2, 3, 4], "nLayerD": [2, 3], "sizeG": [400], "sizeD": [128],
            "dropoutD": [True, False], "optimD": ["adam"], "optimG": ["adam"], "lr": [0.001]}},
        "gan": {"model": "gan", "axes": {
            "nLayerG": [2, 3, 4], "nLayerD": [2, 3], "sizeG": [400], "sizeD": [128],
            "dropoutD": [True, False], "optimD": ["adam", "sgd"], "optimG": ["adam", "sgd"],
            "lr": [0.01, 0.001, 0.0001]}}}


def test_a_stopped_grid_is_a_proportional_sample_and_says_so(tmp_path, small_classifier):
    sweep_file = write_sweep(tmp_path / "two.yaml", small_classifier, _two_families)
    results = tmp_path / "results"
    driver = Driver([], tmp_path, command=api_command(sweep_file, results, "instant"))
    try:  # instant trials: stop once about a third of the 156 configurations are recorded
        deadline = time.monotonic() + 300
        while len(list((results / "ledger").glob("*.json"))) < 50:
            assert driver.proc.poll() is None, driver.output[-3000:]
            assert time.monotonic() < deadline, driver.output[-3000:]
            time.sleep(0.02)
        driver.proc.send_signal(signal.SIGINT)
        assert driver.wait(timeout=60) == 130, driver.output[-3000:]
    finally:
        driver.close()
    df = pd.read_parquet(results / "trials.parquet")
    n = len(df)
    assert 50 <= n < 156
    by_family = df["family"].value_counts().to_dict()
    # Proportional: the hand-out order keeps each family within one architecture group of
    # its share (GAN 144/156, EBGAN 12/156 of what was handed out); a few in flight differ.
    for fam, size, group in (("gan", 144, 24), ("ebgan", 12, 2)):
        assert abs(by_family.get(fam, 0) - n * size / 156) <= 2 * group + 2, by_family
    assert by_family.get("ebgan", 0) >= 2  # both families are represented
    # The finished GANs come in whole architecture groups of 24, first in the order.
    gan_orders = sorted(df.loc[df["family"] == "gan", "order"])
    assert gan_orders[: 24 * (len(gan_orders) // 24)] == list(range(24 * (len(gan_orders) // 24)))

    rc, out = sweep("histograms", "--results", str(results), cwd=tmp_path)
    assert rc == 0, out[-3000:]
    summary = (results / "figures" / "summary.md").read_text()
    assert "## Estimate of the full grid" in summary
    assert "uniform random sample of" in summary and "of 144 trials" in summary
    est = json.loads((results / "figures" / "summary.json").read_text())["estimate"]
    assert est["partial"] and est["random_sample"]
