"""The control loop's Kubernetes calls, through the ``kubernetes`` client.

The client is synchronous, so every call runs in a worker thread of the
control's own small pool (a long watch read never takes a thread from the
default executor, which aiohttp uses for name lookups) and is bounded by a
request timeout: the event loop,
and with it market data and the execution worker, never waits on the API
server. Responses are read raw (``_preload_content=False``) and handed on as
plain JSON objects. A watch is read line by line, one thread hop per line; when
the reader is closed (relist, cancellation, shutdown) the response's socket is
shut down, which unblocks the thread still reading it, so no thread outlives
the watch by more than an instant.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar, cast

import urllib3
from kubernetes import client as k8s
from kubernetes.watch.watch import iter_resp_lines

from tradewarden.api.crd import HALT_PLURAL, PLURAL, VERSION
from tradewarden.api.error_text import clipped, error_text
from tradewarden.api.tradingbot import API_GROUP

REQUEST_TIMEOUT_SECONDS = 5.0
# The server ends a watch after timeoutSeconds; the socket read waits this much longer.
WATCH_READ_SLACK_SECONDS = 10.0

Json = dict[str, Any]
T = TypeVar("T")


class ApiCallFailed(Exception):
    """An API-server call did not succeed; ``status`` is the HTTP status, if any came."""

    def __init__(self, status: int | None, detail: str) -> None:
        super().__init__(f"{status or 'no response'}: {detail}")
        self.status = status


class ControlApi:
    """Reads and watches one TradingBot, reads/writes one Lease, in one namespace; reads and
    watches TradingHalts (cluster-scoped) and reads its own Namespace (for its labels)."""

    def __init__(
        self,
        api_client: k8s.ApiClient,
        namespace: str,
        name: str,
        *,
        request_timeout: float = REQUEST_TIMEOUT_SECONDS,
    ) -> None:
        self.namespace = namespace
        self.name = name
        self._client = api_client
        self._custom = k8s.CustomObjectsApi(api_client)
        self._leases = k8s.CoordinationV1Api(api_client)
        self._core = k8s.CoreV1Api(api_client)
        self._timeout = request_timeout
        # Two watches block a thread each while they wait; the Lease and reads use the rest.
        self._threads = ThreadPoolExecutor(max_workers=6, thread_name_prefix="k8s-control")
        # The list calls of what the bot watches (its own TradingBot, every TradingHalt):
        # read once with list_*, then followed with watch_* from the list's resourceVersion.
        self._list_bot = functools.partial(
            self._custom.list_namespaced_custom_object,
            API_GROUP,
            VERSION,
            namespace,
            PLURAL,
            field_selector=f"metadata.name={name}",
        )
        self._list_halts = functools.partial(
            self._custom.list_cluster_custom_object, API_GROUP, VERSION, HALT_PLURAL
        )

    async def list_bot(self) -> Json:
        """List the bot's own TradingBot (a list of at most one item, with its resourceVersion)."""
        return await self._json(self._list_bot)

    def watch_bot(
        self, resource_version: str | None, timeout_seconds: int
    ) -> AsyncGenerator[Json, None]:
        """Yield watch events (``{"type", "object"}``) until the server ends the watch."""
        return self._watch(self._list_bot, resource_version, timeout_seconds)

    async def list_halts(self) -> Json:
        """List every TradingHalt (cluster-scoped), with the list's resourceVersion."""
        return await self._json(self._list_halts)

    def watch_halts(
        self, resource_version: str | None, timeout_seconds: int
    ) -> AsyncGenerator[Json, None]:
        """Yield TradingHalt watch events until the server ends the watch."""
        return self._watch(self._list_halts, resource_version, timeout_seconds)

    async def read_namespace(self) -> Json:
        """The bot's own Namespace object (its labels select TradingHalts)."""
        return await self._json(self._core.read_namespace, self.namespace)

    async def _watch(
        self,
        list_call: Callable[..., Any],
        resource_version: str | None,
        timeout_seconds: int,
    ) -> AsyncGenerator[Json, None]:
        # With _preload_content=False the client hands back the raw urllib3 response.
        open_watch = cast(
            Callable[[], urllib3.BaseHTTPResponse],
            functools.partial(
                list_call,
                watch=True,
                allow_watch_bookmarks=True,
                resource_version=resource_version,
                timeout_seconds=timeout_seconds,
                _preload_content=False,
                _request_timeout=(self._timeout, timeout_seconds + WATCH_READ_SLACK_SECONDS),
            ),
        )
        response = await self._call(open_watch)
        lines = iter_resp_lines(response)  # type: ignore[no-untyped-call]
        try:
            while (line := await self._call(functools.partial(next, lines, None))) is not None:
                if not line:
                    continue
                try:
                    event = json.loads(line)
                except ValueError as error:
                    raise ApiCallFailed(None, f"malformed watch line: {clipped(line)!r}") from error
                if isinstance(event, dict):
                    yield event
        finally:
            if response.connection is not None:
                # Left mid-stream: unblock the thread still reading (the peer may have closed
                # the socket already), and keep the half-read connection out of the pool.
                with contextlib.suppress(OSError):
                    response.shutdown()
                response.close()

    async def read_lease(self, name: str) -> Json | None:
        """The Lease, or ``None`` when it does not exist."""
        try:
            return await self._json(self._leases.read_namespaced_lease, name, self.namespace)
        except ApiCallFailed as error:
            if error.status == 404:
                return None
            raise

    async def create_lease(self, body: Json) -> Json:
        """Create the Lease (409 when someone else created it first)."""
        return await self._json(self._leases.create_namespaced_lease, self.namespace, body)

    async def replace_lease(self, body: Json) -> Json:
        """Replace the Lease; its resourceVersion makes a concurrent write fail with 409."""
        name = body["metadata"]["name"]
        return await self._json(self._leases.replace_namespaced_lease, name, self.namespace, body)

    def close(self) -> None:
        """Release the client's connection pool and threads."""
        self._threads.shutdown(wait=False, cancel_futures=True)
        self._client.close()  # type: ignore[no-untyped-call]

    async def _json(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Json:
        def call() -> Json:
            response = method(
                *args, **kwargs, _preload_content=False, _request_timeout=self._timeout
            )
            try:
                document = json.loads(response.data)
            except ValueError as error:
                raise ApiCallFailed(response.status, "response is not JSON") from error
            if not isinstance(document, dict):
                raise ApiCallFailed(response.status, "response is not a JSON object")
            return document

        return await self._call(call)

    async def _call(self, call: Callable[[], T]) -> T:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._threads, call)
        except k8s.ApiException as error:
            raise ApiCallFailed(error.status or None, str(error.reason)) from error
        except ApiCallFailed:
            raise
        except Exception as error:
            # Connection trouble (urllib3, OSError) and anything else the client throws: the
            # control loops must keep going, so every failure becomes a failed call.
            raise ApiCallFailed(None, error_text(error)) from error
