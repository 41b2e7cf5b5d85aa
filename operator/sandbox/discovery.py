"""Discovery documents and OpenAPI v3 for the served resource types.

``/api``, ``/api/v1``, ``/apis``, ``/apis/GROUP``, ``/apis/GROUP/VERSION`` and
``/version`` let kubectl and kopf map kinds and short names to URLs.
``/openapi/v3`` and its per group-version documents carry, for every type, a
PATCH operation with ``x-kubernetes-group-version-kind`` and the
``fieldValidation`` parameter (what ``kubectl apply`` checks before it sends
server-side field validation) and, for custom resources, the CRD schema under
``components.schemas`` (what ``kubectl explain`` reads).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from tradewarden.operator.sandbox.resources import Obj, ResourceType

SERVER_VERSION: Obj = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-tradewarden-sandbox",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z",
    "goVersion": "go1.23",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def _groups(types: list[ResourceType]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for rtype in types:
        if rtype.group and rtype.version not in groups.setdefault(rtype.group, []):
            groups[rtype.group].append(rtype.version)
    return groups


def _group_document(group: str, versions: list[str]) -> Obj:
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": entries, "preferredVersion": entries[0]}


def api_versions() -> Obj:
    """``/api``."""
    return {
        "kind": "APIVersions",
        "apiVersion": "v1",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
    }


def api_group_list(types: list[ResourceType]) -> Obj:
    """``/apis``."""
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group_document(g, vs) for g, vs in sorted(_groups(types).items())],
    }


def api_group(types: list[ResourceType], group: str) -> Obj | None:
    """``/apis/GROUP``, or None when the group is not served."""
    versions = _groups(types).get(group)
    if not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_document(group, versions)}


def resource_list(types: list[ResourceType], group: str, version: str) -> Obj | None:
    """``/api/v1`` or ``/apis/GROUP/VERSION``, or None when nothing is served there."""
    selected = [t for t in types if t.group == group and t.version == version]
    if not selected:
        return None
    resources: list[Obj] = []
    for rtype in sorted(selected, key=lambda t: t.plural):
        resources.append(
            {
                "name": rtype.plural,
                "singularName": rtype.singular,
                "namespaced": rtype.namespaced,
                "kind": rtype.kind,
                "verbs": list(rtype.verbs),
                "shortNames": list(rtype.short_names),
                "categories": list(rtype.categories),
            }
        )
        if rtype.status_subresource:
            resources.append(
                {
                    "name": f"{rtype.plural}/status",
                    "singularName": "",
                    "namespaced": rtype.namespaced,
                    "kind": rtype.kind,
                    "verbs": ["get", "patch", "update"],
                }
            )
        for subresource, verbs in rtype.subresources:
            resources.append(
                {
                    "name": f"{rtype.plural}/{subresource}",
                    "singularName": "",
                    "namespaced": rtype.namespaced,
                    "kind": "TokenRequest" if subresource == "token" else rtype.kind,
                    "verbs": list(verbs),
                }
            )
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": selected[0].group_version,
        "resources": resources,
    }


def _openapi_key(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _schema_name(rtype: ResourceType) -> str:
    reversed_group = (
        ".".join(reversed(rtype.group.split("."))) if rtype.group else "io.k8s.api.core"
    )
    return f"{reversed_group}.{rtype.version}.{rtype.kind}"


def _gvk(rtype: ResourceType) -> Obj:
    return {"group": rtype.group, "version": rtype.version, "kind": rtype.kind}


def _operation(rtype: ResourceType, action: str, content_types: list[str]) -> Obj:
    ref = {"$ref": f"#/components/schemas/{_schema_name(rtype)}"}
    return {
        "operationId": f"{action}{rtype.kind}",
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": _gvk(rtype),
        "parameters": [
            {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
            {
                "name": "fieldManager",
                "in": "query",
                "schema": {"type": "string", "uniqueItems": True},
            },
            {
                "name": "fieldValidation",
                "in": "query",
                "schema": {"type": "string", "uniqueItems": True},
            },
        ],
        "requestBody": {"content": {c: {"schema": ref} for c in content_types}},
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": ref}}}
        },
    }


def _paths(rtype: ResourceType) -> Obj:
    prefix = f"/apis/{rtype.group}/{rtype.version}" if rtype.group else f"/api/{rtype.version}"
    scope = "/namespaces/{namespace}" if rtype.namespaced else ""
    patch_types = [
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/apply-patch+yaml",
    ]
    if not rtype.schema:
        patch_types.append("application/strategic-merge-patch+json")
    return {
        f"{prefix}{scope}/{rtype.plural}": {
            "post": _operation(rtype, "post", ["application/json"]),
        },
        f"{prefix}{scope}/{rtype.plural}/{{name}}": {
            "put": _operation(rtype, "put", ["application/json"]),
            "patch": _operation(rtype, "patch", patch_types),
        },
    }


def _component(rtype: ResourceType) -> Obj:
    schema: Obj = json.loads(json.dumps(rtype.schema)) if rtype.schema else {"type": "object"}
    properties = schema.setdefault("properties", {})
    properties.setdefault(
        "apiVersion",
        {
            "type": "string",
            "description": "APIVersion defines the versioned schema of this representation.",
        },
    )
    properties.setdefault(
        "kind",
        {
            "type": "string",
            "description": "Kind is a string value representing the REST resource.",
        },
    )
    properties["metadata"] = {"type": "object", "description": "Standard object's metadata."}
    schema["x-kubernetes-group-version-kind"] = [_gvk(rtype)]
    return schema


def openapi_index(types: list[ResourceType]) -> Obj:
    """``/openapi/v3``: one entry per served group-version."""
    paths: dict[str, Any] = {}
    for key in sorted({_openapi_key(t.group, t.version) for t in types}):
        document = openapi_document(types, key)
        digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()
        paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest[:32].upper()}"}
    return {"paths": paths}


def openapi_document(types: list[ResourceType], key: str) -> Obj | None:
    """``/openapi/v3/apis/GROUP/VERSION`` (or ``.../api/v1``), or None when not served."""
    selected = [t for t in types if _openapi_key(t.group, t.version) == key]
    if not selected:
        return None
    paths: Obj = {}
    schemas: Obj = {}
    for rtype in selected:
        paths.update(_paths(rtype))
        schemas[_schema_name(rtype)] = _component(rtype)
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": SERVER_VERSION["gitVersion"]},
        "paths": paths,
        "components": {"schemas": schemas},
    }
