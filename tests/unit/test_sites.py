"""Edge and cloud (DiCE-M): sites and links in the pools file, what crosses the link in
the cost account, the simulator's link and the planner's placement."""

from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from dicec.errors import ConfigError
from dicec.records import BatchMeta, CallTrace, LinkRecord, TaskRecord
from orchestrator.cost.accounting import batch_cost
from orchestrator.cost.report import transfers_table
from orchestrator.planning.callmix import (
    CallMix,
    GraphCall,
    TaskGraph,
    litter_call_mix,
    litter_task,
)
from orchestrator.planning.planner import plan_detailed
from orchestrator.planning.profiles import load_profile
from orchestrator.planning.simulator import SimConfig, simulate
from scripts.deploy.k8s_pools import SITE_LABEL, pool_deployment
from worker_models.pools import PoolsFile, load_pools

T0 = 1_700_000_000.0
MB = 1_000_000


def edge_cloud(mbps: float) -> PoolsFile:
    pools = load_pools("edge-cloud")
    for link in pools.links:
        link.bandwidth_mbps = mbps
    return pools


def one_photo_yolov8_in_the_cloud() -> tuple[CallMix, PoolsFile]:
    """One yolov8 call on a 1-MB photo taken at the edge, served in the cloud at 8 Mbit/s
    (1 MB = 1 s on the wire)."""
    mix = CallMix(tasks=[litter_task(0, False, image_bytes=MB)])
    pools = edge_cloud(8.0)
    pools.pool("cloud").functions = ["blip2", "yolov8"]
    pools.pool("edge").functions = ["depth"]
    return mix, pools


def test_old_pools_files_are_one_site_and_dump_as_before() -> None:
    pools = load_pools("local")
    assert pools.sites() == {"cloud"} and not pools.is_multi_site()
    assert "site" not in pools.to_data()["pools"][0] and "links" not in pools.to_data()


def test_edge_cloud_file_places_detection_at_the_edge() -> None:
    pools = load_pools("edge-cloud")
    assert pools.images_at == "edge" and pools.is_multi_site()
    assert pools.pool("edge").site == "edge" and "yolov8" in pools.pool("edge").functions
    link = pools.link("cloud", "edge")
    assert link is not None and link.transfer_s(MB) == pytest.approx(0.02 + 0.8)


def test_a_remote_site_without_a_link_is_refused(tmp_path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "gpu_types: {A: {price_per_hour: 1}}\n"
        "pools: [{name: e, gpu_type: A, functions: [yolov8], site: edge}]\n"
    )
    with pytest.raises(ConfigError, match="no link between 'edge' and 'cloud'"):
        load_pools(path)


def test_k8s_pins_a_multi_site_pool_to_its_site() -> None:
    pools = load_pools("edge-cloud")
    spec = pool_deployment(pools.pool("edge"), multi_site=True)["spec"]["template"]["spec"]
    assert spec["nodeSelector"] == {SITE_LABEL: "edge"}
    one_site = pool_deployment(load_pools("local").pools[0])["spec"]["template"]["spec"]
    assert "nodeSelector" not in one_site


def test_cost_report_bills_the_bytes_that_crossed_the_link() -> None:
    meta = BatchMeta(
        batch_id="b",
        program_name="p.py",
        program_sha256="0",
        program_source="",
        images_dir="/x",
        images=["a.png"],
        tasks=1,
        seed=0,
        pools_file="edge-cloud",
        created_at=T0,
        pool_prices={"edge": 0.0, "cloud": 0.0},
        pool_replicas={"edge": 1, "cloud": 1},
        pool_sites={"edge": "edge", "cloud": "cloud"},
        images_at="edge",
        links=[LinkRecord(between=("edge", "cloud"), bandwidth_mbps=8, price_per_gb=2.0)],
    )
    task = TaskRecord(
        batch_id="b", index=0, image="a.png", status="ok", started_at=T0, finished_at=T0 + 10
    )

    def trace(call_id: str, pool: str, shipped: int) -> CallTrace:
        return CallTrace(
            call_id=call_id, task_index=0, function="yolov8", pool=pool, worker="w",
            site=pool, queued_at=T0, started_at=T0 + 1, finished_at=T0 + 2,
            image_bytes=MB, transfer_bytes=shipped,
        )  # fmt: skip

    cost = batch_cost(meta, [task], [trace("1", "edge", 0), trace("2", "cloud", MB)])
    (row,) = cost.transfers
    assert (row.calls, row.bytes) == (1, MB)
    assert row.cost_usd == pytest.approx(0.002) and cost.transfer_usd == pytest.approx(0.002)
    assert row.transfer_s == pytest.approx(1.0)  # 8 Mbit over 8 Mbit/s
    assert cost.cost_usd == pytest.approx(0.002)
    assert transfers_table(cost).rows[0][:4] == ["edge<->cloud", "1", "0", str(MB)]

    # Redis in the cloud (broker_at): the photo is uploaded once; the cloud call read it
    # beside Redis, the edge call read it across the link (its worker's fetched bytes).
    meta.broker_at = "cloud"
    near_cloud = [trace("1", "edge", MB), trace("2", "cloud", 0), trace("3", "cloud", 0)]
    (row,) = batch_cost(meta, [task], near_cloud).transfers
    assert (row.calls, row.uploads, row.bytes) == (1, 1, 2 * MB)
    assert row.cost_usd == pytest.approx(0.004) and row.transfer_s == pytest.approx(2.0)


