"""The same work on a real Dask cluster (distributed.LocalCluster, 2 worker processes) as locally."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

from gmmspeech.core.gmm import DiagGMM, accumulate_chunks, accumulate_stats  # noqa: E402
from gmmspeech.data.featstore import FeatureCache, compute_features  # noqa: E402
from gmmspeech.data.manifest import read_manifest  # noqa: E402
from gmmspeech.frontend.features import FeatureConfig  # noqa: E402
from gmmspeech.infra.parallel import ClusterError, get_client, parallel_map  # noqa: E402
from gmmspeech.model.cluster import ClusterAccumulator  # noqa: E402


def _cluster(**kw):
    return distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                    **kw)


@pytest.fixture(scope="module")
def scheduler():
    with _cluster() as cl:
        yield cl.scheduler_address


def _rel(a, b):
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a), 1e-300)))


@pytest.fixture
def chunk_files(tmp_path):
    rng = np.random.default_rng(5)
    centres = rng.normal(0, 4, (4, 6))
    paths = []
    for i in range(9):
        lab = rng.integers(0, 4, 20_000 + 9_000 * i)   # 20k-92k frames: several E-step batches and tasks
        x = (centres[lab] + rng.standard_normal((len(lab), 6))).astype(np.float32)
        paths.append(str(tmp_path / f"chunk{i}.npy"))
        np.save(paths[-1], x)
    return paths


def test_parallel_map_on_the_cluster_keeps_order(scheduler):
    assert list(parallel_map(abs, [-3, 1, -2, 5, -8], scheduler=scheduler)) == [3, 1, 2, 5, 8]


def test_accumulate_chunks_equals_the_sum_over_blocks(chunk_files):
    arrays = [np.load(p) for p in chunk_files]
    w, mu, var = np.full(3, 1 / 3), arrays[0][:3].astype(np.float64), np.ones((3, 6))
    total = accumulate_chunks(chunk_files, w, mu, var)
    direct = accumulate_stats(np.concatenate(arrays), w, mu, var)
    np.testing.assert_allclose(total.n, direct.n, rtol=1e-5)
    np.testing.assert_allclose(total.s, direct.s, rtol=1e-4, atol=1e-3)
    assert total.n_frames == direct.n_frames


def test_cluster_em_matches_local_em(scheduler, chunk_files):
    from gmmspeech.core.gmm import batch_plan

    assert len(batch_plan([len(np.load(p, mmap_mode="r")) for p in chunk_files])) >= 5
    local = DiagGMM(8, max_iter=25, random_state=3).fit(chunk_files)
    remote = DiagGMM(8, max_iter=25, random_state=3, accumulator=ClusterAccumulator(scheduler)).fit(chunk_files)
    assert remote.n_iter_ == local.n_iter_
    for name in ("weights_", "means_", "variances_"):
        assert _rel(getattr(local, name), getattr(remote, name)) < 1e-6, name
    # arrays memory-mapped from whole .npy files travel as their paths; in-memory arrays are refused
    mapped = [np.load(p, mmap_mode="r") for p in chunk_files]
    again = DiagGMM(8, max_iter=25, random_state=3, accumulator=ClusterAccumulator(scheduler)).fit(mapped)
    assert _rel(local.means_, again.means_) < 1e-6
    with pytest.raises(ValueError, match="not in-memory arrays"):
        DiagGMM(8, max_iter=2, accumulator=ClusterAccumulator(scheduler)).fit([np.load(p) for p in chunk_files])


class _KillOnce(distributed.WorkerPlugin):
    """Kills the worker process the first time it starts an E-step task (a marker file makes it once only)."""

    def __init__(self, marker: str, always: bool = False):
        self.marker = marker
        self.always = always

    def setup(self, worker):
        self.worker = worker

    def transition(self, key, start, finish, **kwargs):
        name = key[0] if isinstance(key, tuple) else str(key)
        if finish == "executing" and "_accumulate_task" in name and (self.always or not os.path.exists(self.marker)):
            Path(self.marker).touch()
            os._exit(1)


def test_a_worker_killed_during_an_e_step_is_survived(chunk_files, tmp_path):
    local = DiagGMM(8, max_iter=10, tol=0, random_state=1).fit(chunk_files)
    marker = tmp_path / "killed"
    with _cluster() as cl:
        client = get_client(cl.scheduler_address)
        client.register_plugin(_KillOnce(str(marker)), name="kill-once")
        remote = DiagGMM(8, max_iter=10, tol=0, random_state=1,
                         accumulator=ClusterAccumulator(cl.scheduler_address)).fit(chunk_files)
        client.close()
    assert marker.exists()   # a worker really died mid-task
    assert _rel(local.means_, remote.means_) < 1e-6


def test_a_task_that_keeps_killing_workers_fails_with_a_clear_message(chunk_files, tmp_path):
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), _cluster() as cl:
        client = get_client(cl.scheduler_address)
        client.register_plugin(_KillOnce(str(tmp_path / "k"), always=True), name="kill-always")
        with pytest.raises(ClusterError, match="Dask cluster at .* failed while running an EM E-step"):
            DiagGMM(4, max_iter=3, accumulator=ClusterAccumulator(cl.scheduler_address)).fit(chunk_files)
        client.close()


def test_unreachable_scheduler_and_missing_dask_give_clear_errors(monkeypatch):
    with pytest.raises(ClusterError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        get_client("tcp://127.0.0.1:9", timeout=1)
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ClusterError, match=r"pip install 'gmmspeech\[dask\]'"):
        get_client("tcp://127.0.0.1:9", timeout=1)


@pytest.mark.parametrize("address, reason", [
    ("not-an-address", "missing port number"),
    ("tcp://host-without-port", "missing port number"),
    ("tcp://10.0.0.5:http", "the port is not a number"),
    ("tcp://:8786", "the host is missing"),
    ("tcp://10.0.0.5:99999", "port 99999 is out of range"),
    ("smtp://10.0.0.5:25", "unknown address scheme 'smtp'"),
    ("", "empty Dask scheduler address"),
])
def test_malformed_scheduler_addresses_are_refused_before_connecting(address, reason, monkeypatch):
    monkeypatch.setattr(distributed, "Client", None)  # never reached
    with pytest.raises(ClusterError, match=reason):
        get_client(address)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_closed_port_or_a_server_that_is_not_dask_fails_at_once():
    with pytest.raises(ClusterError, match=r"cannot reach the Dask scheduler at tcp://127.0.0.1:\d+ \(Connection "
                                           r"refused\)"):
        get_client(f"tcp://127.0.0.1:{_free_port()}")  # the default 20 s timeout is not waited for
    import socket

    with socket.socket() as silent:  # accepts connections, never speaks (like an HTTP server)
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        with pytest.raises(ClusterError, match="no Dask handshake within 1 s"):
            get_client(f"tcp://127.0.0.1:{silent.getsockname()[1]}", timeout=1)


def test_a_failed_connection_leaves_nothing_to_hang_or_print_at_exit():
    import subprocess
    import textwrap

    code = textwrap.dedent(f"""
        from gmmspeech.infra import parallel
        from gmmspeech.infra.parallel import ClusterError, get_client
        closed = "tcp://127.0.0.1:{_free_port()}"
        for address in ("not-an-address", closed, "skip the checks"):
            if address == "skip the checks":  # as if the port closed between the checks and Dask's Client
                parallel._probe = parallel._handshake = lambda *args: None
                address = closed
            try:
                get_client(address, timeout=2)
            except ClusterError as exc:
                print("ClusterError", exc)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.count("ClusterError") == 3, out.stdout + out.stderr
    assert out.stderr == ""  # before: a Client.__del__ traceback after a 40 s wait


