"""Pure translation of a StatefulSet's pod template into a local process plan.

The sandbox has no container runtime, so the pod runner runs a container as a
local ``tradewarden ...`` process (the image's entry point). This module decides
everything about that process without doing any I/O: the argv after the entry
point, the environment, the local directory behind each volume, where the
container's paths and ports land on this machine, the readiness and liveness
probes, and the
Pod object that stands for it in the API.

Rewriting rules (what makes a container's view of the world work locally):

- paths: an argument or env value equal to a container ``mountPath`` or under
  it is moved to the volume's local dir (``--flag=value`` values too);
- ports: each declared ``containerPort`` gets a free local port; a value that
  follows a ``...port`` flag (``--port``, ``--http-port``) and equals a declared
  container port becomes the local port, and so does an env var whose name ends
  in ``PORT``; a ``...host`` flag of ``0.0.0.0`` or ``::`` becomes ``127.0.0.1``;
- ``$(VAR)`` references to earlier env vars are expanded, as the kubelet does.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tradewarden.operator.probe import STATUS_URL_ANNOTATION
from tradewarden.operator.sandbox.resources import Obj

ENTRY_POINT = "tradewarden"
LOCAL_HOST = "127.0.0.1"
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
REVISION_LABEL = "controller-revision-hash"
NODE_NAME = "sandbox"
DEFAULT_GRACE_S = 30.0
_ANY_ADDRESS = frozenset({"0.0.0.0", "::", "[::]"})
_VAR_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


class UnsupportedPod(ValueError):
    """The pod template asks for something a local process cannot be."""


@dataclass(frozen=True)
class VolumePlan:
    """One volume of the pod and the local directory behind it.

    ``kind`` is ``configMap``, ``secret``, ``emptyDir`` or ``claim`` (a
    volumeClaimTemplate: it outlives the pod). ``items`` maps keys to relative
    paths when the volume lists them, else every key becomes a file.
    """

    name: str
    kind: str
    local_dir: Path
    source: str | None = None
    items: tuple[tuple[str, str], ...] | None = None
    optional: bool = False


@dataclass(frozen=True)
class EnvVar:
    """One env var: a literal (already rewritten) or a reference to resolve at start."""

    name: str
    value: str | None = None
    field_path: str | None = None
    ref_kind: str | None = None  # "configMap" or "secret"
    ref_name: str | None = None
    ref_key: str | None = None
    optional: bool = False


@dataclass(frozen=True)
class ProbePlan:
    """An httpGet probe, pointed at the local port."""

    path: str
    port: int
    initial_delay_s: float = 0.0
    period_s: float = 10.0
    timeout_s: float = 1.0
    failure_threshold: int = 3

    @property
    def url(self) -> str:
        """The URL the runner polls."""
        return f"http://{LOCAL_HOST}:{self.port}{self.path}"


@dataclass(frozen=True)
class PodPlan:
    """Everything the runner needs to run one pod as a local process."""

    namespace: str
    name: str
    container: str
    image: str
    args: tuple[str, ...]
    env: tuple[EnvVar, ...]
    volumes: tuple[VolumePlan, ...]
    ports: Mapping[int, int]
    mounts: Mapping[str, Path]
    status_url: str | None
    readiness: ProbePlan | None
    liveness: ProbePlan | None
    grace_s: float
    revision: str
    pod_dir: Path

    @property
    def log_path(self) -> Path:
        """Where the process's stdout and stderr are appended."""
        return self.pod_dir / "logs" / f"{self.container}.log"


SourceReader = Callable[[str, str, str], Mapping[str, bytes] | None]
"""Reads a ConfigMap or Secret's keys: (``configMap``|``secret``, namespace, name) -> data."""


class MissingSource(LookupError):
    """A ConfigMap, Secret or key the pod needs does not exist (yet)."""


def revision_of(template: Obj) -> str:
    """A short hash of the pod template, like the StatefulSet's controller-revision-hash."""
    encoded = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()[:10]


def pod_name(stateful_set: Obj, ordinal: int) -> str:
    """The StatefulSet's pod name for an ordinal: ``NAME-ORDINAL``."""
    return f"{stateful_set['metadata']['name']}-{ordinal}"


