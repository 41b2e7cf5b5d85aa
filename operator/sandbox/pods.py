"""The sandbox's local pod runner: StatefulSet controller and kubelet in one, without containers.

Public API::

    async with running_pod_runner(api, sandbox_dir) as runner:
        runner.pid("default", "tb-alpha-0")       # the local process, or None
        runner.log_path("default", "tb-alpha-0")  # DIR/pods/NS/POD/logs/CONTAINER.log

For every StatefulSet in the API (``replicas`` pods ``NAME-0``, ``NAME-1``...)
it creates the Pod object (owned by the StatefulSet, labels from the
template, the ``tradewarden.io/status-url`` annotation) and runs the
container's args as a local ``tradewarden ...`` process, planned by
:mod:`pod_spec`: env from the pod spec plus ``KUBECONFIG`` (a kubeconfig with a
token of the pod's ServiceAccount, as the kubelet projects one), volumes as dirs
under ``DIR/pods/NS/POD/VOLUME`` (ConfigMap and Secret keys written as files
and rewritten when they change; volumeClaimTemplates kept across restarts and
pod replacements), stdout/stderr appended to the log file. It reports the
Pod status as :mod:`pod_status` renders it (readiness from polling the
readinessProbe), restarts a crashed process (or one failing its
livenessProbe) after a doubling back-off, and
stops a process (SIGTERM, terminationGracePeriodSeconds, SIGKILL) before
removing its Pod when the StatefulSet scales down or goes away, when the Pod
is deleted (it is then recreated) or when the pod template changes (a roll).
The claim dirs follow the StatefulSet's ``persistentVolumeClaimRetentionPolicy``
(see :func:`claims_released`): Retain by default, as in Kubernetes.
StatefulSet status (replicas, readyReplicas, revisions) is kept up to date.

It works on the API server's store in the same process: watches are store
subscriptions and writes go through the store, so every Pod is an ordinary
API object that kubectl and the operator read and watch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from tradewarden.bot.runtime.command import tradewarden_command
from tradewarden.operator.sandbox import logs
from tradewarden.operator.sandbox.apiserver import SandboxApi
from tradewarden.operator.sandbox.pod_spec import (
    LOCAL_HOST,
    MissingSource,
    PodPlan,
    ProbePlan,
    UnsupportedPod,
    plan_pod,
    pod_name,
    pod_object,
    resolve_args,
    resolve_env,
    revision_of,
    rewrite_path,
    source_data,
    volume_files,
)
from tradewarden.operator.sandbox.pod_status import (
    KUBELET_BACKOFF_BASE_S,
    KUBELET_BACKOFF_CAP_S,
    ContainerView,
    Stage,
    Terminated,
    crash_backoff,
    pod_status,
)
from tradewarden.operator.sandbox.resources import Obj, ResourceType
from tradewarden.operator.sandbox.storage import ApiError, Subscription, now_iso

log = logging.getLogger(__name__)

# Only what a Python process needs to start like the parent; anything else in
# the sandbox user's environment (exchange keys, say) stays out of the pods.
_INHERITED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "PYTHONPATH", "VIRTUAL_ENV")
_TMP = "/tmp"  # the container path; TMPDIR points at what is mounted there
# A pod's ServiceAccount token: the kubelet rotates projected tokens, the runner writes
# one long-lived token per container start instead.
POD_TOKEN_SECONDS = 365 * 24 * 3600
LOG_STAMP_S = 0.2  # how often the runner notes the arrival time of new log lines

PodKey = tuple[str, str]  # namespace, pod name


@dataclass(frozen=True)
class RunnerSettings:
    """Timings of the runner; the defaults are the kubelet's."""

    restart_backoff_s: float = KUBELET_BACKOFF_BASE_S
    restart_backoff_cap_s: float = KUBELET_BACKOFF_CAP_S
    # A run at least this long forgets earlier crashes (the kubelet: 2x the cap).
    backoff_reset_s: float = 2 * KUBELET_BACKOFF_CAP_S
    # How often a pod waiting for a missing ConfigMap/Secret looks again.
    source_retry_s: float = 1.0