def test_features_on_the_cluster_match_local_and_stay_on_disk(scheduler, toy_corpus, tmp_path):
    utts = read_manifest(toy_corpus["train"])
    cfg = FeatureConfig()
    local = compute_features(utts, cfg, n_jobs=1, progress=False, cache=FeatureCache(tmp_path / "a"))
    remote = compute_features(utts, cfg, progress=False, cache=FeatureCache(tmp_path / "b"), scheduler=scheduler)
    assert not remote.errors and len(remote.ok()) == len(local.ok())
    for (_, x), (_, y), p in zip(local.ok(), remote.ok(), remote.paths, strict=True):
        assert isinstance(y, np.memmap) and p.startswith(str(tmp_path / "b"))   # came back as a path
        np.testing.assert_array_equal(x, y)
    again = compute_features(utts, cfg, progress=False, cache=FeatureCache(tmp_path / "b"), scheduler=scheduler)
    assert again.cached == len(utts)


def _models_agree(a, b, rtol=1e-6):
    assert a.classes_ == b.classes_
    for lab in a.classes_:
        for name in ("weights_", "means_", "variances_"):
            assert _rel(getattr(a.models_[lab], name), getattr(b.models_[lab], name)) < rtol, (lab, name)


@pytest.mark.parametrize("model_type", ["per_class", "ubm_map"])
def test_training_and_evaluation_on_the_cluster_match_local(scheduler, toy_corpus, tmp_path, model_type):
    from gmmspeech.app.pipeline import evaluate_classifier, train_classifier
    from gmmspeech.app.recipe import ModelConfig

    train, test = read_manifest(toy_corpus["train"]), read_manifest(toy_corpus["test"])
    cfg = FeatureConfig(n_mfcc=13)
    model = ModelConfig(components=4, iterations=20, seed=7, type=model_type)
    local = train_classifier(train, cfg, model, n_jobs=1, quiet=True, cache=FeatureCache(tmp_path / "a"))
    remote = train_classifier(train, cfg, model, quiet=True, cache=FeatureCache(tmp_path / "b"), scheduler=scheduler)
    _models_agree(local.classifier, remote.classifier)
    if model_type == "ubm_map":
        _models_agree(GMMClassifierLike(local.classifier.ubm_), GMMClassifierLike(remote.classifier.ubm_))
    ev_local = evaluate_classifier(local.classifier, cfg, test, n_jobs=1, quiet=True,
                                   cache=FeatureCache(tmp_path / "a"), novelty=local.meta.novelty)
    ev_remote = evaluate_classifier(local.classifier, cfg, test, quiet=True, cache=FeatureCache(tmp_path / "c"),
                                    scheduler=scheduler, novelty=local.meta.novelty)
    assert ev_local.predictions == ev_remote.predictions
    assert ev_local.metrics["accuracy"] == ev_remote.metrics["accuracy"] > 0.8


