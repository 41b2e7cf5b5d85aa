"""The resource types the sandbox API server serves: built-in kinds plus CRDs.

A :class:`ResourceType` is what discovery advertises and what storage keys
objects by. Built-in kinds are the ones kopf, the operator, the bot and the pod
runner touch; custom resources are added from CustomResourceDefinitions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]

_VERBS = ("create", "delete", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class PrinterColumn:
    """One additionalPrinterColumn of a CRD version."""

    name: str
    type: str
    json_path: str
    priority: int = 0
    description: str = ""
    format: str = ""


@dataclass(frozen=True)
class ResourceType:
    """One served resource (group, version, plural) and what discovery says about it."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    status_subresource: bool = False
    schema: Obj | None = None
    printer_columns: tuple[PrinterColumn, ...] = ()
    # Verbs advertised in discovery; create-only for the review and token APIs.
    verbs: tuple[str, ...] = _VERBS
    # Subresources served besides status: {name: verbs}, e.g. pods/log, serviceaccounts/token.
    subresources: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # False: a virtual resource (reviews) that is answered, never stored.
    stored: bool = True

    @property
    def api_version(self) -> str:
        """The apiVersion objects of this type carry."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        """Same as api_version; named as discovery documents name it."""
        return self.api_version

    @property
    def group_resource(self) -> str:
        """``plural.group`` (the plural alone for the core group), as API errors name a type."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def singular(self) -> str:
        """The lowercase kind, as Kubernetes derives the singular name."""
        return self.kind.lower()


def _core(
    plural: str,
    kind: str,
    *,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
    status: bool = False,
    subresources: tuple[tuple[str, tuple[str, ...]], ...] = (),
) -> ResourceType:
    return ResourceType(
        "", "v1", plural, kind, namespaced, short, categories, status, subresources=subresources
    )


def _review(group: str, plural: str, kind: str, *, namespaced: bool = False) -> ResourceType:
    return ResourceType(group, "v1", plural, kind, namespaced, verbs=("create",), stored=False)


RBAC = "rbac.authorization.k8s.io"
AUTHORIZATION = "authorization.k8s.io"


BUILTIN_TYPES: tuple[ResourceType, ...] = (
    _core("namespaces", "Namespace", namespaced=False, short=("ns",), status=True),
    _core(
        "pods",
        "Pod",
        short=("po",),
        categories=("all",),
        status=True,
        subresources=(("log", ("get",)),),
    ),
    _core("configmaps", "ConfigMap", short=("cm",)),
    _core("secrets", "Secret"),
    _core("services", "Service", short=("svc",), categories=("all",), status=True),
    _core(
        "serviceaccounts", "ServiceAccount", short=("sa",), subresources=(("token", ("create",)),)
    ),
    _core("events", "Event", short=("ev",)),
    _core("persistentvolumeclaims", "PersistentVolumeClaim", short=("pvc",), status=True),
    ResourceType("apps", "v1", "statefulsets", "StatefulSet", True, ("sts",), ("all",), True),
    ResourceType("apps", "v1", "deployments", "Deployment", True, ("deploy",), ("all",), True),
    ResourceType(RBAC, "v1", "roles", "Role"),
    ResourceType(RBAC, "v1", "rolebindings", "RoleBinding"),
    ResourceType(RBAC, "v1", "clusterroles", "ClusterRole", False),
    ResourceType(RBAC, "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    _review(AUTHORIZATION, "selfsubjectaccessreviews", "SelfSubjectAccessReview"),
    _review(AUTHORIZATION, "selfsubjectrulesreviews", "SelfSubjectRulesReview"),
    _review(AUTHORIZATION, "subjectaccessreviews", "SubjectAccessReview"),
    _review(
        AUTHORIZATION, "localsubjectaccessreviews", "LocalSubjectAccessReview", namespaced=True
    ),
    _review("authentication.k8s.io", "selfsubjectreviews", "SelfSubjectReview"),
    ResourceType("coordination.k8s.io", "v1", "leases", "Lease"),
    ResourceType("events.k8s.io", "v1", "events", "Event", True, ("ev",)),
    ResourceType(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        False,
        ("crd", "crds"),
        (),
        True,
    ),
)


def types_from_crd(crd: Obj) -> list[ResourceType]:
    """The served versions of a CustomResourceDefinition as resource types."""
    spec = crd.get("spec", {})
    names = spec.get("names", {})
    result = []
    for version in spec.get("versions", []):
        if not version.get("served", True):
            continue
        columns = tuple(
            PrinterColumn(
                name=column["name"],
                type=column.get("type", "string"),
                json_path=column["jsonPath"],
                priority=int(column.get("priority", 0)),
                description=column.get("description", ""),
                format=column.get("format", ""),
            )
            for column in version.get("additionalPrinterColumns", [])
        )
        result.append(
            ResourceType(
                group=spec["group"],
                version=version["name"],
                plural=names["plural"],
                kind=names["kind"],
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames", [])),
                categories=tuple(names.get("categories", [])),
                status_subresource="status" in version.get("subresources", {}),
                schema=version.get("schema", {}).get("openAPIV3Schema"),
                printer_columns=columns,
            )
        )
    return result


class Registry:
    """The resource types currently served: built-ins plus those of stored CRDs."""

    def __init__(self) -> None:
        self._types: dict[tuple[str, str, str], ResourceType] = {
            (t.group, t.version, t.plural): t for t in BUILTIN_TYPES
        }
        self._crd_types: dict[str, list[ResourceType]] = {}

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        """The type served at /apis/GROUP/VERSION/PLURAL (or /api/v1/PLURAL)."""
        return self._types.get((group, version, plural))

    def by_plural(self, group: str, plural: str) -> ResourceType | None:
        """Any served version of a type (for the garbage collector)."""
        return next((t for (g, _, p), t in self._types.items() if g == group and p == plural), None)

    def all(self) -> list[ResourceType]:
        """Every served type."""
        return list(self._types.values())

    def set_crd(self, crd: Obj) -> None:
        """Serve (or re-serve) the versions of a stored CRD."""
        self.remove_crd(crd["metadata"]["name"])
        types = types_from_crd(crd)
        self._crd_types[crd["metadata"]["name"]] = types
        for rtype in types:
            self._types[(rtype.group, rtype.version, rtype.plural)] = rtype

    def remove_crd(self, name: str) -> None:
        """Stop serving a deleted CRD's types."""
        for rtype in self._crd_types.pop(name, []):
            self._types.pop((rtype.group, rtype.version, rtype.plural), None)
