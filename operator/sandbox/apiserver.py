"""The sandbox Kubernetes API server: KMock's serving layer with real API semantics.

Public API::

    async with running_api_server(crds=[crd_dict]) as api:
        api.url                      # "http://127.0.0.1:PORT"
        api.write_kubeconfig(path)   # for kubectl, kopf, the kubernetes client, bots
        api.create(obj) / api.get(api_version, kind_plural, ns, name)  # direct access
        api.store                    # the Store (objects, watches)

It builds on KMock 0.8: :class:`kmock.Server` serves the HTTP port and
:class:`kmock.KubernetesScaffold` (a :class:`kmock.RawHandler`) receives and
parses requests into :class:`kmock.Request`. Stock KubernetesEmulator's
routing, storage and discovery are replaced (``_handle`` is overridden),
because they are wrong for kubectl and kopf in ways that cannot be patched
from outside: ``/api/v1/namespaces`` is parsed as a namespace with no
resource, objects carry no resourceVersion, and every request re-scans the
whole request history. The replacement lives in storage.py (objects,
resourceVersion, watches), discovery.py, tables.py, patches.py,
selectors.py, validation.py, gc.py and protobuf.py (the bodies kubectl's
``create`` generators send); this module only routes. It also serves
``pods/NAME/log`` from the pod runner's log files, for ``kubectl logs``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import contextvars
import ipaddress
import json
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp.test_utils
import aiohttp.web
import attrs
import kmock
import yaml
from typing_extensions import override

from tradewarden.operator.sandbox import (
    discovery,
    events_v1,
    logs,
    managed_fields,
    rbac,
    tables,
)
from tradewarden.operator.sandbox.auth import (
    ANONYMOUS_PATHS,
    BOOTSTRAP,
    DEFAULT_TOKEN_SECONDS,
    MIN_TOKEN_SECONDS,
    Authenticator,
    impersonated,
)
from tradewarden.operator.sandbox.gc import FOREGROUND, ORPHAN, GarbageCollector
from tradewarden.operator.sandbox.kubeconfig import write_kubeconfig
from tradewarden.operator.sandbox.patches import (
    APPLY_PATCH,
    PATCH_REJECTED,
    STRATEGIC_PATCH,
    PatchError,
    apply_patch,
)
from tradewarden.operator.sandbox.protobuf import ProtobufError, decode_object
from tradewarden.operator.sandbox.rbac import Attributes, Policy, User
from tradewarden.operator.sandbox.resources import RBAC, Obj, Registry, ResourceType
from tradewarden.operator.sandbox.selectors import Selection, SelectorError
from tradewarden.operator.sandbox.storage import (
    ApiError,
    Store,
    WatchEvent,
    details,
    not_found,
    now_iso,
)
from tradewarden.operator.sandbox.tls import ServingCertificate, make_serving_certificate
from tradewarden.operator.sandbox.validation import (
    SchemaValidator,
    crd_schema_errors,
    label_errors,
    name_errors,
    prune,
    unknown_fields,
)

PROTOBUF = "application/vnd.kubernetes.protobuf"
_CRDS = ("apiextensions.k8s.io", "customresourcedefinitions")
_DEFAULT_WATCH_SECONDS = 1800
_CLIENT_CHECK_SECONDS = 1.0  # how often an idle watch checks that its client is still there
LOG_POLL_SECONDS = 0.2  # how often ``kubectl logs -f`` looks for more output


@dataclass(frozen=True)
class _Target:
    """What a resource URL addresses."""

    rtype: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None
    # True: events.k8s.io/v1 Events, served from the core Events (see events_v1).
    events_view: bool = False

    def out(self, obj: Obj) -> Obj:
        """An object as this URL shows it."""
        return events_v1.to_v1(obj) if self.events_view else obj

    def into(self, body: Obj) -> Obj:
        """A request body as it is stored."""
        return events_v1.from_v1(body) if self.events_view else body


# The warnings of the request being answered (unknown fields under fieldValidation=Warn).
_WARNINGS: contextvars.ContextVar[list[str]] = contextvars.ContextVar("warnings")
# Who the request writes as in managedFields: fieldManager, else the User-Agent's product.
_MANAGER: contextvars.ContextVar[str] = contextvars.ContextVar("manager", default="sandbox")
# The patch types a custom resource accepts; strategic merge needs Go struct tags it lacks.
CUSTOM_PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
)


def _json(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> aiohttp.web.Response:
    return aiohttp.web.Response(
        text=json.dumps(body), status=status, content_type="application/json", headers=headers
    )


def _split_path(path: str) -> tuple[str, str, list[str]] | None:
    parts = [p for p in path.strip("/").split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        return "", parts[1], parts[2:]
    if len(parts) >= 3 and parts[0] == "apis":
        return parts[1], parts[2], parts[3:]
    return None


def _invalid(rtype: ResourceType, name: str, errors: list[Any]) -> ApiError:
    rendered = [error.render() for error in errors]
    summary = rendered[0] if len(rendered) == 1 else "[" + ", ".join(rendered) + "]"
    qualified = f"{rtype.kind}.{rtype.group}" if rtype.group else rtype.kind
    return ApiError(
        422,
        "Invalid",
        f'{qualified} "{name}" is invalid: {summary}',
        {
            **details(name, rtype.group, rtype.kind),
            "causes": [
                {"reason": e.reason, "message": e.message, "field": e.field} for e in errors
            ],
        },
    )


def _forbidden(attrs: Attributes, message: str) -> ApiError:
    return ApiError(
        403,
        "Forbidden",
        message,
        details(attrs.name, attrs.api_group, attrs.resource) if attrs.resource_request else {},
    )


def _apply_conflict(target: _Target, conflict: managed_fields.ApplyConflict) -> ApiError:
    """409 for an unforced apply that meets other managers' fields, with one cause each."""
    return ApiError(
        409,
        "Conflict",
        str(conflict),
        {
            **details(target.name or "", target.rtype.group, target.rtype.plural),
            "causes": [
                {
                    "reason": "FieldManagerConflict",
                    "message": f"conflict with {label}",
                    "field": "." + ".".join(path),
                }
                for label, path in conflict.conflicts
            ],
        },
    )