def claims_released(stateful_set: Obj, *, deleted: bool) -> bool:
    """Whether a stopped pod's volumeClaimTemplate claims go with it.

    Kubernetes' ``persistentVolumeClaimRetentionPolicy``: ``whenDeleted`` applies
    when the StatefulSet itself is deleted, ``whenScaled`` when it scales the pod
    away; either defaults to ``Retain``. A roll or a deleted Pod keeps them always.
    """
    policy = (stateful_set.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}
    return bool(policy.get("whenDeleted" if deleted else "whenScaled", "Retain") == "Delete")


def free_port(host: str = LOCAL_HOST) -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def write_projected(directory: Path, files: Mapping[str, bytes], *, secret: bool) -> None:
    """Make ``directory`` hold exactly ``files``; each changed file is replaced atomically."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700 if secret else 0o755)
    for relative, content in files.items():
        target = directory / relative
        if target.is_file() and target.read_bytes() == content:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(f".{target.name}.tmp")
        staging.write_bytes(content)
        staging.chmod(0o600 if secret else 0o644)
        staging.replace(target)
    wanted = {directory / relative for relative in files}
    for existing in directory.rglob("*"):
        if existing.is_file() and existing not in wanted:
            existing.unlink()


class _Pod:
    """One Pod object and its process, across container restarts, until it is stopped."""

    def __init__(
        self, key: PodKey, owner: Obj, revision: str, plan: PodPlan | None, obj: Obj
    ) -> None:
        self.key = key
        # The StatefulSet as last seen: once it is deleted, its retention policy still counts.
        self.owner = owner
        self.owner_uid: str = owner["metadata"]["uid"]
        # Whether the pod's volumeClaimTemplate dirs go when it stops (see claims_released).
        self.release_claims = False
        self.revision = revision
        self.plan = plan
        self.uid: str = obj["metadata"]["uid"]
        self.obj = obj
        self.view = ContainerView(Stage.CREATING)
        self.start_time = ""
        self.ready_since = ""
        self.process: asyncio.subprocess.Process | None = None
        self.stop_requested = asyncio.Event()
        self.sources_changed = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    @property
    def stopping(self) -> bool:
        return self.stop_requested.is_set()


async def _wait(event: asyncio.Event, seconds: float) -> bool:
    """Wait for ``event`` at most ``seconds``; True when it is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)
    return event.is_set()


