"""The kubeconfig file that points kubectl, kopf and the kubernetes client at the sandbox."""

from __future__ import annotations

from pathlib import Path

import yaml

CONTEXT = "tradewarden-sandbox"


def kubeconfig(server_url: str, namespace: str = "default") -> dict[str, object]:
    """A kubeconfig document for a plain-HTTP sandbox API server."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": {"server": server_url}}],
        "users": [{"name": CONTEXT, "user": {"token": "sandbox"}}],
        "contexts": [
            {
                "name": CONTEXT,
                "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": namespace},
            }
        ],
        "current-context": CONTEXT,
        "preferences": {},
    }


def write_kubeconfig(path: Path, server_url: str, namespace: str = "default") -> Path:
    """Write the kubeconfig (owner-readable only) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(kubeconfig(server_url, namespace), sort_keys=False))
    path.chmod(0o600)
    return path
