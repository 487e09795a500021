"""examples/search-lr.yaml plans: the widened lr grid and the Optuna family, both with ASHA."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_lr_search_example_plans_with_its_rungs_and_costs():
    proc = subprocess.run([sys.executable, "-m", "sweep", "plan", "--json", "-c",
                           "examples/search-lr.yaml"], cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    # gan_lr: 2^4 architectures x dropout x optimD x optimG x 9 learning rates; ebgan_lr: 128
    assert info["families"] == {"gan_lr": 2 ** 7 * 9, "ebgan_lr": 128}
    assert info["axes"]["gan_lr"]["lr"] == [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1]
    assert info["axes"]["ebgan_lr"]["lr"] == {"loguniform": [1e-5, 0.1]}
    for family, n in info["families"].items():
        s = info["schedulers"][family]
        assert (s["type"], s["metric"], s["grace"], s["reduction"]) == ("asha", "score", 1000, 3)
        # 1000 x 3^k below 18,740: 1,000, 3,000, 9,000 (27,000 is past the budget)
        assert s["rungs"] == [[1000, 3000, 9000]] and s["budget"] == 18740
        assert s["most_iterations"] == n * 18740          # nothing stopped: the full grid
        assert s["least_iterations"] < s["most_iterations"] / 10