class PodRunner:
    """Runs the pods of every StatefulSet in ``api`` as local processes; see the module doc."""

    def __init__(
        self,
        api: SandboxApi,
        sandbox_dir: Path,
        settings: RunnerSettings | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._api = api
        self._store = api.store
        self.pods_dir = sandbox_dir.resolve() / "pods"
        self._settings = settings or RunnerSettings()
        self._clock = clock
        self._types = {
            "statefulsets": api.type_of("apps/v1", "StatefulSet"),
            "pods": api.type_of("v1", "Pod"),
            "configMap": api.type_of("v1", "ConfigMap"),
            "secret": api.type_of("v1", "Secret"),
            "serviceaccount": api.type_of("v1", "ServiceAccount"),
        }
        self._pods: dict[PodKey, _Pod] = {}
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._subscriptions: list[tuple[ResourceType, Subscription]] = []
        self._http: aiohttp.ClientSession | None = None

    # ---- public ------------------------------------------------------------------------

    def pid(self, namespace: str, name: str) -> int | None:
        """The pid of the pod's running process, or None."""
        pod = self._pods.get((namespace, name))
        if pod is None or pod.process is None or pod.process.returncode is not None:
            return None
        return pod.process.pid

    def log_path(self, namespace: str, name: str, container: str = "bot") -> Path:
        """Where the pod's process output is appended."""
        return self.pods_dir / namespace / name / "logs" / f"{container}.log"

    async def start(self) -> None:
        """Subscribe to the API and start reconciling."""
        self._http = aiohttp.ClientSession()
        for kind, rtype in self._types.items():
            subscription, _ = self._store.subscribe(rtype, None)
            self._subscriptions.append((rtype, subscription))
            sources = kind in ("configMap", "secret")
            self._tasks.append(asyncio.create_task(self._forward(subscription, sources)))
        self._tasks.append(asyncio.create_task(self._reconcile_loop()))
        self._wake.set()

    async def stop(self) -> None:
        """Stop every process (SIGTERM, grace, SIGKILL), remove their Pods, unsubscribe."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for rtype, subscription in self._subscriptions:
            self._store.unsubscribe(rtype, subscription)
        pods = list(self._pods.values())
        for pod in pods:
            pod.stop_requested.set()
        await asyncio.gather(*(p.task for p in pods if p.task), return_exceptions=True)
        if self._http is not None:
            await self._http.close()

    # ---- the StatefulSet controller --------------------------------------------------------

    async def _forward(self, subscription: Subscription, sources: bool) -> None:
        while True:
            await subscription.queue.get()
            if sources:
                for pod in self._pods.values():
                    pod.sources_changed.set()
            self._wake.set()

    async def _reconcile_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                self._reconcile()
            except Exception:
                log.exception("pod runner: reconcile failed")

    def _desired(self) -> dict[PodKey, tuple[Obj, int]]:
        desired: dict[PodKey, tuple[Obj, int]] = {}
        for sts in self._store.list_objects(self._types["statefulsets"], None):
            if sts["metadata"].get("deletionTimestamp"):
                continue
            replicas = (sts.get("spec") or {}).get("replicas", 1)
            for ordinal in range(int(replicas if replicas is not None else 1)):
                key = (sts["metadata"]["namespace"], pod_name(sts, ordinal))
                desired[key] = (sts, ordinal)
        return desired

    def _reconcile(self) -> None:
        """Start, replace and stop pods to match the StatefulSets; runs without awaiting."""
        desired = self._desired()
        owners = {
            sts["metadata"]["uid"]: sts
            for sts in self._store.list_objects(self._types["statefulsets"], None)
        }
        for key, pod in self._pods.items():
            if pod.stopping:
                continue
            wanted = desired.get(key)
            current = self._store.find(self._types["pods"], *key)
            owner = owners.get(pod.owner_uid)
            if owner is not None:
                pod.owner = owner
            if wanted is None or wanted[0]["metadata"]["uid"] != pod.owner_uid:
                # Not wanted: its StatefulSet is gone or going (deleted), or scaled it away.
                deleted = owner is None or bool(owner["metadata"].get("deletionTimestamp"))
                pod.release_claims = claims_released(pod.owner, deleted=deleted)
                pod.stop_requested.set()
            elif (
                revision_of(wanted[0]["spec"].get("template") or {}) != pod.revision
                or current is None
                or current["metadata"]["uid"] != pod.uid
            ):
                pod.stop_requested.set()
        for key, (sts, ordinal) in desired.items():
            if key not in self._pods:
                self._launch(key, sts, ordinal)
        for sts in self._store.list_objects(self._types["statefulsets"], None):
            self._publish_stateful_set(sts)

    def _launch(self, key: PodKey, sts: Obj, ordinal: int) -> None:
        template = (sts.get("spec") or {}).get("template") or {}
        revision = revision_of(template)
        plan: PodPlan | None = None
        view = ContainerView(Stage.CREATING)
        try:
            plan = plan_pod(sts, ordinal, self.pods_dir, free_port)
        except UnsupportedPod as error:
            view = ContainerView(Stage.UNSUPPORTED, message=str(error))
        body = pod_object(sts, key[1], revision, plan.status_url if plan else None)
        stale = self._store.find(self._types["pods"], *key)
        if stale is not None:
            self._store.delete(self._types["pods"], *key)
        now = now_iso(self._clock)
        obj = self._store.create(self._types["pods"], key[0], body)
        pod = _Pod(key, sts, revision, plan, obj)
        pod.start_time = pod.ready_since = now
        pod.view = view
        self._pods[key] = pod
        self._publish(pod)
        pod.task = asyncio.create_task(self._live(pod))
        pod.task.add_done_callback(lambda _: self._forget(pod))

    def _forget(self, pod: _Pod) -> None:
        if self._pods.get(pod.key) is pod:
            del self._pods[pod.key]
        self._wake.set()

    def _publish_stateful_set(self, sts: Obj) -> None:
        meta = sts["metadata"]
        revision = f"{meta['name']}-{revision_of(sts['spec'].get('template') or {})}"
        pods = [p for p in self._pods.values() if p.owner_uid == meta["uid"] and not p.stopping]
        ready = sum(1 for p in pods if p.view.ready)
        status = {
            "observedGeneration": meta.get("generation", 1),
            "replicas": len(pods),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "currentReplicas": len(pods),
            "updatedReplicas": len(pods),
            "currentRevision": revision,
            "updateRevision": revision,
            "collisionCount": 0,
        }
        if sts.get("status") == status:
            return
        with contextlib.suppress(ApiError):
            self._store.update(
                self._types["statefulsets"],
                meta["namespace"],
                meta["name"],
                {"status": status},
                subresource="status",
            )

    # ---- the kubelet ---------------------------------------------------------------------

    def _publish(self, pod: _Pod) -> None:
        container = pod.plan.container if pod.plan else "main"
        image = pod.plan.image if pod.plan else ""
        status = pod_status(
            container, image, pod.view, start_time=pod.start_time, ready_since=pod.ready_since
        )
        with contextlib.suppress(ApiError):  # the Pod is gone: the controller notices
            current = self._store.find(self._types["pods"], *pod.key)
            if current is not None and current["metadata"]["uid"] == pod.uid:
                self._store.update(
                    self._types["pods"], *pod.key, {"status": status}, subresource="status"
                )

    def _set_view(self, pod: _Pod, view: ContainerView) -> None:
        if view.ready != pod.view.ready:
            pod.ready_since = now_iso(self._clock)
        pod.view = view
        self._publish(pod)
        self._wake.set()

    def _read_source(self, kind: str, namespace: str, name: str) -> dict[str, bytes] | None:
        obj = self._store.find(self._types[kind], namespace, name)
        return None if obj is None else source_data(obj)

    def _project(self, plan: PodPlan) -> None:
        """Create the volume dirs and write ConfigMap/Secret files (MissingSource if absent)."""
        for volume in plan.volumes:
            if volume.kind in ("configMap", "secret"):
                assert volume.source is not None
                data = self._read_source(volume.kind, plan.namespace, volume.source)
                files = volume_files(volume, data)
                write_projected(volume.local_dir, files, secret=volume.kind == "secret")
            else:
                volume.local_dir.mkdir(parents=True, exist_ok=True)

    def _environment(self, plan: PodPlan, pod: _Pod) -> dict[str, str]:
        env = {name: os.environ[name] for name in _INHERITED_ENV if name in os.environ}
        tmp = rewrite_path(_TMP, plan.mounts)
        if tmp != _TMP:
            env["TMPDIR"] = tmp
        env["HOSTNAME"] = plan.name
        env.update(resolve_env(plan, pod.obj, self._read_source))
        kubeconfig = self._service_account_kubeconfig(plan, pod)
        if kubeconfig is not None:
            env["KUBECONFIG"] = str(kubeconfig)
        return env

    def _service_account_kubeconfig(self, plan: PodPlan, pod: _Pod) -> Path | None:
        """A kubeconfig holding a token of the pod's ServiceAccount (None: not automounted).

        It stands for the token the kubelet projects into a pod; MissingSource
        while the ServiceAccount does not exist.
        """
        spec = pod.obj.get("spec") or {}
        account = spec.get("serviceAccountName") or "default"
        found = self._store.find(self._types["serviceaccount"], plan.namespace, account)
        if found is None:
            raise MissingSource(
                f"error looking up service account {plan.namespace}/{account}: "
                f'serviceaccount "{account}" not found'
            )
        automount = spec.get("automountServiceAccountToken")
        if automount is None:
            automount = found.get("automountServiceAccountToken", True)
        if not automount:
            return None
        return self._api.write_service_account_kubeconfig(
            plan.pod_dir / "serviceaccount" / "kubeconfig",
            plan.namespace,
            account,
            POD_TOKEN_SECONDS,
        )

    async def _live(self, pod: _Pod) -> None:
        """The pod's life: run (and restart) its process until stopped, then clean up."""
        try:
            if pod.plan is None:
                await pod.stop_requested.wait()
            else:
                refresher = asyncio.create_task(self._refresh_sources(pod, pod.plan))
                stamper = asyncio.create_task(self._stamp_log(pod, pod.plan.log_path))
                try:
                    await self._run(pod, pod.plan)
                finally:
                    refresher.cancel()
                    stamper.cancel()
        except Exception:
            log.exception("pod runner: pod %s/%s failed", *pod.key)
        finally:
            await self._terminate(pod)
            self._remove(pod)

    async def _stamp_log(self, pod: _Pod, log_path: Path) -> None:
        """Note when each line reaches the log, for ``kubectl logs --timestamps/--since``.

        The process writes to the file itself, so the file is looked at every
        LOG_STAMP_S; a line's time is when it was first seen.
        """
        offset = logs.stamped_offset(log_path)
        while True:
            offset = logs.stamp_lines(log_path, offset, logs.rfc3339_nano(self._clock()))
            if await _wait(pod.stop_requested, LOG_STAMP_S):
                return

    async def _refresh_sources(self, pod: _Pod, plan: PodPlan) -> None:
        """Rewrite ConfigMap/Secret files when they change, like the kubelet's projection."""
        while True:
            await pod.sources_changed.wait()
            pod.sources_changed.clear()
            if pod.process is not None:
                with contextlib.suppress(MissingSource):  # the kubelet keeps the last files
                    self._project(plan)

    async def _run(self, pod: _Pod, plan: PodPlan) -> None:
        settings = self._settings
        crashes = 0
        restarts = 0
        while not pod.stopping:
            env = await self._prepare(pod, plan)
            if env is None:
                continue
            started_at = now_iso(self._clock)
            started = time.monotonic()
            code = await self._run_once(pod, plan, env, started_at, restarts)
            if pod.stopping:
                return
            crashes = 1 if time.monotonic() - started >= settings.backoff_reset_s else crashes + 1
            delay = crash_backoff(
                crashes, settings.restart_backoff_s, settings.restart_backoff_cap_s
            )
            message = (
                f"back-off {delay:g}s restarting failed container={plan.container} pod={plan.name}"
            )
            last = Terminated(code, started_at, now_iso(self._clock))
            self._set_view(
                pod, replace(pod.view, stage=Stage.BACKOFF, message=message, ready=False, last=last)
            )
            if await _wait(pod.stop_requested, delay):
                return
            restarts += 1

    async def _prepare(self, pod: _Pod, plan: PodPlan) -> dict[str, str] | None:
        """Volumes and environment; None (after a pause) while a source is missing."""
        stage = Stage.CREATING  # the kubelet's FailedMount: volumes come first
        try:
            self._project(plan)
            stage = Stage.CONFIG_ERROR
            return self._environment(plan, pod)
        except MissingSource as missing:
            self._set_view(pod, replace(pod.view, stage=stage, message=str(missing)))
            await _wait(pod.stop_requested, self._settings.source_retry_s)
            return None

    async def _run_once(
        self, pod: _Pod, plan: PodPlan, env: dict[str, str], started_at: str, restarts: int
    ) -> int:
        """Start the process and wait for it to exit (its code) or for a stop request (-1)."""
        plan.log_path.parent.mkdir(parents=True, exist_ok=True)
        argv = tradewarden_command(*resolve_args(plan, env))
        with plan.log_path.open("ab") as output:
            output.write(f"--- {started_at} start (restarts {restarts}): {argv}\n".encode())
            output.flush()
            try:
                pod.process = await asyncio.create_subprocess_exec(
                    *argv,
                    env=env,
                    cwd=plan.pod_dir,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=output,
                    stderr=asyncio.subprocess.STDOUT,
                    start_new_session=True,  # Ctrl-C reaches the runner, which stops pods in order
                )
            except OSError as error:
                output.write(f"--- cannot start: {error}\n".encode())
                return 127
        running = ContainerView(
            Stage.RUNNING,
            started_at=started_at,
            ready=plan.readiness is None,
            restart_count=restarts,
            last=pod.view.last,
        )
        self._set_view(pod, running)
        probers = (
            [asyncio.create_task(self._readiness(pod, plan.readiness))] if plan.readiness else []
        )
        if plan.liveness:
            probers.append(asyncio.create_task(self._liveness(pod, plan, plan.liveness)))
        exited = asyncio.create_task(pod.process.wait())
        stopped = asyncio.create_task(pod.stop_requested.wait())
        try:
            await asyncio.wait((exited, stopped), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (*probers, stopped):
                task.cancel()
        if not exited.done():
            return -1
        code = exited.result()
        return 128 - code if code < 0 else code  # killed by signal N: 128+N, as a shell reports

    async def _poll(self, probe: ProbePlan, react: Callable[[bool, int], Awaitable[None]]) -> None:
        """Run an httpGet probe every period; ``react(ok, failures in a row)`` after each try."""
        assert self._http is not None
        await asyncio.sleep(probe.initial_delay_s)
        failures = 0
        while True:
            try:
                timeout = aiohttp.ClientTimeout(total=probe.timeout_s)
                async with self._http.get(probe.url, timeout=timeout) as response:
                    ok = 200 <= response.status < 400
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            failures = 0 if ok else failures + 1
            await react(ok, failures)
            await asyncio.sleep(probe.period_s)

    async def _readiness(self, pod: _Pod, probe: ProbePlan) -> None:
        """Ready after a success, unready after ``failureThreshold`` failures in a row."""

        async def react(ok: bool, failures: int) -> None:
            if ok and not pod.view.ready:
                self._set_view(pod, replace(pod.view, ready=True))
            elif failures >= probe.failure_threshold and pod.view.ready:
                self._set_view(pod, replace(pod.view, ready=False))

        await self._poll(probe, react)

    async def _liveness(self, pod: _Pod, plan: PodPlan, probe: ProbePlan) -> None:
        """Stop the process after ``failureThreshold`` failures in a row; it is then restarted."""

        async def react(_: bool, failures: int) -> None:
            if failures >= probe.failure_threshold:
                with plan.log_path.open("ab") as output:
                    output.write(f"--- liveness probe {probe.url} failed; stopping\n".encode())
                await self._terminate(pod)

        await self._poll(probe, react)

    async def _terminate(self, pod: _Pod) -> None:
        """SIGTERM, wait the grace period, then SIGKILL."""
        process = pod.process
        if process is None or process.returncode is not None:
            return
        grace = pod.plan.grace_s if pod.plan else 0.0
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()

    def _remove(self, pod: _Pod) -> None:
        """Delete the Pod object (if still ours), its non-persistent volumes, and its
        volumeClaimTemplate dirs when the retention policy lets them go."""
        with contextlib.suppress(ApiError):
            current = self._store.find(self._types["pods"], *pod.key)
            if current is not None and current["metadata"]["uid"] == pod.uid:
                self._store.delete(self._types["pods"], *pod.key)
        pod_dir = self.pods_dir.joinpath(*pod.key)
        shutil.rmtree(pod_dir / "serviceaccount", ignore_errors=True)  # its token
        for volume in pod.plan.volumes if pod.plan else ():
            if volume.kind != "claim":
                shutil.rmtree(volume.local_dir, ignore_errors=True)
        if pod.release_claims:
            for template in (pod.owner.get("spec") or {}).get("volumeClaimTemplates") or []:
                shutil.rmtree(pod_dir / template["metadata"]["name"], ignore_errors=True)


@contextlib.asynccontextmanager
async def running_pod_runner(
    api: SandboxApi,
    sandbox_dir: Path,
    settings: RunnerSettings | None = None,
) -> AsyncIterator[PodRunner]:
    """Run the pod runner; on exit every pod process is stopped and its Pod removed."""
    runner = PodRunner(api, sandbox_dir, settings)
    api.pod_logs = runner.log_path
    try:
        await runner.start()
        yield runner
    finally:
        await runner.stop()
