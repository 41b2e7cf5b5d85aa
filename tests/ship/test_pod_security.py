"""Installing the chart into a namespace that does not enforce the restricted Pod Security
Standard fails, naming the namespace and the fix: helm renders against the sandbox API server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from tests.ship.conftest import NAMESPACES, ROOT, run_helm, template_args
from tradewarden.api.crd import custom_resource_definition
from tradewarden.operator.sandbox.apiserver import running_api_server

NAMESPACE = NAMESPACES["prod"]
ENFORCE = "pod-security.kubernetes.io/enforce"


@pytest.mark.parametrize(
    ("labels", "refusal"),
    [
        (None, f"namespace {NAMESPACE} does not exist"),
        ({}, f"namespace {NAMESPACE} has no {ENFORCE} label"),
        ({ENFORCE: "baseline"}, f"namespace {NAMESPACE} has {ENFORCE}=baseline"),
        ({ENFORCE: "restricted"}, None),
    ],
)
async def test_install_needs_a_restricted_namespace(
    helm: Path, tmp_path: Path, labels: dict[str, str] | None, refusal: str | None
) -> None:
    async with running_api_server(crds=[custom_resource_definition()]) as api:
        if labels is not None:
            metadata = {"name": NAMESPACE, "labels": labels}
            api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": metadata})
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
        args = template_args(
            "prod", "--dry-run=server", "--disable-openapi-validation",
            "--kubeconfig", str(kubeconfig),
        )  # fmt: skip
        done = await asyncio.to_thread(run_helm, helm, *args)
    if refusal is None:
        # Past the check. The sandbox serves fewer kinds than a cluster (no NetworkPolicy,
        # ClusterRole, PrometheusRule), so helm may still stop at building those objects.
        assert "Pod Security Standard" not in done.stderr, done.stderr
        built = done.returncode == 0 or "unable to build kubernetes objects" in done.stderr
        assert built, done.stderr
    else:
        assert done.returncode != 0
        assert refusal in done.stderr, done.stderr
        assert f"{ENFORCE}=restricted" in done.stderr


def test_gitops_creates_restricted_namespaces() -> None:
    """Argo CD renders without a cluster, so it labels the namespaces it creates; Flux applies
    each environment's Namespace before its HelmRelease."""
    gitops = ROOT / "helm" / "gitops"
    appset = yaml.safe_load((gitops / "argocd" / "applicationset.yaml").read_text())
    spec = appset["spec"]["template"]["spec"]
    assert "CreateNamespace=true" in spec["syncPolicy"]["syncOptions"]
    assert spec["syncPolicy"]["managedNamespaceMetadata"]["labels"][ENFORCE] == "restricted"
    for env, namespace in NAMESPACES.items():
        (manifest,) = yaml.safe_load_all(
            (gitops / "flux" / env / "release" / "namespace.yaml").read_text()
        )
        assert manifest["kind"] == "Namespace"
        assert manifest["metadata"]["name"] == namespace
        assert manifest["metadata"]["labels"][ENFORCE] == "restricted"