def rewrite_path(value: str, mounts: Mapping[str, Path]) -> str:
    """Move a container path under a mountPath to its local dir (longest mount wins)."""
    if not value.startswith("/"):
        return value
    path = PurePosixPath(value)
    for mount in sorted(mounts, key=len, reverse=True):
        mount_path = PurePosixPath(mount)
        if path == mount_path or mount_path in path.parents:
            return str(mounts[mount] / path.relative_to(mount_path))
    return value


def expand_vars(value: str, env: Mapping[str, str]) -> str:
    """Expand ``$(VAR)`` from earlier env vars; unknown references stay as written."""
    return _VAR_REF.sub(lambda m: env.get(m.group(1), m.group(0)), value)


def _flag_value(flag: str, value: str, ports: Mapping[int, int]) -> str:
    name = flag.lstrip("-").lower()
    if name.endswith("port") and value.isdigit() and int(value) in ports:
        return str(ports[int(value)])
    if name.endswith("host") and value in _ANY_ADDRESS:
        return LOCAL_HOST
    return value


def rewrite_args(
    args: Sequence[str], mounts: Mapping[str, Path], ports: Mapping[int, int]
) -> list[str]:
    """Container args with paths and ports moved to their local counterparts."""
    result: list[str] = []
    for index, arg in enumerate(args):
        if arg.startswith("-") and "=" in arg:
            flag, _, value = arg.partition("=")
            result.append(f"{flag}={_flag_value(flag, rewrite_path(value, mounts), ports)}")
            continue
        previous = args[index - 1] if index else ""
        rewritten = rewrite_path(arg, mounts)
        if previous.startswith("-") and "=" not in previous:
            rewritten = _flag_value(previous, rewritten, ports)
        result.append(rewritten)
    return result


def _env_value(name: str, value: str, mounts: Mapping[str, Path], ports: Mapping[int, int]) -> str:
    if name.upper().endswith("PORT") and value.isdigit() and int(value) in ports:
        return str(ports[int(value)])
    return rewrite_path(value, mounts)


def _env(container: Obj, mounts: Mapping[str, Path], ports: Mapping[int, int]) -> list[EnvVar]:
    result: list[EnvVar] = []
    for entry in container.get("env") or []:
        name = entry["name"]
        source = entry.get("valueFrom")
        if source is None:
            result.append(
                EnvVar(name, _env_value(name, str(entry.get("value", "")), mounts, ports))
            )
        elif "fieldRef" in source:
            result.append(EnvVar(name, field_path=source["fieldRef"]["fieldPath"]))
        elif "secretKeyRef" in source or "configMapKeyRef" in source:
            kind = "secret" if "secretKeyRef" in source else "configMap"
            ref = source[f"{kind}KeyRef"]
            result.append(
                EnvVar(
                    name,
                    ref_kind=kind,
                    ref_name=ref["name"],
                    ref_key=ref["key"],
                    optional=bool(ref.get("optional", False)),
                )
            )
        else:
            raise UnsupportedPod(f"env {name}: only value, fieldRef and key refs are supported")
    return result


def _volumes(spec: Obj, claims: Sequence[Obj], pod_dir: Path) -> dict[str, VolumePlan]:
    volumes: dict[str, VolumePlan] = {}
    for claim in claims:
        name = claim["metadata"]["name"]
        volumes[name] = VolumePlan(name, "claim", pod_dir / name)
    for volume in spec.get("volumes") or []:
        name = volume["name"]
        local = pod_dir / name
        if "emptyDir" in volume:
            volumes[name] = VolumePlan(name, "emptyDir", local)
        elif "configMap" in volume or "secret" in volume:
            kind = "configMap" if "configMap" in volume else "secret"
            source = volume[kind]
            items = source.get("items")
            volumes[name] = VolumePlan(
                name,
                kind,
                local,
                source=source.get("name") if kind == "configMap" else source.get("secretName"),
                items=tuple((i["key"], i["path"]) for i in items) if items else None,
                optional=bool(source.get("optional", False)),
            )
        elif "persistentVolumeClaim" in volume:
            volumes[name] = VolumePlan(name, "claim", local)
        else:
            raise UnsupportedPod(f"volume {name}: unsupported source {sorted(volume)}")
    return volumes


