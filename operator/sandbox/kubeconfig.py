"""The kubeconfig file that points kubectl, kopf and the kubernetes client at the sandbox."""

from __future__ import annotations

import base64
from pathlib import Path

import yaml

CONTEXT = "tradewarden-sandbox"


def kubeconfig(
    server_url: str, ca_pem: bytes, token: str, namespace: str = "default"
) -> dict[str, object]:
    """A kubeconfig for the sandbox API server (trusting its CA), authenticating with ``token``."""
    cluster = {
        "server": server_url,
        "certificate-authority-data": base64.b64encode(ca_pem).decode(),
    }
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": cluster}],
        "users": [{"name": CONTEXT, "user": {"token": token}}],
        "contexts": [
            {
                "name": CONTEXT,
                "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": namespace},
            }
        ],
        "current-context": CONTEXT,
        "preferences": {},
    }


def write_kubeconfig(
    path: Path, server_url: str, ca_pem: bytes, token: str, namespace: str = "default"
) -> Path:
    """Write the kubeconfig (owner-readable only) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        yaml.safe_dump(kubeconfig(server_url, ca_pem, token, namespace), sort_keys=False)
    )
    path.chmod(0o600)
    return path