def _impersonation(user: User, kind: str, name: str) -> Attributes:
    """What impersonating a user (or ServiceAccount) or group needs the caller to be allowed."""
    prefix = "system:serviceaccount:"
    if kind == "users" and name.startswith(prefix):
        namespace, _, account = name[len(prefix) :].partition(":")
        return Attributes(user, "impersonate", True, "", "serviceaccounts", "", namespace, account)
    return Attributes(user, "impersonate", True, "", kind, "", "", name)


_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}


def _log_since(params: Any, now: datetime) -> str | None:
    """``sinceSeconds``/``sinceTime`` of a log request as an RFC 3339 time, or None."""
    seconds, moment = params.get("sinceSeconds"), params.get("sinceTime")
    try:
        if seconds is not None:
            return logs.rfc3339_nano(now - timedelta(seconds=int(seconds)))
        if moment is not None:
            return logs.rfc3339_nano(datetime.fromisoformat(moment))
    except ValueError:
        raise ApiError(400, "BadRequest", f"invalid since: {seconds or moment!r}") from None
    return None


# The options kind kube-apiserver validates a write's query parameters as, by method.
_OPTIONS_KIND = {
    "POST": "CreateOptions",
    "PUT": "UpdateOptions",
    "PATCH": "PatchOptions",
    "DELETE": "DeleteOptions",
}


def _options_invalid(method: str, field: str, reason: str, message: str) -> ApiError:
    """422 about a query parameter, as kube-apiserver words an invalid CreateOptions & co."""
    kind = _OPTIONS_KIND.get(method, "CreateOptions")
    return ApiError(
        422,
        "Invalid",
        f'{kind}.meta.k8s.io "" is invalid: {field}: {message}',
        {
            "group": "meta.k8s.io",
            "kind": kind,
            "causes": [{"reason": reason, "message": message, "field": field}],
        },
    )


def _dry_run(method: str, params: Any) -> bool:
    """``dryRun=All`` (the only value kube-apiserver accepts); anything else is refused 422."""
    value = params.get("dryRun")
    if value is None:
        return False
    if value != "All":
        message = f'Unsupported value: {json.dumps([value])}: supported values: "All"'
        raise _options_invalid(method, "dryRun", "FieldValueNotSupported", message)
    return True


def request_attributes(user: User, method: str, path: str, params: Any) -> Attributes:
    """What a request asks to do, parsed as kube-apiserver's RequestInfoFactory parses it."""
    split = _split_path(path)
    if split is None or not split[2]:
        verb = {"GET": "get", "HEAD": "get"}.get(method, method.lower())
        return Attributes(user, _VERBS.get(method, verb), resource_request=False, path=path)
    group, _, rest = split
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in ("status", "finalize"):
            rest = rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    if method in ("GET", "HEAD"):
        verb = "get" if name else "list"
        if params.get("watch") in ("true", "1"):
            verb = "watch"
    elif method == "DELETE":
        verb = "delete" if name else "deletecollection"
    else:
        verb = _VERBS.get(method, method.lower())
    if not name and verb in ("list", "watch", "deletecollection"):
        # A list or watch of one name (fieldSelector metadata.name=X) is authorized by name.
        for term in (params.get("fieldSelector") or "").split(","):
            key, _, value = term.partition("=")
            if key.strip() == "metadata.name" and value:
                name = value.lstrip("=").strip()
    return Attributes(user, verb, True, group, resource, subresource, namespace, name, path)


@dataclass(frozen=True)
class ServerKeys:
    """The serving certificate and the admin token: kept across a restart, as a real server's."""

    tls: ServingCertificate
    admin_token: str