def test_simulated_remote_call_pays_latency_and_bandwidth() -> None:
    profile = load_profile()
    mix, pools = one_photo_yolov8_in_the_cloud()
    rtt_s = 0.02
    service_gap = profile.service_s("A6000", "yolov8") - profile.service_s("JetsonOrin", "yolov8")
    # The model: latency + bytes / bandwidth (the image's GET), and the reply's
    # half round trip back.
    bare = SimConfig(remote_round_trips=0.0, remote_round_trips_after=0.0)
    remote = simulate(mix, profile, pools, bare)
    local = simulate(mix, profile, load_pools("edge-cloud"), bare)
    assert remote.makespan_s - local.makespan_s == pytest.approx(1.0 + 1.5 * rtt_s + service_gap)
    # What a Celery worker really waits for (measured): 3 round trips before the model,
    # then the reply's, and 3 that hold the worker but not the caller.
    real = simulate(mix, profile, pools)
    assert real.makespan_s - remote.makespan_s == pytest.approx(3 * rtt_s)
    held = real.pool("cloud").busy_s - remote.pool("cloud").busy_s
    assert held == pytest.approx(6 * rtt_s)
    assert remote.links[0].bytes == MB and local.links == []
    assert remote.transfer_usd == pytest.approx(0.01 / 1000)  # 1 MB at the file's $0.01/GB


def test_a_message_of_two_calls_pays_its_round_trips_once() -> None:
    """blip2's two questions leave as one message: one fetch, record and event before,
    one ack and event after (the first call's replies are pushed on their own)."""
    profile = load_profile()
    pair = TaskGraph(calls=[GraphCall(function="blip2"), GraphCall(function="blip2")])
    pools = edge_cloud(10.0)  # images at the edge, blip2 in the cloud: 20 ms away
    rtt_s = 0.02
    bare = SimConfig(remote_round_trips=0.0, remote_round_trips_after=0.0)
    real = simulate(CallMix(tasks=[pair]), profile, pools)
    none = simulate(CallMix(tasks=[pair]), profile, pools, bare)
    held = real.pool("cloud").busy_s - none.pool("cloud").busy_s
    assert held == pytest.approx((3 + 3) * rtt_s)  # 3 before, 3 after the last call
    assert real.links[0].round_trips_s == pytest.approx((3 + 1 + 3) * rtt_s)


