"""benchmarks/estimate.py end to end on a tiny pair: the estimate and the real time are both recorded."""
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import estimate  # noqa: E402


@pytest.mark.slow
def test_quick_run_records_estimate_real_time_and_their_ratio(tmp_path):
    rows = estimate.main(["--quick", "--out", str(tmp_path), "--weights", "random"])
    saved = json.loads(next(tmp_path.glob("estimate-*-quick.json")).read_text())
    assert saved["results"] == rows and len(rows) == 1
    r = rows[0]
    assert (r["size"], r["steps"], r["hw"]) == (64, [2, 1], [43, 64])  # coffee is 400×600
    assert r["estimate_s"] > 0 and r["real_s"] > 0 and r["ratio"] == pytest.approx(r["real_s"] / r["estimate_s"])
    table = estimate.markdown(rows, {**saved["meta"]})
    assert "| 64×43 | 32 × 2 → 64 × 1 |" in table and "**real / estimate**" in table
