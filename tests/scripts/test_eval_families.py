"""scripts/eval_families.py: the shipped model scored on a few patches of each family."""

from __future__ import annotations

import re

from conftest import load_script


def test_eval_families_prints_one_line_per_family(capsys):
    script = load_script("eval_families")
    assert script.main(["--families", "classic", "photo", "--seeds", "500", "503"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [ln.split(":")[0] for ln in lines] == ["classic", "photo"]
    for ln in lines:
        f1 = float(re.search(r"F1 ([0-9.]+)", ln).group(1))
        n = int(re.search(r"(\d+) true containers", ln).group(1))
        assert 0.3 < f1 <= 1.0 and n > 50 and "3 patches" in ln
