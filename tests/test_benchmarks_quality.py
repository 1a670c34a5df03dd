"""benchmarks/quality.py end to end on a tiny pair (its measures are tested in test_measures.py)."""
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import quality  # noqa: E402

from nsthelpers.measures import Judgement  # noqa: E402


def test_first_as_good_needs_both_measures():
    rows = [{"seconds": 1, "style": 0.5, "ssim": 0.9}, {"seconds": 2, "style": 0.2, "ssim": 0.4},
            {"seconds": 3, "style": 0.2, "ssim": 0.6}]
    assert quality.first_as_good(rows, Judgement(0.3, 0.5))["seconds"] == 3
    assert quality.first_as_good(rows, Judgement(0.1, 0.5)) is None


@pytest.mark.slow
def test_quick_run_writes_results_plot_and_ratios(tmp_path):
    results = quality.main(["--quick", "--out", str(tmp_path), "--variants", "Adam + iterate averaging"])
    data = json.loads(next(tmp_path.glob("quality-*-quick.json")).read_text())
    assert next(tmp_path.glob("quality-*-quick.png")).stat().st_size > 1000
    res = data["results"][0]
    assert res["pair"] == "astronaut:swirls" and res["size"] == [64, 64]
    contenders = res["contenders"]
    assert set(contenders) == {"pastiche 6 steps", "reference loop 6 steps", "stylize defaults", "Adam + iterate averaging"}
    pastiche = contenders["pastiche 6 steps"]
    assert pastiche["speedup_to_pastiche_quality"] == pytest.approx(1.0)  # it reaches its own final picture
    for c in contenders.values():
        assert c["trace"] and all(r["seconds"] > 0 and 0 < r["style"] and -1 <= r["ssim"] <= 1 for r in c["trace"])
    assert results[0]["target"] == pastiche["final"]


def test_every_variant_can_be_named_on_the_command_line():
    """--variants is comma-separated: every variant name (and all of them at once) parses back."""
    names = list(quality.VARIANTS)
    assert quality.parse_args(["--variants", ",".join(names)]).variants == names
    with pytest.raises(SystemExit):
        quality.parse_args(["--variants", "no such variant"])
