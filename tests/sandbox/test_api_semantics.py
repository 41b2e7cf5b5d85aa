"""API server semantics kopf and the bot rely on, through aiohttp and the kubernetes client."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import aiohttp
import kubernetes
from kubernetes.client.rest import ApiException

from tests.sandbox.conftest import bot_manifest
from tradewarden.operator.sandbox.apiserver import SandboxApi

TB = "/apis/tradewarden.io/v1alpha1/namespaces/default/tradingbots"


async def test_status_subresource_is_separate_and_stale_versions_conflict(
    api: SandboxApi,
) -> None:
    async with aiohttp.ClientSession(
        api.url, headers=api.admin_headers, connector=aiohttp.TCPConnector(ssl=api.client_ssl)
    ) as http:
        created = await http.post(TB, json={**bot_manifest(), "status": {"phase": "Running"}})
        assert created.status == 201
        bot = await created.json()
        assert "status" not in bot, "status is ignored on create"
        merge = {"Content-Type": "application/merge-patch+json"}
        status = await http.patch(
            f"{TB}/alpha/status",
            headers=merge,
            data=json.dumps({"status": {"phase": "Running"}, "spec": {"paused": True}}),
        )
        after_status = await status.json()
        assert after_status["status"]["phase"] == "Running"
        assert after_status["spec"].get("paused") is False, "spec ignored through /status"
        assert after_status["metadata"]["generation"] == 1
        main = await http.patch(
            f"{TB}/alpha", headers=merge, data=json.dumps({"status": {"phase": "Failed"}})
        )
        assert (await main.json())["status"]["phase"] == "Running"
        stale = dict(after_status)
        stale["metadata"] = {**after_status["metadata"], "resourceVersion": "1"}
        put = await http.put(f"{TB}/alpha", json=stale)
        assert put.status == 409
        assert (await put.json())["reason"] == "Conflict"


async def test_kopf_style_json_patch_with_resource_version_test(api: SandboxApi) -> None:
    bot = api.create(bot_manifest())
    version = bot["metadata"]["resourceVersion"]
    patch = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": version},
        {"op": "add", "path": "/metadata/finalizers", "value": ["kopf.zalando.org/KopfFinalizer"]},
    ]
    headers = {"Content-Type": "application/json-patch+json"}
    async with aiohttp.ClientSession(
        api.url, headers=api.admin_headers, connector=aiohttp.TCPConnector(ssl=api.client_ssl)
    ) as http:
        ok = await http.patch(f"{TB}/alpha", headers=headers, data=json.dumps(patch))
        assert ok.status == 200
        assert (await ok.json())["metadata"]["finalizers"] == ["kopf.zalando.org/KopfFinalizer"]
        again = await http.patch(f"{TB}/alpha", headers=headers, data=json.dumps(patch))
        assert again.status == 422, "the resourceVersion moved on"


async def test_foreground_deletion_removes_children_before_the_owner(api: SandboxApi) -> None:
    bot = api.create(bot_manifest())
    owner = {
        "apiVersion": "tradewarden.io/v1alpha1",
        "kind": "TradingBot",
        "name": "alpha",
        "uid": bot["metadata"]["uid"],
    }
    api.create(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "tb-alpha", "namespace": "default", "ownerReferences": [owner]},
        }
    )
    async with aiohttp.ClientSession(
        api.url, headers=api.admin_headers, connector=aiohttp.TCPConnector(ssl=api.client_ssl)
    ) as http:
        gone = await http.delete(f"{TB}/alpha", json={"propagationPolicy": "Foreground"})
        assert gone.status == 200
        assert (await http.get(f"{TB}/alpha")).status == 404
        assert (await http.get("/api/v1/namespaces/default/services/tb-alpha")).status == 404


def _client(kubeconfig: Path) -> kubernetes.client.ApiClient:
    return kubernetes.config.new_client_from_config(config_file=str(kubeconfig))


async def test_kubernetes_client_watches_by_field_selector_and_holds_a_lease(
    api: SandboxApi, tmp_path: Path
) -> None:
    client = _client(api.write_kubeconfig(tmp_path / "kubeconfig"))
    custom = kubernetes.client.CustomObjectsApi(client)
    api.create(bot_manifest("alpha"))
    api.create(bot_manifest("beta"))

    listed = threading.Event()

    def watch_alpha() -> list[tuple[str, str, bool]]:
        seen = []
        for event in kubernetes.watch.Watch().stream(
            custom.list_namespaced_custom_object,
            "tradewarden.io",
            "v1alpha1",
            "default",
            "tradingbots",
            field_selector="metadata.name=alpha",
            timeout_seconds=5,
        ):
            obj = event["object"]
            seen.append((event["type"], obj["metadata"]["name"], obj["spec"]["paused"]))
            listed.set()
            if obj["spec"]["paused"]:
                break
        return seen

    watching = asyncio.create_task(asyncio.to_thread(watch_alpha))
    # The watch's initial ADDED event proves it is connected before the patch it waits for.
    assert await asyncio.to_thread(listed.wait, 10)
    rtype = api.type_of("tradewarden.io/v1alpha1", "TradingBot")
    for name in ("beta", "alpha"):
        current = api.store.get(rtype, "default", name)
        api.store.update(
            rtype, "default", name, {**current, "spec": {**current["spec"], "paused": True}}
        )
    seen = await asyncio.wait_for(watching, 10)
    assert seen == [("ADDED", "alpha", False), ("MODIFIED", "alpha", True)]

    leases = kubernetes.client.CoordinationV1Api(client)
    body = kubernetes.client.V1Lease(
        metadata=kubernetes.client.V1ObjectMeta(name="tw-sim-btc-usdt-usdt"),
        spec=kubernetes.client.V1LeaseSpec(
            holder_identity="default/alpha", lease_duration_seconds=15
        ),
    )
    lease = await asyncio.to_thread(leases.create_namespaced_lease, "default", body)
    lease.spec.holder_identity = "default/beta"
    updated = await asyncio.to_thread(
        leases.replace_namespaced_lease, lease.metadata.name, "default", lease
    )
    assert updated.spec.holder_identity == "default/beta"
    try:
        await asyncio.to_thread(
            leases.replace_namespaced_lease, lease.metadata.name, "default", lease
        )
    except ApiException as error:
        assert error.status == 409
    else:
        raise AssertionError("a stale Lease update must conflict")
