"""``ccount run|detect --workers N``: the same work on a real Dask ``LocalCluster`` of worker
processes, with identical outputs; faults (a worker killed with SIGKILL mid-scene, a scene
that kills every worker it runs on, a corrupt scene, a scene that hangs) cost only that
scene.

The fault tests install a test plugin in the workers that wraps the per-scene function for
one scene; the plugin is pickled by value, so the workers need no access to this file.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cloudpickle
import pytest
import test_run
from distributed.diagnostics.plugin import WorkerPlugin
from test_run import SCENES, _args, _outputs

from detector.cli.main import main
from detector.detect.pipeline import DetectConfig, detect_scenes
from detector.run.cluster import ClusterConfig, cluster_detect, open_client

cloudpickle.register_pickle_by_value(sys.modules[__name__])
world = test_run.world  # the module-scoped fixture: a tiny model, six scenes, two voyages
CCOUNT = Path(sys.executable).with_name("ccount")


class Sabotage(WorkerPlugin):
    """In each worker, wraps ``detect_scene`` so that the scene ``target`` misbehaves:
    ``"hang"`` writes the worker's pid to ``flag`` (first attempt only) and sleeps;
    ``"die"`` ends the worker process at once, every attempt, counting attempts in ``flag``."""

    def __init__(self, target: str, mode: str, flag: str) -> None:
        self.target, self.mode, self.flag = target, mode, flag

    def setup(self, worker) -> None:
        import detector.detect.pipeline as pipeline

        real = getattr(pipeline.detect_scene, "__wrapped__", pipeline.detect_scene)
        target, mode, flag = self.target, self.mode, Path(self.flag)

        def detect_scene(detector, path, out_dir, config, **kw):
            if Path(path).stem == target:
                if mode == "die":
                    with flag.open("a") as fh:
                        fh.write("x")
                    os._exit(1)
                if mode == "hang" and not flag.exists():
                    flag.write_text(str(os.getpid()))
                    time.sleep(120)
            return real(detector, path, out_dir, config, **kw)

        detect_scene.__wrapped__ = real
        pipeline.detect_scene = detect_scene

    def teardown(self, worker) -> None:
        import detector.detect.pipeline as pipeline

        pipeline.detect_scene = getattr(pipeline.detect_scene, "__wrapped__", pipeline.detect_scene)


@contextlib.contextmanager
def sabotage(client, plugin: Sabotage):
    """``plugin`` in every worker for the block; both workers up first (a worker killed by
    an earlier test may still be restarting, and would miss the plugin)."""
    client.wait_for_workers(2, timeout=60)
    client.register_plugin(plugin, name="sabotage")
    try:
        yield
    finally:
        for _ in range(20):  # a worker the test killed may still be going away
            try:
                client.unregister_worker_plugin("sabotage")
                break
            except OSError:  # removed from the scheduler, not from a dying worker
                time.sleep(0.5)
            except ValueError:  # gone from the scheduler: an earlier attempt did it
                break


def _config(world) -> DetectConfig:
    return DetectConfig(model_path=world / "tiny.pt", device="cpu", num_threads=1)


def _scenes(world) -> list[Path]:
    return sorted((world / "scenes").rglob("*.tif"))


def _files(out: Path) -> dict[str, object]:
    """Per-scene outputs that must match: GeoJSON bytes, counts without timings."""
    res: dict[str, object] = {}
    for p in sorted(out.glob("*.detections.geojson")):
        res[p.name] = p.read_bytes()
    for p in sorted(out.glob("*.counts.json")):
        c = json.loads(p.read_text())
        c.pop("timing_s")
        res[p.name] = c
    return res


@pytest.fixture(scope="module")
def reference(world, tmp_path_factory):
    """The in-process outputs of every scene: what each cluster run must equal."""
    out = tmp_path_factory.mktemp("inproc")
    outcomes = detect_scenes(_scenes(world), out, _config(world), progress=False)
    assert all(o.ok for o in outcomes)
    return _files(out)


@pytest.fixture(scope="module")
def client():
    """Two worker processes; a scene fails after 2 worker deaths."""
    with open_client(ClusterConfig(workers=2, max_deaths=2)) as c:
        yield c


def test_run_on_two_workers_equals_the_in_process_run(world, tmp_path, capsys):
    one, two = tmp_path / "one", tmp_path / "two"
    assert main(["run", *_args(world, one)]) == 0
    assert main(["run", *_args(world, two), "--workers", "2"]) == 0
    assert "scenes: 6 processed, 0 skipped (already done), 0 failed" in capsys.readouterr().out
    assert _outputs(two) == _outputs(one)  # shipments.csv, totals.json, counts
    geo = sorted((one / "detections").glob("*.geojson"))
    assert len(geo) == len(SCENES)
    for p in geo:
        assert (two / "detections" / p.name).read_bytes() == p.read_bytes(), p.name
    assert json.loads((two / "run.json").read_text())["device"] == "cpu"
    # rerun on the cluster: nothing left to do
    assert main(["run", *_args(world, two), "--workers", "2"]) == 0
    assert "0 processed, 6 skipped" in capsys.readouterr().out


def test_client_killed_mid_run_then_rerun_redoes_only_unfinished_scenes(world, tmp_path):
    """SIGKILL the client of a 2-worker run when the first scene is recorded; the rerun
    (on a cluster again) redoes only what the catalog does not hold as done, and the
    outputs equal an uninterrupted run's; no worker process outlives its client."""
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    args = [str(CCOUNT), "run", *_args(world, killed), "--workers", "2"]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    try:
        while not _done_rows(killed):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no scene was recorded"
            time.sleep(0.05)
        workers = _descendants(proc.pid)  # nannies and worker processes
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert len(workers) >= 2, workers
    done_at_kill = _done_rows(killed)
    assert 0 < len(done_at_kill) < len(SCENES), "the run finished before it was killed"
    res = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    n = len(done_at_kill)
    assert f"{len(SCENES) - n} processed, {n} skipped" in res.stdout
    assert main(["run", *_args(world, clean)]) == 0
    assert _outputs(killed) == _outputs(clean)
    for _ in range(150):  # the killed client's workers end when they lose it
        if not [p for p in workers if Path(f"/proc/{p}").exists()]:
            break
        time.sleep(0.2)
    assert not [p for p in workers if Path(f"/proc/{p}").exists()], "worker processes outlived"


