"""The operator's HTTP writes: bearer tokens are re-read from the configuration once a minute."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from kubernetes import client as k8s

from tradewarden.operator.kube import OperatorApi


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[str]]]:
    seen: list[str] = []

    async def create(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization", ""))
        return web.json_response({}, status=201)

    app = web.Application()
    app.router.add_post("/api/v1/namespaces/{namespace}/configmaps", create)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


async def test_a_rotated_token_is_picked_up_within_a_minute(
    server: tuple[str, list[str]],
) -> None:
    base_url, seen = server
    tokens = iter(["first", "second"])
    config = k8s.Configuration(host=base_url)
    config.api_key_prefix = {"authorization": "Bearer"}
    refreshes: list[str] = []

    def refresh(configuration: k8s.Configuration) -> None:
        # What the kubeconfig loader's hook does: a whole reload, so it is not run per call.
        refreshes.append("refresh")
        configuration.api_key = {"authorization": next(tokens)}

    config.refresh_api_key_hook = refresh
    clock = Clock()
    api = OperatorApi(k8s.ApiClient(config), clock=clock)
    child = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "n"}}
    try:
        await api.apply(child)
        clock.now = 59.0
        await api.apply(child)
        clock.now = 60.0
        await api.apply(child)
    finally:
        await api.close()

    assert seen == ["Bearer first", "Bearer first", "Bearer second"]
    assert len(refreshes) == 2