class SandboxApi:
    """Routes API requests onto the store; one instance per running server."""

    def __init__(
        self,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        keys: ServerKeys | None = None,
    ) -> None:
        self.clock = clock
        self.store = Store(clock)
        self.registry = Registry()
        self.url = ""
        # Compiled once per CRD schema (jsonschema and CEL), not per request.
        self._validators: dict[int, tuple[Obj, SchemaValidator]] = {}
        # Where a container's log file lives (namespace, pod, container), once a pod
        # runner serves logs; ``kubectl logs`` reads pods/NAME/log.
        self.pod_logs: Callable[[str, str, str], Path] | None = None
        self._in_outage = False
        self._next_cluster_ip = 9  # 10.96.0.1 is the kubernetes Service's on a real cluster
        # (method, path) of each request refused during an outage, oldest first.
        self.refused: list[tuple[str, str]] = []
        GarbageCollector(self.store, self.registry.by_plural).attach()
        self.store.on_changed.append(self._crd_changed)
        self.store.on_removed.append(self._crd_removed)
        self.store.on_changed.append(self._namespace_changed)
        namespaces = self._type("", "v1", "namespaces")
        for namespace in ("default", "kube-system"):
            self.store.create(namespaces, None, {"metadata": {"name": namespace}})
        self.tls = keys.tls if keys is not None else make_serving_certificate(clock())
        self.auth = Authenticator(
            clock, self._service_account_uid, keys.admin_token if keys is not None else None
        )
        # Rebuilt from the store after any RBAC object changes, not per request.
        self._policy: Policy | None = None
        self.store.on_changed.append(self._rbac_changed)
        self.store.on_removed.append(self._rbac_changed)
        for obj in BOOTSTRAP:
            self.create(obj)

    # ---- direct access (tests, the sandbox command) -----------------------------------

    def _type(self, group: str, version: str, plural: str) -> ResourceType:
        rtype = self.registry.lookup(group, version, plural)
        if rtype is None:
            raise ApiError(
                404,
                "NotFound",
                f"the server could not find the requested resource ({group}/{version} {plural})",
            )
        return rtype

    def type_of(self, api_version: str, kind: str) -> ResourceType:
        """The served type of an apiVersion + kind."""
        group, _, version = api_version.rpartition("/")
        for rtype in self.registry.all():
            if rtype.group == group and rtype.version == version and rtype.kind == kind:
                return rtype
        raise ApiError(404, "NotFound", f"no matches for kind {kind!r} in version {api_version!r}")

    def create(self, obj: Obj, namespace: str | None = None) -> Obj:
        """Create an object as a POST would (validated, CRDs served at once)."""
        rtype = self.type_of(obj["apiVersion"], obj["kind"])
        return self._create(rtype, namespace, obj, "Strict")

    @contextlib.contextmanager
    def outage(self) -> Iterator[None]:
        """Answer every new request with 503 meanwhile, as a control plane that is down.

        Watches already open stay open; they carry only what the pod runner
        writes to the store directly, since no write over HTTP gets through.
        """
        self._in_outage = True
        try:
            yield
        finally:
            self._in_outage = False

    def write_kubeconfig(self, path: Path, namespace: str = "default") -> Path:
        """Write the admin's kubeconfig (``system:masters``: allowed everything)."""
        return write_kubeconfig(path, self.url, self.tls.ca_pem, self.auth.admin_token, namespace)

    @property
    def keys(self) -> ServerKeys:
        """What a restarted server needs to be the same server to its clients."""
        return ServerKeys(self.tls, self.auth.admin_token)

    @property
    def client_ssl(self) -> ssl.SSLContext:
        """An SSL context trusting the server's CA, for raw HTTP clients."""
        return self.tls.client_context()

    @property
    def admin_headers(self) -> dict[str, str]:
        """The Authorization header of the admin's kubeconfig, for raw HTTP clients."""
        return {"Authorization": f"Bearer {self.auth.admin_token}"}

    def service_account_token(
        self, namespace: str, name: str, seconds: int = DEFAULT_TOKEN_SECONDS
    ) -> str:
        """A token of an existing ServiceAccount, as the TokenRequest API mints it."""
        sa = self.store.get(self._type("", "v1", "serviceaccounts"), namespace, name)
        token, _ = self.auth.mint(namespace, name, sa["metadata"]["uid"], seconds)
        return token

    def write_service_account_kubeconfig(
        self, path: Path, namespace: str, name: str, seconds: int = DEFAULT_TOKEN_SECONDS
    ) -> Path:
        """Write a kubeconfig that authenticates as ``system:serviceaccount:NS:NAME``."""
        token = self.service_account_token(namespace, name, seconds)
        return write_kubeconfig(path, self.url, self.tls.ca_pem, token, namespace)

    def _service_account_uid(self, namespace: str, name: str) -> str | None:
        found = self.store.find(self._type("", "v1", "serviceaccounts"), namespace, name)
        return None if found is None else str(found["metadata"]["uid"])

    # ---- hooks ---------------------------------------------------------------------------

    def _crd_changed(self, rtype: ResourceType, obj: Obj) -> None:
        if (rtype.group, rtype.plural) == _CRDS:
            self.registry.set_crd(obj)

    def _crd_removed(self, rtype: ResourceType, obj: Obj) -> None:
        if (rtype.group, rtype.plural) == _CRDS:
            self.registry.remove_crd(obj["metadata"]["name"])

    def _namespace_changed(self, rtype: ResourceType, obj: Obj) -> None:
        """Each live namespace has a ``default`` ServiceAccount, as the controller-manager makes."""
        if (rtype.group, rtype.plural) != ("", "namespaces"):
            return
        namespace = obj["metadata"]["name"]
        if obj["metadata"].get("deletionTimestamp"):
            return
        accounts = self._type("", "v1", "serviceaccounts")
        if self.store.find(accounts, namespace, "default") is None:
            self.store.create(accounts, namespace, {"metadata": {"name": "default"}})

    def _rbac_changed(self, rtype: ResourceType, obj: Obj) -> None:
        if rtype.group == RBAC:
            self._policy = None

    def policy(self) -> Policy:
        """The stored Roles, ClusterRoles and bindings, as RBAC decisions read them."""
        if self._policy is None:

            def objects(plural: str) -> list[Obj]:
                return self.store.list_objects(self._type(RBAC, "v1", plural), None)

            roles: dict[str, dict[str, Obj]] = {}
            for role in objects("roles"):
                meta = role["metadata"]
                roles.setdefault(meta["namespace"], {})[meta["name"]] = role
            bindings: dict[str, list[Obj]] = {}
            for binding in objects("rolebindings"):
                bindings.setdefault(binding["metadata"]["namespace"], []).append(binding)
            self._policy = Policy(
                cluster_roles={r["metadata"]["name"]: r for r in objects("clusterroles")},
                cluster_role_bindings=objects("clusterrolebindings"),
                roles=roles,
                role_bindings=bindings,
            )
        return self._policy

    # ---- authentication and authorization -----------------------------------------------

    def _authenticate(self, request: kmock.Request) -> User | None:
        """The requesting identity (None: an anonymous health check); 401 without one."""
        raw = request._raw_request
        assert raw is not None
        user = self.auth.authenticate(raw.headers.get("Authorization"))
        if user is None:
            if request.url.path.rstrip("/") in ANONYMOUS_PATHS:
                return None
            raise ApiError(401, "Unauthorized", "Unauthorized")
        wanted = raw.headers.get("Impersonate-User")
        groups = raw.headers.getall("Impersonate-Group", [])
        if not wanted:
            if groups:
                raise ApiError(
                    500,
                    "InternalError",
                    "Internal error occurred: requested [{Kind=Group Namespace= Name="
                    + f"{groups[0]}"
                    + "}] without impersonating a user",
                )
            return user
        checks = [_impersonation(user, "users", wanted)]
        checks += [_impersonation(user, "groups", group) for group in groups]
        for check in checks:
            self._authorize(check)
        return impersonated(wanted, list(groups))

    def _authorize(self, attrs: Attributes) -> None:
        decision = rbac.authorize(attrs, self.policy())
        if not decision.allowed:
            raise _forbidden(attrs, rbac.forbidden_message(attrs, decision.reason))

    def _can(self, attrs: Attributes) -> bool:
        return rbac.authorize(attrs, self.policy()).allowed

    # ---- writes --------------------------------------------------------------------------

    def _validator(self, schema: Obj) -> SchemaValidator:
        cached = self._validators.get(id(schema))
        if cached is None or cached[0] is not schema:
            cached = (schema, SchemaValidator(schema))
            self._validators[id(schema)] = cached
        return cached[1]

    def _admit(
        self,
        rtype: ResourceType,
        name: str,
        obj: Obj,
        old: Obj | None,
        field_validation: str,
        *,
        subresource: str | None = None,
    ) -> tuple[Obj, list[str]]:
        """Prune or reject unknown fields, default, validate; returns (object, warnings)."""
        warnings: list[str] = []
        if rtype.kind == "Secret":
            obj = {"type": "Opaque", **obj}  # the API server's default
            if "stringData" in obj:
                data = dict(obj.get("data") or {})
                for key, value in obj.pop("stringData").items():
                    data[key] = base64.b64encode(str(value).encode()).decode()
                obj["data"] = data
        if (rtype.group, rtype.plural) == ("", "services"):
            obj = self._service_defaults(obj, old)
        if (rtype.group, rtype.plural) == _CRDS:
            errors = crd_schema_errors(obj)
            if errors:
                raise _invalid(rtype, name, errors)
            obj = dict(obj)
            names = obj.get("spec", {}).get("names", {})
            obj["status"] = {
                "acceptedNames": names,
                "storedVersions": [
                    v["name"] for v in obj.get("spec", {}).get("versions", []) if v.get("storage")
                ],
                "conditions": [
                    {
                        "type": t,
                        "status": "True",
                        "reason": t,
                        "message": "",
                        "lastTransitionTime": "2025-01-01T00:00:00Z",
                    }
                    for t in ("NamesAccepted", "Established")
                ],
            }
        labels = label_errors(obj.get("metadata") or {})
        if rtype.schema is None:
            if labels:
                raise _invalid(rtype, name, labels)
            return obj, warnings
        validator = self._validator(rtype.schema)
        unknown = unknown_fields(rtype.schema, obj)
        if unknown and field_validation == "Strict":
            listed = ", ".join(f'unknown field "{u}"' for u in unknown)
            raise ApiError(
                400,
                "BadRequest",
                f'{rtype.kind} in version "{rtype.version}" cannot be handled as a '
                f"{rtype.kind}: strict decoding error: {listed}",
            )
        if unknown:
            warnings = [f'unknown field "{u}"' for u in unknown]
            obj = prune(rtype.schema, obj)
        obj = validator.default(obj)
        # A new object's name; on update the name cannot change.
        metadata = obj.get("metadata") or {}
        metadata_errors = [*(name_errors(metadata) if old is None else []), *labels]
        errors = validator.validate(obj, old, metadata_errors, status_only=subresource == "status")
        if errors:
            raise _invalid(rtype, name, errors)
        return obj, warnings

    def _service_defaults(self, service: Obj, old: Obj | None) -> Obj:
        """A Service's defaults: type, port protocol and targetPort, and a cluster IP.

        The cluster IP is allocated on create from 10.96.0.0/12 (the service CIDR of
        kubeadm) and kept on update when the new spec leaves it out, as a real server does.
        """
        spec = dict(service.get("spec") or {})
        kind = spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        spec["ports"] = [
            {"protocol": "TCP", "targetPort": port.get("port"), **port}
            for port in spec.get("ports") or []
        ]
        if kind != "ExternalName" and not spec.get("clusterIP"):
            previous = ((old or {}).get("spec") or {}).get("clusterIP")
            if previous:
                spec["clusterIP"] = previous
            else:
                self._next_cluster_ip += 1
                spec["clusterIP"] = str(ipaddress.ip_address("10.96.0.0") + self._next_cluster_ip)
        if spec.get("clusterIP"):
            spec["clusterIPs"] = [spec["clusterIP"]]
        return {**service, "spec": spec}

    def _create(
        self,
        rtype: ResourceType,
        namespace: str | None,
        body: Obj,
        field_validation: str,
        user: User | None = None,
        *,
        dry_run: bool = False,
        record: bool = True,
    ) -> Obj:
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the request body must be a JSON object")
        meta = body.get("metadata", {})
        if rtype.namespaced:
            namespace = namespace or meta.get("namespace") or "default"
            if self.store.find(self._type("", "v1", "namespaces"), "", namespace) is None:
                raise not_found(self._type("", "v1", "namespaces"), namespace)
        if not meta.get("name") and meta.get("generateName"):
            # Named before it is validated, as kube-apiserver does (the name is checked too).
            generated = self.store.generate_name(rtype, namespace, str(meta["generateName"]))
            body = {**body, "metadata": {**meta, "name": generated}}
        if rtype.status_subresource and rtype.schema is not None:
            # A create sets no status where /status is its own subresource; it is not checked.
            body = {key: value for key, value in body.items() if key != "status"}
        name = body.get("metadata", {}).get("name") or ""
        admitted, warnings = self._admit(rtype, name, body, None, field_validation)
        _WARNINGS.get([]).extend(warnings)
        if record:
            fields = managed_fields.record_update(None, admitted, self._writer(rtype))
            admitted.setdefault("metadata", {})["managedFields"] = fields or []
        if user is not None:
            self._admit_access(user, rtype, namespace or "", admitted, None)
        return self.store.create(rtype, namespace, admitted, dry_run=dry_run)

    def _update(
        self,
        target: _Target,
        body: Obj,
        field_validation: str,
        user: User | None = None,
        *,
        dry_run: bool = False,
        record: bool = True,
    ) -> Obj:
        assert target.name is not None
        namespace = target.namespace or ""
        current = self.store.get(target.rtype, namespace, target.name)
        if target.subresource == "status":
            candidate = dict(current)
            candidate["status"] = body.get("status")
            candidate["metadata"] = {
                **current["metadata"],
                "resourceVersion": body.get("metadata", {}).get("resourceVersion")
                or current["metadata"]["resourceVersion"],
            }
        elif target.rtype.status_subresource and target.rtype.schema is not None:
            # The main resource's update keeps the stored status; what it sent is not checked.
            candidate = {key: value for key, value in body.items() if key != "status"}
            if "status" in current:
                candidate["status"] = current["status"]
        else:
            candidate = body
        admitted, warnings = self._admit(
            target.rtype,
            target.name,
            candidate,
            current,
            field_validation,
            subresource=target.subresource,
        )
        _WARNINGS.get([]).extend(warnings)
        meta = admitted.setdefault("metadata", {})
        fields = None
        if record:
            writer = self._writer(target.rtype)
            fields = managed_fields.record_update(
                current, admitted, writer, target.subresource or ""
            )
        if fields is not None:
            meta["managedFields"] = fields
        elif record:
            meta["managedFields"] = current["metadata"].get("managedFields") or []
        if user is not None:
            self._admit_access(user, target.rtype, namespace, admitted, current)
        return self.store.update(
            target.rtype,
            namespace,
            target.name,
            admitted,
            subresource=target.subresource,
            dry_run=dry_run,
        )

    def _writer(self, rtype: ResourceType) -> managed_fields.Writer:
        return managed_fields.Writer(_MANAGER.get(), rtype.api_version, now_iso(self.clock))

    # ---- admission that depends on who asks ------------------------------------------------

    def _admit_access(
        self, user: User, rtype: ResourceType, namespace: str, obj: Obj, old: Obj | None
    ) -> None:
        """OwnerReferencesPermissionEnforcement and RBAC's escalation checks."""
        name = obj.get("metadata", {}).get("name", "")
        attrs = Attributes(user, "", True, rtype.group, rtype.plural, "", namespace, name)
        self._check_owner_references(attrs, obj, old)
        if rtype.group == RBAC:
            self._check_escalation(user, rtype, namespace, name, obj)

    def _check_owner_references(self, attrs: Attributes, obj: Obj, old: Obj | None) -> None:
        """Who may set ownerReferences, worded as the admission plugin words its refusals."""
        refs = obj.get("metadata", {}).get("ownerReferences") or []
        old_refs = (old or {}).get("metadata", {}).get("ownerReferences") or []
        if refs == old_refs:
            return
        user, namespace = attrs.user, attrs.namespace
        # Changing them takes the delete permission on the object; a create sets them freely.
        if old is not None and not self._can(replace(attrs, verb="delete")):
            raise _forbidden(
                attrs,
                rbac.forbidden_object(
                    attrs, "cannot set an ownerRef on a resource you can't delete: , <nil>"
                ),
            )
        blocking_before = {r.get("uid") for r in old_refs if r.get("blockOwnerDeletion")}
        new_blocking = [
            r for r in refs if r.get("blockOwnerDeletion") and r.get("uid") not in blocking_before
        ]
        if not new_blocking:
            return
        anything = Attributes(user, "update", True, "*", "*", "finalizers")
        if self._can(anything):
            return
        for ref in new_blocking:
            group = str(ref.get("apiVersion", "")).rpartition("/")[0]
            owners = [
                t for t in self.registry.all() if t.group == group and t.kind == ref.get("kind")
            ]
            for owner in owners[:1]:
                finalize = Attributes(
                    user, "update", True, group, owner.plural, "finalizers",
                    namespace if owner.namespaced else "", str(ref.get("name", "")),
                )  # fmt: skip
                if not self._can(finalize):
                    raise _forbidden(
                        attrs,
                        rbac.forbidden_object(
                            attrs,
                            "cannot set blockOwnerDeletion if an ownerReference refers to a "
                            "resource you can't set finalizers on: , <nil>",
                        ),
                    )

    def _check_escalation(
        self, user: User, rtype: ResourceType, namespace: str, name: str, obj: Obj
    ) -> None:
        """A Role may grant, and a binding bind, only what its author holds or may escalate/bind."""
        attrs = Attributes(user, "", True, RBAC, rtype.plural, "", namespace, name)
        if rtype.plural in ("roles", "clusterroles"):
            if self._can(replace(attrs, verb="escalate")):
                return
            rules = list(obj.get("rules") or [])
        else:
            ref = obj.get("roleRef") or {}
            role_plural = "clusterroles" if ref.get("kind") == "ClusterRole" else "roles"
            role_scope = "" if role_plural == "clusterroles" else namespace
            bind = Attributes(
                user, "bind", True, RBAC, role_plural, "", namespace, str(ref.get("name", ""))
            )
            if self._can(bind):
                return
            role = self.store.find(
                self._type(RBAC, "v1", role_plural), role_scope, str(ref.get("name", ""))
            )
            if role is None:
                raise not_found(self._type(RBAC, "v1", role_plural), str(ref.get("name", "")))
            rules = list(role.get("rules") or [])
        missing = rbac.missing_rights(rules, user, namespace, self.policy())
        if missing:
            raise _forbidden(
                attrs, rbac.forbidden_object(attrs, rbac.escalation_message(user, missing))
            )

    # ---- routing -------------------------------------------------------------------------

    async def route(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        """Answer one request."""
        if self._in_outage:
            self.refused.append((str(request.method.value).upper(), request.url.path))
            outage = ApiError(503, "ServiceUnavailable", "the API server is unavailable (outage)")
            return _json(outage.as_status(), 503)
        warnings: list[str] = []
        _WARNINGS.set(warnings)
        agent = request.headers.get("User-Agent", "").split("/", maxsplit=1)[0]
        _MANAGER.set(request.params.get("fieldManager") or agent or "unknown")
        try:
            user = self._authenticate(request)
            if user is not None:
                method = str(request.method.value).upper()
                self._authorize(request_attributes(user, method, request.url.path, request.params))
            response = await self._route(request, user)
            for warning in warnings:
                # RFC 7234 warn-code 299, as kube-apiserver sends them (kubectl prints each).
                escaped = warning.replace("\\", "\\\\").replace('"', '\\"')
                response.headers.add("Warning", f'299 - "{escaped}"')
            return response
        except ApiError as error:
            return _json(error.as_status(), error.status)
        except PatchError as error:
            if error.status == 422:
                refused = ApiError(422, "Invalid", PATCH_REJECTED, details={})
            else:
                reason = {415: "UnsupportedMediaType"}.get(error.status, "BadRequest")
                refused = ApiError(error.status, reason, str(error))
            return _json(refused.as_status(), error.status)
        except SelectorError as error:
            return _json(ApiError(400, "BadRequest", str(error)).as_status(), 400)

    async def _route(self, request: kmock.Request, user: User | None) -> aiohttp.web.StreamResponse:
        path = request.url.path
        method = str(request.method.value).upper()
        if method == "GET":
            document = self._discovery(path)
            if document is not None:
                return _json(document)
        target = self._target(path)
        if target is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if PROTOBUF in request.headers.get("Content-Type", "") and request.data is None:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an "
                "unknown format - accepted media types include: application/json",
            )
        params = request.params
        if target.subresource == "log":
            raw = request._raw_request
            assert raw is not None
            return await self._log(raw, target, params)
        assert user is not None, "only health checks are served anonymously"
        if not target.rtype.stored or target.subresource == "token":
            if method != "POST":
                raise ApiError(405, "MethodNotAllowed", f"{method} is not supported")
            body = request.data if isinstance(request.data, dict) else {}
            if target.subresource == "token":
                return _json(self._token_request(target, body), 201)
            return _json(self._review(target, body, user), 201)
        field_validation = params.get("fieldValidation", "")
        dry_run = _dry_run(method, params) if method != "GET" else False
        if method == "GET" and target.name is None:
            selection = Selection.parse(params.get("labelSelector"), params.get("fieldSelector"))
            accept = request.headers.get("Accept", "")
            if params.get("watch") in ("true", "1"):
                raw = request._raw_request
                assert raw is not None
                return await self._watch(raw, target, selection, params, accept)
            include = params.get("includeObject") or "Metadata"
            return _json(self._list(target, selection, accept, include))
        if method == "GET":
            assert target.name is not None
            obj = self.store.get(target.rtype, target.namespace or "", target.name)
            if tables.wants_table(request.headers.get("Accept", "")):
                version = obj["metadata"]["resourceVersion"]
                include = params.get("includeObject") or "Metadata"
                return _json(tables.table(target.rtype, [obj], version, self.clock(), include))
            return _json(target.out(obj))
        if method == "POST" and target.name is None:
            body = target.into(request.data if isinstance(request.data, dict) else {})
            created = self._create(
                target.rtype, target.namespace, body, field_validation, user, dry_run=dry_run
            )
            return _json(target.out(created), 201)
        if target.name is None:
            raise ApiError(405, "MethodNotAllowed", f"{method} is not supported on collections")
        if method == "PUT":
            body = target.into(request.data if isinstance(request.data, dict) else {})
            updated = self._update(target, body, field_validation, user, dry_run=dry_run)
            return _json(target.out(updated))
        if method == "PATCH":
            return self._patch(request, target, field_validation, user, dry_run=dry_run)
        if method == "DELETE":
            return _json(target.out(self._delete(request, target, dry_run=dry_run)))
        raise ApiError(405, "MethodNotAllowed", f"{method} is not supported")

    def _patch(
        self,
        request: kmock.Request,
        target: _Target,
        field_validation: str,
        user: User,
        *,
        dry_run: bool,
    ) -> aiohttp.web.Response:
        assert target.name is not None
        content_type = request.headers.get("Content-Type", "")
        if target.rtype.schema is not None and content_type.startswith(STRATEGIC_PATCH):
            raise ApiError(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types "
                "include: " + ", ".join(CUSTOM_PATCH_TYPES),
            )
        if content_type.startswith(APPLY_PATCH):
            patch = yaml.safe_load(request.text)
        else:
            try:
                patch = json.loads(request.text)
            except ValueError as error:
                raise ApiError(400, "BadRequest", f"invalid JSON patch body: {error}") from None
        current = self.store.find(target.rtype, target.namespace or "", target.name)
        if content_type.startswith(APPLY_PATCH):
            if not isinstance(patch, dict):
                raise ApiError(400, "BadRequest", "the applied configuration must be an object")
            if not request.params.get("fieldManager"):
                raise _options_invalid(
                    "PATCH",
                    "fieldManager",
                    "FieldValueRequired",
                    "Required value: is required for apply patch",
                )
            force = request.params.get("force") == "true"
            try:
                applied = managed_fields.apply(
                    current or {}, patch, self._writer(target.rtype), force=force
                )
            except managed_fields.ApplyConflict as conflict:
                raise _apply_conflict(target, conflict) from None
            if current is None:
                created = self._create(
                    target.rtype, target.namespace, applied, "Strict", user,
                    dry_run=dry_run, record=False,
                )  # fmt: skip
                return _json(created, 201)
            return _json(
                self._update(target, applied, field_validation, user, dry_run=dry_run, record=False)
            )
        if current is None:
            raise ApiError(404, "NotFound", f'{target.rtype.plural} "{target.name}" not found')
        patched = target.into(apply_patch(content_type, target.out(current), patch))
        updated = self._update(target, patched, field_validation, user, dry_run=dry_run)
        return _json(target.out(updated))

    # ---- reviews and tokens ----------------------------------------------------------------

    def _token_request(self, target: _Target, body: Obj) -> Obj:
        """TokenRequest: a token bound to the ServiceAccount (``kubectl create token``)."""
        assert target.name is not None
        namespace = target.namespace or ""
        sa = self.store.get(target.rtype, namespace, target.name)
        spec = dict(body.get("spec") or {})
        seconds = int(spec.get("expirationSeconds") or DEFAULT_TOKEN_SECONDS)
        if seconds < MIN_TOKEN_SECONDS:
            raise ApiError(
                422,
                "Invalid",
                f'TokenRequest.authentication.k8s.io "{target.name}" is invalid: '
                "spec.expirationSeconds: Invalid value: "
                f"{seconds}: may not specify a duration less than 10 minutes",
            )
        token, expires = self.auth.mint(namespace, target.name, sa["metadata"]["uid"], seconds)
        spec["expirationSeconds"] = seconds
        spec.setdefault("audiences", ["https://kubernetes.default.svc.cluster.local"])
        return {
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {
                "name": target.name,
                "namespace": namespace,
                "creationTimestamp": None,
            },
            "spec": spec,
            "status": {
                "token": token,
                "expirationTimestamp": expires.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
        }

    def _review(self, target: _Target, body: Obj, user: User) -> Obj:
        """Answer a SelfSubjectReview or a (Self/Local)SubjectAccessReview or RulesReview."""
        kind = target.rtype.kind
        spec: Obj = dict(body.get("spec") or {})
        answer: Obj = {
            "kind": kind,
            "apiVersion": target.rtype.api_version,
            "metadata": {"creationTimestamp": None},
            "spec": spec,
        }
        if kind == "SelfSubjectReview":
            info: Obj = {"username": user.name, "groups": list(user.groups)}
            if user.uid:
                info["uid"] = user.uid
            answer["status"] = {"userInfo": info}
            return answer
        if kind == "SelfSubjectRulesReview":
            resource_rules, url_rules, error = rbac.rules_for(
                user, str(spec.get("namespace") or ""), self.policy()
            )
            status: Obj = {
                "resourceRules": resource_rules,
                "nonResourceRules": url_rules,
                "incomplete": bool(error),
            }
            if error:
                status["evaluationError"] = error
            answer["status"] = status
            return answer
        subject = user
        if kind in ("SubjectAccessReview", "LocalSubjectAccessReview"):
            subject = User(
                str(spec.get("user") or ""), tuple(spec.get("groups") or ()), spec.get("uid", "")
            )
        resource = spec.get("resourceAttributes")
        if kind == "LocalSubjectAccessReview":
            resource = {**(resource or {}), "namespace": target.namespace or ""}
        if resource is not None:
            attrs = Attributes(
                subject,
                str(resource.get("verb", "")),
                True,
                str(resource.get("group", "")),
                str(resource.get("resource", "")),
                str(resource.get("subresource", "")),
                str(resource.get("namespace", "")),
                str(resource.get("name", "")),
            )
        else:
            url = spec.get("nonResourceAttributes") or {}
            attrs = Attributes(
                subject, str(url.get("verb", "")), resource_request=False, path=url.get("path", "")
            )
        decision = rbac.authorize(attrs, self.policy())
        answer["status"] = {"allowed": decision.allowed}
        if decision.reason:
            answer["status"]["reason"] = decision.reason
        return answer

    def _delete(self, request: kmock.Request, target: _Target, *, dry_run: bool) -> Obj:
        assert target.name is not None
        options = request.data if isinstance(request.data, dict) else {}
        policy = options.get("propagationPolicy") or request.params.get("propagationPolicy")
        if options.get("orphanDependents") is True:
            policy = "Orphan"
        extra = {"Foreground": (FOREGROUND,), "Orphan": (ORPHAN,)}.get(policy or "", ())
        preconditions = options.get("preconditions") or {}
        return self.store.delete(
            target.rtype,
            target.namespace or "",
            target.name,
            extra_finalizers=extra,
            precondition_uid=preconditions.get("uid"),
            precondition_version=preconditions.get("resourceVersion"),
            dry_run=dry_run or "All" in (options.get("dryRun") or []),
        )

    async def _log(
        self, raw: aiohttp.web.BaseRequest, target: _Target, params: Any
    ) -> aiohttp.web.StreamResponse:
        """A pod container's log as plain text, as kubectl wants it.

        ``container``, ``tailLines``, ``previous`` (the run before the current one),
        ``timestamps``, ``sinceSeconds``/``sinceTime`` (by the times the runner
        noted) and ``follow`` (stream what the running container writes until it
        stops or the client goes) are honoured.
        """
        assert target.name is not None
        namespace = target.namespace or ""
        pod = self.store.get(target.rtype, namespace, target.name)
        containers = [c["name"] for c in pod.get("spec", {}).get("containers", [])]
        container = params.get("container") or (containers[0] if containers else "")
        if container not in containers:
            raise ApiError(
                400, "BadRequest", f"container {container} is not valid for pod {target.name}"
            )
        now = self.clock()
        since = _log_since(params, now)
        timestamps = params.get("timestamps") == "true"
        path = None if self.pod_logs is None else self.pod_logs(namespace, target.name, container)
        text, offset = logs.read_from(path, 0)
        all_runs = logs.timed_runs(text, logs.read_times(path))
        previous = params.get("previous") == "true"
        if previous and len(all_runs) < 2:
            raise ApiError(
                400,
                "BadRequest",
                f'previous terminated container "{container}" in pod "{target.name}" not found',
            )
        run = all_runs[-2] if previous else all_runs[-1]
        rendered = logs.render(run, since=since, timestamps=timestamps, now=logs.rfc3339_nano(now))
        shown = logs.tail(rendered, params.get("tailLines"))
        if previous or params.get("follow") != "true" or path is None:
            return aiohttp.web.Response(text=shown, content_type="text/plain")
        response = aiohttp.web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(raw)
        await response.write(shown.encode())
        await self._follow(raw, response, target, path, offset, timestamps=timestamps)
        return response

    async def _follow(
        self,
        raw: aiohttp.web.BaseRequest,
        response: aiohttp.web.StreamResponse,
        target: _Target,
        path: Path,
        offset: int,
        *,
        timestamps: bool,
    ) -> None:
        """Stream what is appended to ``path`` while this run of the container lasts.

        The runner's processes write to the file directly, so, like the kubelet
        without inotify, it is polled. The stream ends when the container restarts,
        the pod goes, or the client leaves.
        """
        namespace, name = target.namespace or "", target.name or ""
        uid = self.store.get(target.rtype, namespace, name)["metadata"]["uid"]
        with contextlib.suppress(ConnectionResetError):
            while not _client_gone(raw):
                current = self.store.find(target.rtype, namespace, name)
                if current is None or current["metadata"]["uid"] != uid:
                    break
                text, offset = logs.read_from(path, offset)
                output, restarted = logs.until_restart(text)
                if output and timestamps:
                    stamp = logs.rfc3339_nano(self.clock())
                    output = "".join(f"{stamp} {line}" for line in output.splitlines(True))
                if output:
                    await response.write(output.encode())
                if restarted:
                    break  # this run of the container is over
                await asyncio.sleep(LOG_POLL_SECONDS)
            await response.write_eof()

    def _list(self, target: _Target, selection: Selection, accept: str, include: str) -> Obj:
        objects = [
            obj
            for obj in self.store.list_objects(target.rtype, target.namespace)
            if selection.selects(obj)
        ]
        revision = str(self.store.revision)
        if tables.wants_table(accept):
            shown = tables.table(target.rtype, objects, revision, self.clock(), include)
            if include == "Object":
                for row in shown["rows"]:
                    row["object"] = target.out(row["object"])
            return shown
        return {
            "kind": f"{target.rtype.kind}List",
            "apiVersion": events_v1.API_VERSION if target.events_view else target.rtype.api_version,
            "metadata": {"resourceVersion": revision},
            "items": [target.out(obj) for obj in objects],
        }

    def _discovery(self, path: str) -> Obj | None:
        types = self.registry.all()
        parts = [p for p in path.strip("/").split("/") if p]
        if path.rstrip("/") in ("/healthz", "/readyz", "/livez"):
            return {"status": "ok"}
        if parts == ["version"]:
            return discovery.SERVER_VERSION
        if parts == ["api"]:
            return discovery.api_versions()
        if parts == ["apis"]:
            return discovery.api_group_list(types)
        if parts == ["openapi", "v3"]:
            return discovery.openapi_index(types)
        if parts[:2] == ["openapi", "v3"]:
            return discovery.openapi_document(types, "/".join(parts[2:])) or _missing()
        if len(parts) == 2 and parts[0] == "apis":
            return discovery.api_group(types, parts[1]) or _missing()
        if len(parts) == 3 and parts[0] == "apis":
            return discovery.resource_list(types, parts[1], parts[2]) or _missing()
        if len(parts) == 2 and parts[0] == "api":
            return discovery.resource_list(types, "", parts[1]) or _missing()
        return None

    def _target(self, path: str) -> _Target | None:
        split = _split_path(path)
        if split is None:
            return None
        group, version, rest = split
        namespace: str | None = None
        if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
            namespace, rest = rest[1], rest[2:]
        if not rest:
            return None
        rtype = self._type(group, version, rest[0])
        name = rest[1] if len(rest) > 1 else None
        subresource = "/".join(rest[2:]) or None
        served = (None, "status", *(name for name, _ in rtype.subresources))
        if subresource not in served:
            raise ApiError(404, "NotFound", f"subresource {subresource} is not served")
        if subresource == "status" and not rtype.status_subresource:
            raise ApiError(404, "NotFound", f"{rtype.plural} have no status subresource")
        if (rtype.group, rtype.plural) == ("events.k8s.io", "events"):
            core = self._type("", "v1", "events")
            return _Target(core, namespace, name, subresource, events_view=True)
        return _Target(rtype, namespace if rtype.namespaced else None, name, subresource)

    # ---- watches -------------------------------------------------------------------------

    async def _watch(
        self,
        raw: aiohttp.web.BaseRequest,
        target: _Target,
        selection: Selection,
        params: Any,
        accept: str,
    ) -> aiohttp.web.StreamResponse:
        since_text = params.get("resourceVersion", "")
        since = int(since_text) if since_text not in ("", "0") else None
        name = target.name or selection.field_name
        subscription, backlog = self.store.subscribe(target.rtype, since)
        initial: list[tuple[str, Obj]] = []
        if since is None:
            initial = [
                ("ADDED", obj)
                for obj in self.store.list_objects(target.rtype, target.namespace)
                if selection.selects(obj) and (name is None or obj["metadata"]["name"] == name)
            ]
        timeout = float(params.get("timeoutSeconds") or _DEFAULT_WATCH_SECONDS)
        deadline = time.monotonic() + timeout
        as_table = tables.wants_table(accept)
        response = aiohttp.web.StreamResponse(headers={"Content-Type": "application/json"})
        try:
            await response.prepare(raw)
            for kind, obj in initial:
                await self._send(response, target, kind, obj, as_table)
            pending: Iterable[WatchEvent] = backlog
            while True:
                for event in pending:
                    visible = self._visible(event, target, selection, name)
                    if visible is not None:
                        await self._send(response, target, visible, event.obj, as_table)
                remaining = deadline - time.monotonic()
                if remaining <= 0 or _client_gone(raw):
                    break
                try:
                    # Bounded, so a watch whose client vanished (even before this handler
                    # ran, which aiohttp cannot cancel) ends instead of holding shutdown.
                    event = await asyncio.wait_for(
                        subscription.queue.get(), min(remaining, _CLIENT_CHECK_SECONDS)
                    )
                except TimeoutError:
                    pending = []
                    continue
                pending = [event]
            await response.write_eof()
        except ConnectionResetError:
            pass  # the client went away; nothing left to tell it
        finally:
            self.store.unsubscribe(target.rtype, subscription)
        return response

    @staticmethod
    def _visible(
        event: WatchEvent, target: _Target, selection: Selection, name: str | None
    ) -> str | None:
        def selected(obj: Obj | None) -> bool:
            if obj is None:
                return False
            meta = obj["metadata"]
            return bool(
                (target.namespace is None or meta.get("namespace") == target.namespace)
                and (name is None or meta["name"] == name)
                and selection.selects(obj)
            )

        now, before = selected(event.obj), selected(event.old)
        if event.type == "DELETED":
            return "DELETED" if before or now else None
        if now and before:
            return str(event.type)
        if now:
            return "ADDED"
        if before:
            return "DELETED"
        return None

    async def _send(
        self,
        response: aiohttp.web.StreamResponse,
        target: _Target,
        kind: str,
        obj: Obj,
        as_table: bool,
    ) -> None:
        shown = (
            tables.table(target.rtype, [obj], obj["metadata"]["resourceVersion"], self.clock())
            if as_table
            else target.out(obj)
        )
        await response.write(json.dumps({"type": kind, "object": shown}).encode() + b"\n")


def _client_gone(raw: aiohttp.web.BaseRequest) -> bool:
    transport = raw.transport
    return transport is None or transport.is_closing()


def _missing() -> Obj:
    raise ApiError(404, "NotFound", "the server could not find the requested resource")


@attrs.define(kw_only=True)
class _KMockFrontend(kmock.KubernetesScaffold):
    """KMock's request handler with parsing and routing handed to :class:`SandboxApi`.

    KMock's own ``Request._parse`` fails on ``/api/v1/namespaces`` (it reads the
    collection as a namespace with no name), and ``RawHandler.__call__`` keeps
    every request for assertions, which a long-running server must not; so the
    entry point builds the :class:`kmock.Request` itself from the raw request.
    """

    router: Callable[[kmock.Request], Awaitable[aiohttp.web.StreamResponse]]

    @override
    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        body = await raw_request.read()
        text = body.decode("utf-8", errors="replace")
        data: Any = None
        if PROTOBUF in raw_request.headers.get("Content-Type", ""):
            # Left unread (None) when it is not a kind kubectl's generators make: 415.
            with contextlib.suppress(ProtobufError):
                data = decode_object(body)
        else:
            with contextlib.suppress(ValueError):
                data = json.loads(text) if text else None
        request = kmock.Request(
            method=raw_request.method,
            url=raw_request.url,
            params=dict(raw_request.query),
            headers=dict(raw_request.headers),
            body=body,
            text=text,
            data=data,
            raw_request=raw_request,
        )
        return await self.router(request)


@contextlib.asynccontextmanager
async def running_api_server(
    crds: Iterable[Obj] = (),
    host: str = "127.0.0.1",
    port: int | None = None,
    keys: ServerKeys | None = None,
) -> AsyncIterator[SandboxApi]:
    """Serve a sandbox API server on ``host`` (free port unless given) with the CRDs applied.

    ``keys`` (an earlier server's :attr:`SandboxApi.keys`) make it a restart of that server
    for clients: same CA and admin token, so their kubeconfigs still work.
    """
    api = SandboxApi(keys=keys)
    for crd in crds:
        api.create(crd)
    frontend = _KMockFrontend(router=api.route)
    context = api.tls.server_context()

    class _HttpsServer(aiohttp.test_utils.RawTestServer):
        @override
        async def start_server(
            self, loop: asyncio.AbstractEventLoop | None = None, **kwargs: Any
        ) -> None:
            await super().start_server(loop=loop, ssl=context, **kwargs)

    async with kmock.Server(frontend, host=host, port=port, server_cls=_HttpsServer) as server:
        api.url = str(server.url).rstrip("/")
        yield api