@pytest.mark.parametrize(
    ("mbps", "edge_functions", "broker"),
    [
        (1, {"yolov8", "depth"}, "edge"),  # the photos cannot cross within the deadline
        (10, {"yolov8", "depth"}, "edge"),  # they can, but their upload stretches the run
        (1000, set(), "cloud"),  # Redis in the cloud, each photo uploaded once
    ],
)
def test_planner_keeps_detection_at_the_edge_only_on_a_slow_link(
    mbps: float, edge_functions: set[str], broker: str
) -> None:
    layout = edge_cloud(mbps)
    assert layout.photo_bytes == 4 * MB  # the shipped file's camera
    found = plan_detailed(
        litter_call_mix(1000).with_photo_bytes(layout.photo_bytes), load_profile(), None,
        68 * 60.0, layout=layout, search_s=60.0,
    )  # fmt: skip
    at_edge = {f for p in found.pools.pools if p.site == "edge" for f in p.functions}
    assert at_edge == edge_functions and found.pools.broker_site() == broker
    assert found.simulated.makespan_s <= 68 * 60.0
    assert {"blip2"} <= {f for p in found.pools.pools if p.site == "cloud" for f in p.functions}
    assert len(found.placements) >= 2  # the table has alternatives to explain the choice
    split = next(p for p in found.placements if p.placement["yolov8"] == "edge")
    assert split.broker == "edge" and split.round_trips > 0  # blip2's messages wait
    cloud = [p for p in found.placements if set(p.placement.values()) == {"cloud"}]
    with_broker = next(p for p in cloud if p.broker == "cloud")
    if with_broker.cost_usd is not None:  # the photos' upload, no message waits on the link
        assert with_broker.uploads == 1000 and with_broker.round_trips == 0
        assert with_broker.transfer_usd > 0 and with_broker.transfer_s > split.transfer_s
    if broker == "cloud":
        assert with_broker.cost_usd is not None and split.cost_usd is not None
        assert with_broker.cost_usd < split.cost_usd
    elif with_broker.cost_usd is None:
        assert "link busy" in with_broker.note
    else:  # feasible, but the upload keeps the cloud GPU billed for longer than the split
        assert split.cost_usd is not None and split.cost_usd < with_broker.cost_usd
        assert (with_broker.makespan_s or 0.0) > (split.makespan_s or 0.0)


def test_photo_size_scales_the_photos_and_their_crops() -> None:
    mix = CallMix(tasks=[litter_task(2, near=True), TaskGraph(calls=[GraphCall(function="a")])])
    bigger = mix.with_photo_bytes(4 * MB)
    sizes = [c.image_bytes for c in bigger.tasks[0].calls]
    assert sizes[0] == 4 * MB and sizes[1:] == [round(4 * MB * 0.04)] * (len(sizes) - 1)
    assert bigger.tasks[1].calls[0].image_bytes == 0  # a task that ships nothing stays so
    assert [c.function for c in bigger.tasks[0].calls] == [c.function for c in mix.tasks[0].calls]


def test_a_broker_away_from_the_images_uploads_each_photo_once() -> None:
    profile = load_profile()
    mix, pools = one_photo_yolov8_in_the_cloud()
    at_edge = simulate(mix, profile, pools)
    pools.broker_at = "cloud"
    in_cloud = simulate(mix, profile, pools)
    (row,) = in_cloud.links
    assert (row.uploads, row.calls, row.bytes, row.round_trips) == (1, 0, MB, 0.0)
    assert row.cost_usd == pytest.approx(0.01 / 1000)  # 1 MB at $0.01/GB
    # The upload (1 s + one round trip) before the task; then no waits on the link.
    service = profile.service_s("A6000", "yolov8")
    rtt_s = 0.02
    assert at_edge.makespan_s - in_cloud.makespan_s == pytest.approx((3 + 1 + 0.5 - 1) * rtt_s)
    assert in_cloud.pool("cloud").busy_s == pytest.approx(
        service + profile.hw("A6000").call_overhead_s
    )


def test_broker_at_defaults_to_the_images_and_needs_a_link(tmp_path) -> None:
    pools = load_pools("edge-cloud")
    assert pools.broker_at is None and pools.broker_site() == "edge"
    assert "broker_at" not in pools.to_data()
    moved = PoolsFile.model_validate({**pools.to_data(), "broker_at": "cloud"})
    assert moved.to_data()["broker_at"] == "cloud" and moved.remote_functions() == [
        "depth",
        "yolov8",
    ]
    assert pools.remote_functions() == ["blip2"]
    path = tmp_path / "p.yaml"
    path.write_text(
        "gpu_types: {A: {price_per_hour: 1}}\n"
        "pools: [{name: c, gpu_type: A, functions: [yolov8]}]\n"
        "images_at: edge\nbroker_at: cloud\n"
    )
    with pytest.raises(ConfigError, match="images at site 'edge' but no link between 'edge' and"):
        load_pools(path)