class GMMClassifierLike:
    """One DiagGMM seen as a one-class classifier, for _models_agree."""

    def __init__(self, gmm):
        self.classes_ = ["ubm"]
        self.models_ = {"ubm": gmm}


def test_cli_features_and_train_on_the_cluster(scheduler, toy_corpus, tmp_path):
    from typer.testing import CliRunner

    from gmmspeech.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["features", str(toy_corpus["train"]), "--scheduler", scheduler, "--cache",
                              str(tmp_path / "c"), "--json", "-q"])
    assert res.exit_code == 0, res.output
    assert '"ok": 18' in res.output
    model = tmp_path / "m.npz"
    res = runner.invoke(app, ["train", str(toy_corpus["train"]), "-o", str(model), "--components", "4",
                              "--scheduler", scheduler, "--cache", str(tmp_path / "c"), "-q"])
    assert res.exit_code == 0, res.output
    assert model.is_file()
    res = runner.invoke(app, ["train", str(toy_corpus["train"]), "-o", str(tmp_path / "n.npz"), "--no-cache",
                              "--scheduler", scheduler, "-q"])
    assert res.exit_code == 1 and "needs the feature cache" in res.output
    assert not (tmp_path / "n.npz").exists()


def test_batch_plan_matches_the_batches_the_e_step_uses():
    from gmmspeech.core.gmm import FrameSource, batch_plan

    rng = np.random.default_rng(0)
    for _ in range(30):
        lengths = [int(n) for n in rng.choice([0, 3, 40, 90, 200], size=rng.integers(1, 25))]
        target = 100
        plan = batch_plan(lengths, target)
        assert plan[0][0] == 0 and plan[-1][1] == len(lengths)
        assert all(a[1] == b[0] for a, b in zip(plan, plan[1:], strict=False))
        import gmmspeech.core.sources as g

        old, g.BATCH_FRAMES = g.BATCH_FRAMES, target
        try:
            sizes = [len(x) for _, x in FrameSource([np.zeros((n, 2)) for n in lengths]).batches()]
        finally:
            g.BATCH_FRAMES = old
        expected = [sum(lengths[lo:hi]) for lo, hi in plan]
        assert sizes == [n for n in expected if n]
        # a plan restarted at any batch boundary reproduces the rest of the plan
        for lo, _ in plan:
            assert [(a + lo, b + lo) for a, b in batch_plan(lengths[lo:], target)] == [p for p in plan if p[0] >= lo]


@pytest.mark.parametrize("whole_below", [0, 10**9])
def test_cluster_fitter_matches_local_both_ways(scheduler, chunk_files, whole_below):
    from gmmspeech.model.cluster import ClusterFitter

    params = {"n_components": 6, "max_iter": 15, "random_state": 2}
    local = DiagGMM(**params).fit(chunk_files)
    remote = ClusterFitter(scheduler, whole_below=whole_below)(params, [np.load(p, mmap_mode="r") for p in chunk_files])
    for name in ("weights_", "means_", "variances_"):
        assert _rel(getattr(local, name), getattr(remote, name)) < 1e-6, name