def _mounts(container: Obj, volumes: Mapping[str, VolumePlan]) -> dict[str, Path]:
    mounts: dict[str, Path] = {}
    for mount in container.get("volumeMounts") or []:
        volume = volumes.get(mount["name"])
        if volume is None:
            raise UnsupportedPod(f"volumeMount {mount['name']}: no such volume")
        local = volume.local_dir / mount["subPath"] if mount.get("subPath") else volume.local_dir
        mounts[mount["mountPath"]] = local
    return mounts


def _probe(container: Obj, kind: str, ports: Mapping[int, int]) -> ProbePlan | None:
    probe = container.get(kind)
    if not probe:
        return None
    http = probe.get("httpGet")
    if http is None:
        raise UnsupportedPod(f"{kind}: only httpGet is supported")
    port = http["port"]
    if isinstance(port, str) and not port.isdigit():
        named = {p.get("name"): p["containerPort"] for p in container.get("ports") or []}
        if port not in named:
            raise UnsupportedPod(f"{kind}: no container port named {port!r}")
        port = named[port]
    if int(port) not in ports:
        raise UnsupportedPod(f"{kind}: port {port} is not a declared containerPort")
    return ProbePlan(
        path=http.get("path", "/"),
        port=ports[int(port)],
        initial_delay_s=float(probe.get("initialDelaySeconds", 0)),
        period_s=float(probe.get("periodSeconds", 10)),
        timeout_s=float(probe.get("timeoutSeconds", 1)),
        failure_threshold=int(probe.get("failureThreshold", 3)),
    )


def _status_port(container: Obj, ports: Mapping[int, int]) -> int | None:
    declared = container.get("ports") or []
    chosen = next(
        (p for p in declared if p.get("name") == "http"), declared[0] if declared else None
    )
    return ports[int(chosen["containerPort"])] if chosen else None


def plan_pod(
    stateful_set: Obj, ordinal: int, pods_dir: Path, allocate_port: Callable[[], int]
) -> PodPlan:
    """The local process plan of a StatefulSet's pod ``NAME-ORDINAL``.

    Raises :class:`UnsupportedPod` for templates a local process cannot honour
    (several containers, a command other than the ``tradewarden`` entry point,
    volume or probe kinds other than the ones listed in the module docstring).
    """
    meta = stateful_set["metadata"]
    spec = stateful_set.get("spec") or {}
    template = spec.get("template") or {}
    pod_spec = template.get("spec") or {}
    containers = pod_spec.get("containers") or []
    if len(containers) != 1:
        raise UnsupportedPod(f"exactly one container is supported, got {len(containers)}")
    if pod_spec.get("initContainers"):
        raise UnsupportedPod("initContainers are not supported")
    container = containers[0]
    command = [str(c) for c in container.get("command") or [ENTRY_POINT]]
    if command[0] != ENTRY_POINT:
        raise UnsupportedPod(f"command must start with the {ENTRY_POINT!r} entry point")
    namespace = meta.get("namespace", "default")
    name = pod_name(stateful_set, ordinal)
    pod_dir = pods_dir / namespace / name
    ports = {int(p["containerPort"]): allocate_port() for p in container.get("ports") or []}
    volumes = _volumes(pod_spec, spec.get("volumeClaimTemplates") or [], pod_dir)
    mounts = _mounts(container, volumes)
    env = _env(container, mounts, ports)
    args = [str(a) for a in [*command[1:], *(container.get("args") or [])]]
    status_port = _status_port(container, ports)
    grace = pod_spec.get("terminationGracePeriodSeconds")
    return PodPlan(
        namespace=namespace,
        name=name,
        container=str(container.get("name", "main")),
        image=str(container.get("image", "")),
        args=tuple(rewrite_args(args, mounts, ports)),
        env=tuple(env),
        volumes=tuple(volumes[m["name"]] for m in container.get("volumeMounts") or []),
        ports=ports,
        mounts=mounts,
        status_url=f"http://{LOCAL_HOST}:{status_port}" if status_port else None,
        readiness=_probe(container, "readinessProbe", ports),
        liveness=_probe(container, "livenessProbe", ports),
        grace_s=float(DEFAULT_GRACE_S if grace is None else grace),
        revision=revision_of(template),
        pod_dir=pod_dir,
    )