def _done_rows(out: Path) -> list[str]:
    import sqlite3

    if not (out / "ccount.sqlite").exists():
        return []
    try:
        db = sqlite3.connect(out / "ccount.sqlite")
        return [r[0] for r in db.execute("SELECT id FROM scenes WHERE status = 'done'")]
    except sqlite3.OperationalError:  # being created
        return []


def _descendants(pid: int) -> list[int]:
    """Live processes below ``pid`` (children, grandchildren, ...), from /proc."""
    parent = {}
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                parent[int(p.name)] = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError):
                continue
    found, todo = [], [pid]
    while todo:
        here = todo.pop()
        kids = [c for c, pp in parent.items() if pp == here]
        found += kids
        todo += kids
    return found


def test_detect_subprocess_on_two_workers(world, reference, tmp_path):
    out = tmp_path / "det"
    proc = subprocess.run(
        [str(CCOUNT), "detect", *map(str, _scenes(world)), "--out", str(out), "--model",
         str(world / "tiny.pt"), "--device", "cpu", "--threads", "1", "--workers", "2",
         "--no-progress"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert f"{len(SCENES)} of {len(SCENES)} scenes done" in proc.stdout
    assert "Traceback" not in proc.stderr and "INFO" not in proc.stderr
    assert _files(out) == reference


def test_worker_killed_mid_scene_loses_nothing(world, reference, client, tmp_path):
    flag = tmp_path / "pid"
    target = SCENES[2]
    killed = []

    def kill_when_hanging():
        for _ in range(600):
            if flag.exists() and flag.read_text():
                pid = int(flag.read_text())
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            time.sleep(0.1)

    t = threading.Thread(target=kill_when_hanging)
    out = tmp_path / "out"
    with sabotage(client, Sabotage(target, "hang", str(flag))):
        t.start()
        try:
            outcomes = list(cluster_detect(client, _scenes(world), out, _config(world),
                                           ClusterConfig(workers=2, max_deaths=2)))  # fmt: skip
        finally:
            t.join()
    assert killed, "the scene never started"
    assert sorted(o.scene_id for o in outcomes) == sorted(SCENES)
    assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]
    assert _files(out) == reference


def test_a_poison_scene_fails_after_max_deaths_and_the_rest_finish(
    world, reference, client, tmp_path
):
    flag = tmp_path / "attempts"
    target = SCENES[1]
    out = tmp_path / "out"
    with sabotage(client, Sabotage(target, "die", str(flag))):
        outcomes = list(cluster_detect(client, _scenes(world), out, _config(world),
                                       ClusterConfig(workers=2, max_deaths=2)))  # fmt: skip
    bad = [o for o in outcomes if not o.ok]
    assert [o.scene_id for o in bad] == [target]
    assert "2 worker(s) died while processing this scene" in bad[0].error
    assert f"{target}.tif" in bad[0].error and "\n" not in bad[0].error
    assert flag.read_text() == "xx"  # two attempts, each killed its worker
    assert _files(out) == {k: v for k, v in reference.items() if not k.startswith(target)}


def test_a_corrupt_scene_fails_once_with_its_one_line_error(world, client, tmp_path):
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    good = _scenes(world)[0]
    shutil.copy(good, scenes / good.name)
    (scenes / "rajin_20230902T0200Z.tif").write_bytes(b"II*\x00 not really a tiff")
    cfg = _config(world)
    client.wait_for_workers(2, timeout=60)
    outcomes = list(cluster_detect(client, sorted(scenes.glob("*.tif")), tmp_path / "out", cfg,
                                   ClusterConfig(workers=2)))  # fmt: skip
    local = detect_scenes([scenes / "rajin_20230902T0200Z.tif"], tmp_path / "o2", cfg,
                          progress=False)  # fmt: skip
    by_id = {o.scene_id: o for o in outcomes}
    assert by_id[good.stem].ok
    assert not by_id["rajin_20230902T0200Z"].ok
    assert by_id["rajin_20230902T0200Z"].error == local[0].error  # the same one line
    assert "rajin_20230902T0200Z.tif" in local[0].error


def test_a_hanging_scene_times_out_and_its_worker_restarts(world, reference, client, tmp_path):
    flag = tmp_path / "pid"
    target = SCENES[0]
    out = tmp_path / "out"
    with sabotage(client, Sabotage(target, "hang", str(flag))):
        t0 = time.monotonic()
        outcomes = list(cluster_detect(client, _scenes(world), out, _config(world),
                                       ClusterConfig(workers=2, scene_timeout_s=4)))  # fmt: skip
        took = time.monotonic() - t0
    bad = [o for o in outcomes if not o.ok]
    assert [o.scene_id for o in bad] == [target]
    assert "still running after 4 s" in bad[0].error
    assert took < 60
    assert _files(out) == {k: v for k, v in reference.items() if not k.startswith(target)}
    with pytest.raises(ProcessLookupError):  # the hanging worker process is gone
        for _ in range(100):
            os.kill(int(flag.read_text()), 0)
            time.sleep(0.1)


def test_bad_cluster_flags_are_one_line_errors(world, tmp_path, capsys):
    for extra, msg in (
        (["--workers", "0"], "--workers 0 must be >= 1"),
        (["--cluster", "localhost"], "expected a scheduler address"),
        (["--scene-timeout", "5"], "--scene-timeout needs --workers N"),
        (["--cluster", "tcp://127.0.0.1:9"], "no scheduler there"),
    ):
        assert main(["run", *_args(world, tmp_path / "o"), *extra]) == 2, extra
        err = capsys.readouterr().err.strip()
        assert msg in err and len(err.splitlines()) == 1, err


@pytest.mark.parametrize(
    ("device", "workers", "threads", "reads"),
    [("cpu", 4, 4, None), ("cuda", 4, 4, 2), ("cuda", 16, 1, 1), ("auto", 2, 8, 4)],
)
def test_local_workers_share_the_cores_for_the_model_and_on_a_gpu_for_reading(
    monkeypatch, device, workers, threads, reads
):
    import torch

    from detector.model import runtime
    from detector.run.cluster import worker_config

    monkeypatch.setattr(runtime, "cpu_cores", lambda: 16)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # "auto" finds a GPU
    cfg = worker_config(DetectConfig(device=device), ClusterConfig(workers=workers))
    assert (cfg.num_threads, cfg.read_threads, cfg.serial) == (threads, reads, True)
    # what the user asked for stands; a remote cluster (no worker count) is left alone
    asked = DetectConfig(device="cuda", num_threads=3, read_threads=5)
    assert (worker_config(asked, ClusterConfig(workers=4)).read_threads) == 5
    remote = worker_config(DetectConfig(device="cuda"), ClusterConfig(address="tcp://h:8786"))
    assert (remote.num_threads, remote.read_threads) == (None, None)
    # "auto" on a machine without a GPU reads as on a CPU: one thread (the default)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cpu = worker_config(DetectConfig(device="auto"), ClusterConfig(workers=2))
    assert (cpu.num_threads, cpu.read_threads) == (8, None)
