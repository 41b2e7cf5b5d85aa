"""``tradewarden operator``: run the kopf operator for TradingBots until SIGTERM/SIGINT.

Standalone (no peering: one operator per cluster, the chart runs one replica),
with explicit settings: the finalizer ``tradewarden.io/drain``, handler progress
kept in annotations (the CRD's status schema has no room for kopf's own state),
only warnings posted as Events (flips post their own), and watch timeouts short
enough that a restarted local API server is noticed within seconds.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from pathlib import Path

import kopf
from prometheus_client import start_http_server

from tradewarden.api.kube_client import api_client_from_environment
from tradewarden.operator.children import DEFAULT_BOT_IMAGE
from tradewarden.operator.handlers import OperatorConfig, OperatorState, register
from tradewarden.operator.kube import OperatorApi
from tradewarden.operator.metrics import OperatorMetrics

FINALIZER = "tradewarden.io/drain"
KOPF_STATE_PREFIX = "kopf.tradewarden.io"
IMAGE_ENV = "TRADEWARDEN_BOT_IMAGE"
# CPython's thresholds, except that a full collection waits for 1,000 second-generation
# ones instead of 10. A fleet's operator keeps thousands of long-lived objects (bodies,
# daemons, tasks), and every full collection walks them all: at 1,000 bots the default
# cadence spent a quarter of the operator's CPU there. Young garbage is still collected
# as often as before.
GC_THRESHOLDS = (700, 10, 1000)


def operator_settings(*, namespaced: bool = False) -> kopf.OperatorSettings:
    """kopf's settings for Tradewarden (see the module docstring for why).

    ``namespaced``: only named namespaces are served, so kopf neither lists
    namespaces nor watches CRDs, both cluster-wide reads a namespaced install's
    Roles do not grant (kopf would log a warning for each and fall back to this).
    """
    settings = kopf.OperatorSettings()
    settings.scanning.disabled = namespaced
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
        prefix=KOPF_STATE_PREFIX
    )
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=KOPF_STATE_PREFIX, key="last-handled-configuration"
    )
    settings.posting.level = logging.WARNING
    settings.posting.reporting_component = "tradewarden-operator"
    settings.watching.server_timeout = 60
    settings.watching.client_timeout = 75
    settings.watching.connect_timeout = 5
    settings.watching.reconnect_backoff = 0.5
    settings.networking.connect_timeout = 5
    settings.networking.request_timeout = 30
    return settings


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``tradewarden operator``."""
    parser.add_argument("--kubeconfig", type=Path, help="kubeconfig file (default: in-cluster)")
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument(
        "--namespace",
        action="append",
        help="manage bots only in this namespace (repeat for several); needs no cluster-wide "
        "permission, and the TradingBot CRD must exist before the operator starts",
    )
    scope.add_argument(
        "--all-namespaces", action="store_true", help="watch every namespace (the default)"
    )
    parser.add_argument(
        "--metrics-port", type=int, default=8000, help="Prometheus port; 0 picks a free one"
    )
    parser.add_argument("--metrics-host", default="0.0.0.0", help="address of /metrics and /readyz")
    parser.add_argument(
        "--ready-port",
        type=int,
        default=0,
        help="port of /readyz, which answers 200 once the operator has logged in to the API "
        "server and started its watches (the readiness probe); 0: not served",
    )
    parser.add_argument(
        "--probe-interval", type=float, default=2.0, help="seconds between bot probes"
    )
    parser.add_argument(
        "--summary-interval",
        type=float,
        default=60.0,
        help="seconds between status writes when only the bot summary (position size, open "
        "orders, confidence) changed; phase, mode and conditions are written at once",
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=60.0,
        help="seconds to wait for a deleted bot's orders before warning and retrying",
    )


def run(args: argparse.Namespace) -> int:
    """Run the operator until a signal stops it."""
    if args.kubeconfig is not None:
        # kopf's kubeconfig login and the kubernetes client both read KUBECONFIG.
        os.environ["KUBECONFIG"] = str(args.kubeconfig)
    config = OperatorConfig(
        image=os.environ.get(IMAGE_ENV, DEFAULT_BOT_IMAGE),
        probe_interval=args.probe_interval,
        summary_interval=args.summary_interval,
        drain_timeout=args.drain_timeout,
    )
    metrics = OperatorMetrics()
    server, _ = start_http_server(args.metrics_port, args.metrics_host, metrics.registry)
    print(f"operator metrics on port {server.server_port}", file=sys.stderr, flush=True)
    state = OperatorState(
        config=config, api=OperatorApi(api_client_from_environment()), metrics=metrics
    )
    registry = kopf.OperatorRegistry()
    register(registry, state)
    gc.set_threshold(*GC_THRESHOLDS)
    kopf.configure(verbose=False)
    # Every successful probe would log a line (500 a second for 1,000 bots).
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    try:
        kopf.run(
            registry=registry,
            settings=operator_settings(namespaced=bool(args.namespace)),
            standalone=True,
            clusterwide=not args.namespace,
            namespaces=args.namespace or (),
            # kopf serves this only after login and the startup activities.
            liveness_endpoint=(
                f"http://{args.metrics_host}:{args.ready_port}/readyz" if args.ready_port else None
            ),
        )
    finally:
        server.shutdown()
    return 0