def resolve_env(plan: PodPlan, pod: Obj, read: SourceReader) -> dict[str, str]:
    """The container's environment at start: refs resolved, ``$(VAR)`` expanded.

    Raises :class:`MissingSource` for a missing non-optional ConfigMap/Secret key
    (the kubelet's CreateContainerConfigError).
    """
    meta = pod["metadata"]
    fields = {
        "metadata.name": meta["name"],
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": NODE_NAME,
        "spec.serviceAccountName": pod.get("spec", {}).get("serviceAccountName", "default"),
        "status.podIP": LOCAL_HOST,
        "status.hostIP": LOCAL_HOST,
    }
    env: dict[str, str] = {}
    for var in plan.env:
        if var.value is not None:
            env[var.name] = expand_vars(var.value, env)
        elif var.field_path is not None:
            if var.field_path not in fields:
                raise MissingSource(f"env {var.name}: fieldPath {var.field_path} not supported")
            env[var.name] = fields[var.field_path]
        else:
            assert var.ref_kind and var.ref_name and var.ref_key
            data = read(var.ref_kind, plan.namespace, var.ref_name) or {}
            raw = data.get(var.ref_key)
            value = None if raw is None else raw.decode()
            if value is None and not var.optional:
                raise MissingSource(
                    f"env {var.name}: key {var.ref_key!r} of {var.ref_kind} "
                    f"{var.ref_name!r} not found"
                )
            if value is not None:
                env[var.name] = value
    return env


def resolve_args(plan: PodPlan, env: Mapping[str, str]) -> list[str]:
    """The argv after the entry point, with ``$(VAR)`` expanded from the environment."""
    return [expand_vars(arg, env) for arg in plan.args]


def source_data(obj: Obj) -> dict[str, bytes]:
    """The keys of a ConfigMap (data + binaryData) or Secret (base64 data) as bytes."""
    if obj.get("kind") == "Secret":
        return {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
    data = {k: str(v).encode() for k, v in (obj.get("data") or {}).items()}
    data.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
    return data


def volume_files(volume: VolumePlan, data: Mapping[str, bytes] | None) -> dict[str, bytes]:
    """The files (relative path -> content) a ConfigMap or Secret volume projects.

    ``data`` is None when the source does not exist: an optional volume is then
    empty, a required one raises :class:`MissingSource`, as does a listed key
    that is absent.
    """
    if data is None:
        if volume.optional:
            return {}
        raise MissingSource(f"volume {volume.name}: {volume.kind} {volume.source!r} not found")
    if volume.items is None:
        return dict(data)
    files: dict[str, bytes] = {}
    for key, path in volume.items:
        if key not in data:
            if volume.optional:
                continue
            raise MissingSource(f"volume {volume.name}: key {key!r} of {volume.source!r} missing")
        files[path] = data[key]
    return files


def pod_object(stateful_set: Obj, name: str, revision: str, status_url: str | None) -> Obj:
    """The Pod the StatefulSet controller creates (status is left to the runner)."""
    meta = stateful_set["metadata"]
    template = (stateful_set.get("spec") or {}).get("template") or {}
    template_meta = template.get("metadata") or {}
    labels = {
        **(template_meta.get("labels") or {}),
        POD_NAME_LABEL: name,
        REVISION_LABEL: f"{meta['name']}-{revision}",
    }
    annotations = dict(template_meta.get("annotations") or {})
    if status_url:
        annotations[STATUS_URL_ANNOTATION] = status_url
    spec = {
        **(template.get("spec") or {}),
        "nodeName": NODE_NAME,
        "hostname": name,
        "restartPolicy": "Always",
    }
    if stateful_set.get("spec", {}).get("serviceName"):
        spec["subdomain"] = stateful_set["spec"]["serviceName"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": meta.get("namespace", "default"),
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "StatefulSet",
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": spec,
    }
