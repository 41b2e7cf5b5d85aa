"""The operator's HTTP writes authenticate as the kubeconfig says, against a server that checks.

The configuration comes from the ``kubernetes`` client's real kubeconfig loader
(``api_client_from_environment``, what ``tradewarden operator`` runs), and the
server is HTTPS with its own CA, answering 401 to anyone it does not know: a
static bearer token, an exec plugin whose token rotates, and a client
certificate (what kind's kubeconfigs hold) each get their child created; kopf's
login carries the same identity.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import ipaddress
import ssl
import sys
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from tests.support.clock import FakeClock
from tradewarden.api.kube_client import api_client_from_environment
from tradewarden.operator.children import creation_waves
from tradewarden.operator.kube import OperatorApi, connection_info

CHILD = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "n"}}
CLIENT_CN = "system:serviceaccount:tradewarden:operator"


@dataclass
class Pki:
    """A throw-away CA, a serving certificate for 127.0.0.1 and a client certificate."""

    directory: Path
    ca: bytes = b""
    server_cert: Path = field(init=False)
    server_key: Path = field(init=False)
    client_cert: bytes = b""
    client_key: bytes = b""

    def __post_init__(self) -> None:
        now = datetime.datetime.now(datetime.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-ca")])
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        self.ca = ca.public_bytes(serialization.Encoding.PEM)

        def issue(cn: str, server: bool) -> tuple[bytes, bytes]:
            key = ec.generate_private_key(ec.SECP256R1())
            builder = (
                x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
                .issuer_name(ca_name)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=1))
                .not_valid_after(now + datetime.timedelta(hours=1))
            )
            if server:
                builder = builder.add_extension(
                    x509.SubjectAlternativeName(
                        [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                    ),
                    critical=False,
                )
            cert = builder.sign(ca_key, hashes.SHA256())
            pem_key = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            return cert.public_bytes(serialization.Encoding.PEM), pem_key

        cert, key = issue("127.0.0.1", server=True)
        self.server_cert = self.directory / "server.crt"
        self.server_key = self.directory / "server.key"
        self.server_cert.write_bytes(cert)
        self.server_key.write_bytes(key)
        self.client_cert, self.client_key = issue(CLIENT_CN, server=False)
        (self.directory / "ca.crt").write_bytes(self.ca)


@dataclass
class Server:
    url: str
    tokens: set[str]
    created_by: list[str] = field(default_factory=list)


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path)


@pytest.fixture
async def server(pki: Pki) -> AsyncIterator[Server]:
    """HTTPS, 401 without a known bearer token or a client certificate from its CA."""
    state = Server(url="", tokens=set())

    async def create(request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peercert") if request.transport else None
        authorization = request.headers.get("Authorization", "")
        if peer:
            subject = dict(item[0] for item in peer["subject"])
            who = f"cert:{subject['commonName']}"
        elif authorization.startswith("Bearer ") and authorization[7:] in state.tokens:
            who = f"token:{authorization[7:]}"
        else:
            return web.json_response(
                {"kind": "Status", "status": "Failure", "reason": "Unauthorized", "code": 401},
                status=401,
            )
        state.created_by.append(who)
        return web.json_response({}, status=201)

    context = ssl.create_default_context(
        ssl.Purpose.CLIENT_AUTH, cafile=str(pki.directory / "ca.crt")
    )
    context.load_cert_chain(pki.server_cert, pki.server_key)
    context.verify_mode = ssl.CERT_OPTIONAL  # like kube-apiserver: a certificate is one way in
    app = web.Application()
    app.router.add_post("/api/v1/namespaces/{namespace}/configmaps", create)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    state.url = f"https://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield state
    finally:
        await runner.cleanup()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def write_kubeconfig(path: Path, server: Server, pki: Pki, user: dict[str, Any]) -> Path:
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "c",
                "cluster": {"server": server.url, "certificate-authority-data": _b64(pki.ca)},
            }
        ],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "ctx",
    }
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.fixture
def kubeconfig_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    yield {"KUBECONFIG": str(tmp_path / "kubeconfig")}


async def test_a_kubeconfig_bearer_token_is_sent(
    server: Server, pki: Pki, kubeconfig_env: dict[str, str]
) -> None:
    server.tokens.add("operator-token")
    write_kubeconfig(Path(kubeconfig_env["KUBECONFIG"]), server, pki, {"token": "operator-token"})
    api = OperatorApi(api_client_from_environment(kubeconfig_env))
    try:
        assert await api.apply(CHILD) == "created"
    finally:
        await api.close()
    assert server.created_by == ["token:operator-token"]
    login = connection_info(api.configuration)
    assert (login.scheme, login.token) == ("Bearer", "operator-token")


async def test_an_unknown_token_is_refused_with_the_servers_401(
    server: Server, pki: Pki, kubeconfig_env: dict[str, str]
) -> None:
    write_kubeconfig(Path(kubeconfig_env["KUBECONFIG"]), server, pki, {"token": "stolen"})
    api = OperatorApi(api_client_from_environment(kubeconfig_env))
    try:
        with pytest.raises(ApiException) as refused:
            await api.apply(CHILD)
    finally:
        await api.close()
    assert refused.value.status == 401
    assert server.created_by == []


async def test_a_client_certificate_is_presented(
    server: Server, pki: Pki, kubeconfig_env: dict[str, str]
) -> None:
    user = {
        "client-certificate-data": _b64(pki.client_cert),
        "client-key-data": _b64(pki.client_key),
    }
    write_kubeconfig(Path(kubeconfig_env["KUBECONFIG"]), server, pki, user)
    api = OperatorApi(api_client_from_environment(kubeconfig_env))
    try:
        assert await api.apply(CHILD) == "created"
    finally:
        await api.close()
    assert server.created_by == [f"cert:{CLIENT_CN}"]
    login = connection_info(api.configuration)
    assert login.token is None
    assert login.certificate_path == api.configuration.cert_file
    assert login.private_key_path == api.configuration.key_file


async def test_an_exec_plugins_rotated_token_is_picked_up_within_a_minute(
    server: Server, pki: Pki, kubeconfig_env: dict[str, str], tmp_path: Path
) -> None:
    # An exec credential plugin (as cloud kubeconfigs use) whose token has expired at
    # once, so the loader runs it again whenever asked: the operator asks once a minute.
    token_file = tmp_path / "token"
    token_file.write_text("first")
    plugin = tmp_path / "plugin.py"
    plugin.write_text(
        "import json, pathlib\n"
        "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', "
        "'kind': 'ExecCredential', 'status': {"
        f"'token': pathlib.Path({str(token_file)!r}).read_text(), "
        "'expirationTimestamp': '2000-01-01T00:00:00Z'}}))\n"
    )
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": sys.executable,
            "args": [str(plugin)],
            "interactiveMode": "Never",
        }
    }
    server.tokens.update({"first", "second"})
    write_kubeconfig(Path(kubeconfig_env["KUBECONFIG"]), server, pki, user)
    clock = FakeClock(0.0)
    api = OperatorApi(api_client_from_environment(kubeconfig_env), clock=clock)
    try:
        await api.apply(CHILD)
        token_file.write_text("second")
        clock.now = 59.0
        await api.apply(CHILD)
        clock.now = 60.0
        await api.apply(CHILD)
    finally:
        await api.close()

    assert server.created_by == ["token:first", "token:first", "token:second"]


class GatedApi(OperatorApi):
    """Records which children were sent; the Role's create waits for the test's go."""

    def __init__(self) -> None:
        super().__init__(k8s.ApiClient(k8s.Configuration(host="http://127.0.0.1:9")))
        self.started: list[str] = []
        self.role_sent = asyncio.Event()
        self.role_done = asyncio.Event()

    async def apply(self, child: Mapping[str, Any]) -> str:
        self.started.append(child["kind"])
        if child["kind"] == "Role":
            self.role_sent.set()
            await self.role_done.wait()
        return "created"


async def test_a_rolebinding_is_not_sent_before_its_role_exists() -> None:
    api = GatedApi()
    body = {
        "metadata": {"name": "b", "namespace": "dev", "uid": "u-1"},
        "spec": {
            "symbol": "BTC/USDT:USDT",
            "risk": {"maxPosition": "0.01", "maxOrderNotional": "1000"},
        },
    }
    reconcile = asyncio.create_task(api.apply_waves(creation_waves(body, "img:1")))
    await api.role_sent.wait()
    # Every create of the Role's wave has started by now; nothing that needs the Role has.
    assert "RoleBinding" not in api.started
    assert "StatefulSet" not in api.started
    api.role_done.set()
    await reconcile
    assert api.started[-2:] == ["RoleBinding", "StatefulSet"]
