"""scripts/bench_scale.py end to end on one small scene and a one-worker local cluster."""

from __future__ import annotations

from conftest import load_script


def test_bench_scale_runs_and_outputs_match(tmp_path, capsys):
    bench = load_script("bench_scale")
    assert bench.main(["--scenes", "1", "--size", "400", "--workers", "1",
                       "--out", str(tmp_path)]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "1 scenes," in out and "(baseline)" in out
    assert " 1 worker(s):" in out and "outputs identical: yes" in out
