"""benchmarks/batching.py end to end on a tiny pair: N separate runs against one batch."""
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import batching  # noqa: E402


@pytest.mark.slow
def test_quick_run_measures_both_sides_and_they_agree(tmp_path):
    rows = batching.main(["--quick", "--out", str(tmp_path), "--weights", "random"])
    saved = json.loads(next(tmp_path.glob("batching-*-quick.json")).read_text())
    assert saved["results"] == rows and len(rows) == 1
    r = rows[0]
    assert (r["size"], r["n"], r["steps"]) == (64, 2, 2)
    assert r["speedup"] == pytest.approx(r["separate_s"] / r["batched_s"])
    assert r["batched_s_per_picture"] == pytest.approx(r["batched_s"] / 2)
    # the batch optimises each item's own loss: its final losses are the separate runs' up to rounding
    assert r["max_relative_loss_gap"] < 1e-3
    table = batching.markdown(rows, {**saved["meta"]})
    assert f"×{r['speedup']:.2f}" in table and "| 64² | 2 |" in table


def test_readme_block_is_replaced_not_appended(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("intro\n")
    batching.update_readme(readme, "first")
    batching.update_readme(readme, "second")
    text = readme.read_text()
    assert text.count(batching.BEGIN) == 1 and "second" in text and "first" not in text and text.startswith("intro")


def test_batch_size_is_checked():
    with pytest.raises(SystemExit):
        batching.parse_args(["--n", "0"])
