"""The operator's writes to the API server: asynchronous HTTP on the client's configuration.

Connection settings (server, credentials, TLS) come from a ``kubernetes``
client configuration loaded by the client's own kubeconfig or in-cluster
loader, as everywhere else in the project: bearer tokens (static, token files,
exec plugins and auth providers, refreshed by the loader's hook), client
certificates, the cluster CA and ``tls-server-name``. The credentials are read
through the configuration's ``auth_settings()``, which knows where each client
version keeps them, and kopf's own calls log in with the same configuration
(:func:`connection_info`), so both authenticate as the same identity. The
requests themselves go through one ``aiohttp`` session on the operator's event loop.
The synchronous client needed a worker thread per call, and for a fleet the
thread hand-offs and GIL contention cost more than the requests. Children are
created, or merge-patched when they already exist, so a re-render after a spec
change or an operator restart converges on the same objects.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import aiohttp
import kopf
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from tradewarden.api.crd import HALT_PLURAL, PLURAL, VERSION
from tradewarden.api.error_text import clipped
from tradewarden.api.tradingbot import API_GROUP

MERGE_PATCH = "application/merge-patch+json"
REQUEST_TIMEOUT_SECONDS = 10.0
CONFLICT = 409
# Enough parallel connections for a fleet's reconciles without opening thousands.
CONNECTIONS = 32
# How long a bearer token is reused before the configuration is asked again. Asking
# runs the kubeconfig loader's refresh hook (a whole reload); client-go re-reads a
# projected token file about once a minute, and such tokens live an hour or more.
TOKEN_REUSE_SECONDS = 60.0
EVENT_COMPONENT = "tradewarden-operator"


def _collection(api_version: str, kind: str, namespace: str) -> str:
    # The six child kinds all pluralise as lowercase kind + "s".
    prefix = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    return f"{prefix}/namespaces/{namespace}/{kind.lower()}s"


def _bot_path(namespace: str, name: str) -> str:
    return f"/apis/{API_GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}/{name}"


def _ssl_context(config: k8s.Configuration) -> ssl.SSLContext | bool:
    if not str(config.host).startswith("https"):
        return False
    context = ssl.create_default_context(cafile=config.ssl_ca_cert)
    if config.cert_file:
        context.load_cert_chain(config.cert_file, config.key_file)
    if not config.verify_ssl:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def auth_headers(config: k8s.Configuration) -> dict[str, str]:
    """The credential headers the configuration holds (``Authorization: Bearer ...``).

    Runs the loader's refresh hook (token file re-read, exec plugin), so call it
    at most once a minute. Empty when the identity is a client certificate.
    """
    # The one credential the client's configuration models, under one name in every
    # version (the key it is stored under moved from "authorization" to "BearerToken").
    bearer = config.auth_settings().get("BearerToken")
    if bearer is None or not bearer["value"]:
        return {}
    return {bearer["key"]: bearer["value"]}


def connection_info(config: k8s.Configuration) -> kopf.ConnectionInfo:
    """kopf's login with the configuration the operator's own writes use."""
    authorization = auth_headers(config).get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    return kopf.ConnectionInfo(
        server=str(config.host),
        ca_path=config.ssl_ca_cert,
        insecure=not config.verify_ssl,
        scheme=scheme if token else None,
        token=token or None,
        certificate_path=config.cert_file,
        private_key_path=config.key_file,
    )


class OperatorApi:
    """Create-or-patch of children, and patches of a TradingBot's spec and status."""

    def __init__(
        self, api_client: k8s.ApiClient, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._config: k8s.Configuration = api_client.configuration
        self._base = str(self._config.host).rstrip("/")
        self._ssl = _ssl_context(self._config)
        self._session: aiohttp.ClientSession | None = None
        self._clock = clock
        self._auth: dict[str, str] = {}
        self._auth_read_at: float | None = None

    @property
    def configuration(self) -> k8s.Configuration:
        """The client configuration the requests are made with."""
        return self._config

    def _auth_headers(self) -> dict[str, str]:
        """The credential headers, re-read from the configuration once a minute."""
        now = self._clock()
        if self._auth_read_at is None or now - self._auth_read_at >= TOKEN_REUSE_SECONDS:
            self._auth = auth_headers(self._config)
            self._auth_read_at = now
        return self._auth

    def _http(self) -> aiohttp.ClientSession:
        # Created on first use: the session belongs to the loop kopf runs.
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=CONNECTIONS, ssl=self._ssl),
                timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS),
            )
        return self._session

    async def _request(
        self, method: str, path: str, body: Mapping[str, Any] | None, content_type: str
    ) -> int:
        headers = {
            "Content-Type": content_type,
            "Accept": "application/json",
            **self._auth_headers(),
        }
        async with self._http().request(
            method,
            self._base + path,
            data=None if body is None else json.dumps(body),
            headers=headers,
            server_hostname=self._config.tls_server_name or None,
        ) as response:
            text = await response.text()
            if response.status >= 300:
                raise ApiException(status=response.status, reason=clipped(text))
            return response.status

    async def apply(self, child: Mapping[str, Any]) -> str:
        """Create ``child``, or merge-patch it if it exists; returns "created" or "patched"."""
        meta = child["metadata"]
        collection = _collection(child["apiVersion"], child["kind"], meta["namespace"])
        try:
            await self._request("POST", collection, child, "application/json")
        except ApiException as error:
            if error.status != CONFLICT:
                raise
        else:
            return "created"
        await self._request("PATCH", f"{collection}/{meta['name']}", child, MERGE_PATCH)
        return "patched"

    async def apply_waves(self, waves: Sequence[Sequence[Mapping[str, Any]]]) -> None:
        """Apply each wave's children together, and a wave only once the one before is in."""
        for wave in waves:
            await asyncio.gather(*(self.apply(child) for child in wave))

    async def patch_bot(self, namespace: str, name: str, patch: Mapping[str, Any]) -> None:
        """Merge-patch a TradingBot (its spec or metadata, not its status)."""
        await self._request("PATCH", _bot_path(namespace, name), patch, MERGE_PATCH)

    async def patch_bot_status(self, namespace: str, name: str, patch: Mapping[str, Any]) -> None:
        """Merge-patch a TradingBot's status subresource."""
        await self._request("PATCH", _bot_path(namespace, name) + "/status", patch, MERGE_PATCH)

    async def check_reachable(self) -> None:
        """GET the TradingBot API group: the server answers, takes the credentials, serves the CRD.

        Raises what a failed request raises (ApiException, aiohttp.ClientError, TimeoutError).
        """
        await self._request("GET", f"/apis/{API_GROUP}/{VERSION}", None, "application/json")

    async def patch_halt_status(self, name: str, patch: Mapping[str, Any]) -> None:
        """Merge-patch a TradingHalt's status subresource (cluster-scoped)."""
        path = f"/apis/{API_GROUP}/{VERSION}/{HALT_PLURAL}/{name}/status"
        await self._request("PATCH", path, patch, MERGE_PATCH)

    async def post_event(
        self,
        involved: Mapping[str, Any],
        kind: str,
        reason: str,
        message: str,
        now: str,
    ) -> None:
        """Post a core/v1 Event about ``involved`` (an object with apiVersion, kind, metadata).

        Events about a cluster-scoped object go to the ``default`` namespace, as
        kube-apiserver's own recorders put them.
        """
        meta = involved["metadata"]
        namespace = meta.get("namespace") or "default"
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{meta['name']}.", "namespace": namespace},
            "involvedObject": {
                "apiVersion": involved["apiVersion"],
                "kind": involved["kind"],
                "name": meta["name"],
                "uid": meta.get("uid"),
                **({"namespace": meta["namespace"]} if meta.get("namespace") else {}),
            },
            "type": kind,
            "reason": reason,
            "message": message[:1024],
            "source": {"component": EVENT_COMPONENT},
            "reportingComponent": EVENT_COMPONENT,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        await self._request(
            "POST", f"/api/v1/namespaces/{namespace}/events", event, "application/json"
        )

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
