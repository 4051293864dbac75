"""Detect scenes on a Dask cluster: a local cluster of worker processes, a running scheduler
(``tcp://HOST:PORT``) or workers started through SLURM (``slurm``, the ``[hpc]`` extra).

One task per scene; a scene larger than ``DetectConfig.band_mpx`` runs its row bands
(:mod:`detector.detect.bands`) as tasks of their own, on any worker, which the scene's task
gathers and merges before finishing the scene. A task gets the scene's *path* (datasets never cross processes), runs
:func:`detector.detect.pipeline.detect_scene` in the worker process and returns its
:class:`~detector.detect.pipeline.SceneOutcome`; the worker writes the scene's files
atomically, and only the client records outcomes (the run catalog has one writer). The model
is loaded once per worker process, by :class:`DetectorPlugin`, with the torch threads of
that worker set so that the workers of one machine share its cores instead of each taking
all of them.

Faults:

- a bad scene is an outcome with its one-line error, not an exception: no retry;
- a worker that dies mid-scene (killed, out of memory) has its scene rescheduled on another
  worker by the scheduler; a scene during which ``max_deaths`` workers died is failed
  (Dask's ``distributed.scheduler.allowed-failures``, set for clusters started here);
- a scene still running ``scene_timeout_s`` after it started is failed, and the process of
  the worker running it is ended (a thread cannot be stopped; a process can), which its
  nanny replaces.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from ..errors import ConfigError

__all__ = [
    "ClusterConfig",
    "DetectorPlugin",
    "PLUGIN_NAME",
    "open_client",
    "cluster_detect",
    "detect_on_cluster",
]

PLUGIN_NAME = "ccount-detector"
_POLL_S = 0.5


@dataclass(frozen=True)
class ClusterConfig:
    """Where scenes run: ``workers`` local worker processes, or ``address`` (a scheduler's
    ``tcp://HOST:PORT``, or ``"slurm"``). ``max_deaths``: worker deaths during one scene
    before it is failed. ``scene_timeout_s``: None = no limit."""

    workers: int | None = None
    address: str | None = None
    max_deaths: int = 3
    scene_timeout_s: float | None = None

    def check(self) -> None:
        if (self.workers is None) == (self.address is None):
            raise ConfigError("give either --workers N or --cluster ADDRESS|slurm")
        if self.workers is not None and self.workers < 1:
            raise ConfigError(f"--workers {self.workers} must be >= 1")
        if self.address is not None and self.address != "slurm" and "://" not in self.address:
            raise ConfigError(
                f"--cluster {self.address!r}: expected a scheduler address like "
                "tcp://host:8786, or slurm"
            )
        if self.max_deaths < 1:
            raise ConfigError(f"--max-deaths {self.max_deaths} must be >= 1")
        if self.scene_timeout_s is not None and self.scene_timeout_s <= 0:
            raise ConfigError(f"--scene-timeout {self.scene_timeout_s:g} must be > 0 seconds")


def worker_config(config: Any, cluster: ClusterConfig) -> Any:
    """The detect settings each worker uses: on a local cluster the cores are split between
    the workers (torch threads = cores // workers unless ``--threads`` says otherwise, and
    on CUDA the tile-reading threads too: half a worker's share, as one process takes half
    the cores, unless ``--read-threads`` says otherwise)."""
    from ..model.runtime import cpu_cores
    from ..model.weights import resolve_device

    if cluster.workers is not None:
        share = max(1, cpu_cores() // cluster.workers)
        if config.num_threads is None:
            config = replace(config, num_threads=share)
        if config.read_threads is None and resolve_device(config.device).type == "cuda":
            config = replace(config, read_threads=max(1, share // 2))
    return replace(config, serial=True)  # one scene per task: nothing to overlap with


class DetectorPlugin(WorkerPlugin):
    """Holds one loaded model per worker process (a Dask worker plugin: ``setup`` runs on
    every worker, also on one that replaces a dead worker). The model loads at the first
    scene, so a worker that never gets one never pays for it."""

    name = PLUGIN_NAME

    def __init__(self, config: Any) -> None:
        self.config = config
        self._detector = None

    def setup(self, worker: Any) -> None:
        self._detector = None

    def detector(self) -> Any:
        if self._detector is None:
            from ..detect.pipeline import load_detector

            self._detector = load_detector(self.config)
        return self._detector


def _detect_on_worker(path: str, out_dir: str) -> Any:
    """The task: one scene on the worker that runs it, with that worker's model."""
    from distributed import get_worker

    from ..detect.pipeline import detect_scene
    from ..model.runtime import trim_freed_memory

    plugin = get_worker().plugins[PLUGIN_NAME]
    outcome = detect_scene(
        plugin.detector(), path, out_dir, plugin.config, map_bands=_bands_on_cluster
    )
    trim_freed_memory()
    return outcome


def _band_on_worker(job: Any) -> Any:
    """The task of one row band of a large scene (:func:`detector.detect.bands.infer_band`)
    on the worker that runs it, with that worker's model."""
    from distributed import get_worker

    from ..detect.bands import infer_band

    plugin = get_worker().plugins[PLUGIN_NAME]
    return infer_band(plugin.detector(), job, plugin.config)


def _bands_on_cluster(jobs: Sequence[Any], config: Any) -> list[Any]:
    """Run in a scene's task: its row bands as tasks of their own, on any worker (the scene's
    task leaves its worker's thread while it waits, so that worker runs bands too); their
    results in band order. A band whose worker dies is rescheduled like a scene."""
    from distributed import worker_client

    with worker_client() as client:
        futures = [
            client.submit(_band_on_worker, job, key=f"{_task_key()}-band{job.index}",
                          pure=False, retries=0)
            for job in jobs
        ]  # fmt: skip
        return client.gather(futures)


def _task_key() -> str:
    from distributed import get_worker

    try:
        from distributed.worker import thread_state

        return str(thread_state.key)
    except (ImportError, AttributeError):
        return f"ccount-bands-{uuid.uuid4().hex[:12]}-{get_worker().name}"


def _executing(dask_worker: Any) -> list[str]:
    """Run on a worker: the keys of the tasks it is executing."""
    return [ts.key for ts in dask_worker.state.executing]


async def _exit_worker() -> None:
    """Run on a worker's event loop: end its process now (a coroutine, so the client need
    not wait for an answer that never comes)."""
    os._exit(1)


def _dashboard_wanted() -> bool:
    try:
        import bokeh  # noqa: F401
    except ImportError:
        return False
    return True


@contextlib.contextmanager
def open_client(cluster: ClusterConfig) -> Iterator[Any]:
    """A :class:`distributed.Client` for ``cluster``; clusters started here stop on exit."""
    import dask
    from distributed import Client, LocalCluster

    cluster.check()
    verbose = logging.getLogger().getEffectiveLevel() <= logging.INFO  # -v: Dask's own lines
    if not verbose:
        logging.getLogger("distributed").setLevel(logging.ERROR)
    cfg = {
        # a task is failed after max_deaths deaths of the workers running it
        "distributed.scheduler.allowed-failures": cluster.max_deaths - 1,
        # a worker holds only the scene it runs: a death is charged to that scene alone,
        # a timeout counts from the scene's start, and big scenes balance across workers
        "distributed.scheduler.worker-saturation": 1.0,
    }
    with dask.config.set(cfg), contextlib.ExitStack() as stack:
        if cluster.workers is not None:
            local = stack.enter_context(
                LocalCluster(
                    n_workers=cluster.workers, threads_per_worker=1, processes=True,
                    dashboard_address=":0" if _dashboard_wanted() else None,
                    # a worker's errors reach us through its futures and the scheduler;
                    # what it logs itself is a heartbeat traceback when it outlives the
                    # scheduler by a moment at shutdown (dask/distributed#7192): kept for -v
                    silence_logs=logging.INFO if verbose else logging.CRITICAL,
                )
            )  # fmt: skip
            client = stack.enter_context(Client(local))
            stack.callback(_retire_all, local, client)
        elif cluster.address == "slurm":
            try:
                from dask_jobqueue import SLURMCluster
            except ImportError:
                raise ConfigError(
                    "--cluster slurm needs dask-jobqueue: pip install 'ccount[hpc]'"
                ) from None
            slurm = stack.enter_context(SLURMCluster())  # queue, cores, memory: jobqueue.yaml
            slurm.scale(jobs=1)
            client = stack.enter_context(Client(slurm))
        else:
            try:
                client = stack.enter_context(Client(cluster.address, timeout=5))
            except OSError as e:
                raise ConfigError(
                    f"--cluster {cluster.address}: no scheduler there ({e})"
                ) from None
        yield client


def _retire_all(local: Any, client: Any, timeout_s: float = 10.0) -> None:
    """Stop our local workers while the scheduler still listens: closing the scheduler
    first makes each worker log a heartbeat traceback as it goes (dask/distributed#7192)."""
    try:
        local.scale(0)
        deadline = time.monotonic() + timeout_s
        while client.scheduler_info().get("workers") and time.monotonic() < deadline:
            time.sleep(0.05)
    except Exception:  # the cluster's own close still runs; this only quietens it
        pass


def _failed(path: Path, error: str) -> Any:
    from ..detect.pipeline import SceneOutcome

    return SceneOutcome(scene_id=path.stem, path=path, ok=False, error=error)


def _outcome(future: Any, path: Path, cluster: ClusterConfig) -> Any:
    from distributed import KilledWorker

    try:
        return future.result()
    except KilledWorker:
        return _failed(path, f"{path}: {cluster.max_deaths} worker(s) died while processing "
                             "this scene (out of memory or a crash); marked failed")  # fmt: skip
    except Exception as e:  # anything else the task raised: one line, the batch goes on
        return _failed(path, f"{path}: {type(e).__name__}: {' '.join(str(e).split())}")


def cluster_detect(
    client: Any,
    paths: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    config: Any,
    cluster: ClusterConfig,
) -> Iterator[Any]:
    """Detect ``paths`` on ``client``'s workers, yielding each scene's outcome as it
    finishes (not in input order). ``config`` is the :class:`DetectConfig` of the run."""
    from distributed import wait

    config.check()
    client.register_plugin(DetectorPlugin(worker_config(config, cluster)), name=PLUGIN_NAME)
    out = str(Path(out_dir))
    batch = uuid.uuid4().hex[:12]  # keys unique per call: a key the scheduler still holds
    futures = {  # from an earlier call would hand back that call's result
        client.submit(_detect_on_worker, str(p), out, key=f"ccount-{Path(p).stem}-{batch}",
                      pure=False, retries=0): Path(p)
        for p in paths
    }  # fmt: skip
    pending = set(futures)
    started: dict[str, float] = {}
    try:
        while pending:
            try:
                done, _ = wait(list(pending), timeout=_POLL_S, return_when="FIRST_COMPLETED")
            except TimeoutError:  # nothing finished within the poll interval
                done = set()
            for f in done:
                pending.discard(f)
                outcome = _outcome(f, futures.pop(f), cluster)
                # forget the result at once: a result still wanted when its worker dies
                # later is computed again
                f.release()
                yield outcome
            if cluster.scene_timeout_s is not None and pending:
                yield from _expire(client, pending, futures, started, cluster)
    finally:  # the caller stopped early (an error, Ctrl-C): leave no scene running
        if pending:
            client.cancel(list(pending))


def _expire(client: Any, pending: set, futures: dict, started: dict, cluster: ClusterConfig):
    """Fail the scenes running longer than the timeout and restart the workers running
    them; ``started`` holds when each task was first seen processing."""
    now = time.monotonic()
    try:  # what each worker is running now ("processing" also counts tasks queued there)
        running = {k: w for w, keys in client.run(_executing).items() for k in keys}
    except Exception:  # a worker went away during the call: look again at the next poll
        return
    for f in list(pending):
        w = running.get(f.key)
        if w is None:
            continue
        t0 = started.setdefault(f.key, now)
        if now - t0 > cluster.scene_timeout_s:
            pending.discard(f)
            f.cancel()
            # end the worker's process at once (its nanny starts a fresh one): a graceful
            # restart would wait for the stuck task
            with contextlib.suppress(Exception):  # the worker may be gone already
                client.run(_exit_worker, workers=[w], wait=False)
            path = futures.pop(f)
            yield _failed(path, f"{path}: still running after {cluster.scene_timeout_s:g} s "
                                "(--scene-timeout); its worker was restarted")  # fmt: skip


def detect_on_cluster(
    paths: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    config: Any,
    cluster: ClusterConfig,
    *,
    progress: bool = True,
) -> list[Any]:
    """``ccount detect --workers N | --cluster ADDRESS``: like
    :func:`detector.detect.pipeline.detect_scenes`, outcomes in input order."""
    from tqdm import tqdm

    from ..detect.finish import check_output_names

    config.check()
    cluster.check()
    paths = [Path(p) for p in paths]
    check_output_names(paths)
    by_id = {}
    with open_client(cluster) as client:
        if progress and client.dashboard_link:
            print(f"dask dashboard: {client.dashboard_link}")
        outcomes = cluster_detect(client, paths, out_dir, config, cluster)
        for o in tqdm(
            outcomes,
            total=len(paths),
            desc="scenes",
            unit="scene",
            disable=None if progress else True,
        ):
            by_id[o.scene_id] = o
    return [by_id[p.stem] for p in paths]