def test_dicec_plan_prints_why() -> None:
    from scripts.cli.main import app

    def plan(*extra: str) -> str:
        result = CliRunner().invoke(
            app,
            ["plan", "--program", "litter", "--pools", "edge-cloud", "--tasks", "200",
             "--deadline-min", "20", "-o", "/tmp/dicec-test-plan-edge.yaml", *extra],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "Placements tried" in result.output and "chosen" in result.output
        assert "why: " in result.output
        return " ".join(result.output.split())

    fast = plan("--link-mbps", "1000")
    assert "broker (Redis + orchestrator) at 'cloud'" in fast
    assert load_pools("/tmp/dicec-test-plan-edge.yaml").broker_site() == "cloud"
    slow = plan("--link-mbps", "10")
    assert "why: chosen cloud: blip2 | edge: depth, yolov8 (broker edge)" in slow
    assert "next best cloud: blip2, depth, yolov8 (broker cloud)" in slow
    assert load_pools("/tmp/dicec-test-plan-edge.yaml").broker_site() == "edge"
    # small photos cross a 10 Mbit/s link easily: everything goes to the cloud again
    small = plan("--link-mbps", "10", "--photo-mb", "0.6")
    assert "broker (Redis + orchestrator) at 'cloud'" in small
    # bytes priced like a metered cellular plan keep detection at the edge even on a fast link
    dear = plan("--link-mbps", "1000", "--link-price-per-gb", "2")
    assert "broker (Redis + orchestrator) at 'edge'" in dear
    planned = load_pools("/tmp/dicec-test-plan-edge.yaml")
    assert any("yolov8" in p.functions and p.site == "edge" for p in planned.pools)
    bad = CliRunner().invoke(app, ["plan", "--program", "litter", "--link-mbps", "10"])
    assert bad.exit_code == 2 and "need --pools" in bad.output
    bad = CliRunner().invoke(app, ["plan", "--program", "litter", "--photo-mb", "0"])
    assert bad.exit_code == 2 and "--photo-mb must be positive" in bad.output


def test_edge_cloud_manifests_validate_strictly_with_site_selectors(tmp_path) -> None:
    from scripts.cli.main import app
    from tests.support.manifests import load_docs, validate_k8s

    out = tmp_path / "out"
    made = CliRunner().invoke(app, ["k8s", "pools", "--pools", "edge-cloud", "--root", str(out)])
    assert made.exit_code == 0, made.output
    for name, site in (("edge", "edge"), ("cloud", "cloud")):
        (doc,) = load_docs(out / "k8s/base/pools" / f"pool-{name}.yaml")
        validate_k8s(doc)
        assert doc["spec"]["template"]["spec"]["nodeSelector"] == {SITE_LABEL: site}
    configmap_pools = load_pools(out / "k8s/base/pools/pools.yaml")
    assert configmap_pools.images_at == "edge" and configmap_pools.links


@pytest.mark.parametrize("broker", [None, "cloud"])
def test_k8s_pins_redis_and_the_orchestrator_to_the_broker_site(tmp_path, broker) -> None:
    import shutil

    from scripts.cli.main import app
    from tests.support.manifests import ROOT, kustomize, validate_k8s

    pools = load_pools("edge-cloud")
    pools.broker_at = broker
    pools_file = tmp_path / "pools.yaml"
    pools_file.write_text(yaml.safe_dump(pools.to_data()))
    shutil.copytree(ROOT / "k8s", tmp_path / "k8s")
    made = CliRunner().invoke(
        app, ["k8s", "pools", "--pools", str(pools_file), "--root", str(tmp_path)]
    )
    assert made.exit_code == 0, made.output
    docs = kustomize(tmp_path / "k8s/overlays/cpu")
    site = broker or "edge"  # the broker defaults to the images' site
    by_name = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    for key in (("StatefulSet", "redis"), ("Job", "claims-demo")):
        validate_k8s(by_name[key])
        assert by_name[key]["spec"]["template"]["spec"]["nodeSelector"] == {SITE_LABEL: site}
    edge = by_name[("Deployment", "pool-edge")]["spec"]["template"]["spec"]
    assert edge["nodeSelector"] == {SITE_LABEL: "edge"}  # pools stay at their own sites


def test_a_one_site_file_pins_nothing() -> None:
    from tests.support.manifests import ROOT, kustomize

    docs = kustomize(ROOT / "k8s/overlays/cpu")
    (redis,) = [d for d in docs if d["kind"] == "StatefulSet"]
    assert SITE_LABEL not in str(redis)
