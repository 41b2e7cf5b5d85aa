"""The Kubernetes API client that both the bot and the operator build from their environment.

``KUBECONFIG`` when set (a developer's machine, the sandbox), else the pod's
in-cluster service account. Every retry is the caller's: urllib3 makes none
behind its back.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from kubernetes import client as k8s
from kubernetes import config as k8s_config


class ApiConfigError(ValueError):
    """Neither a usable ``KUBECONFIG`` nor an in-cluster service account was found."""


def api_client_from_environment(environ: Mapping[str, str] = os.environ) -> k8s.ApiClient:
    """An API client from ``KUBECONFIG`` when set, else the pod's in-cluster config."""
    configuration = k8s.Configuration()
    kubeconfig = environ.get("KUBECONFIG")
    # The config loaders of the kubernetes package carry no type hints.
    try:
        if kubeconfig:
            k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=kubeconfig, client_configuration=configuration
            )
        else:
            k8s_config.load_incluster_config(  # type: ignore[no-untyped-call]
                client_configuration=configuration
            )
    except (k8s_config.ConfigException, OSError) as error:
        source = f"KUBECONFIG={kubeconfig}" if kubeconfig else "in-cluster config"
        message = f"cannot configure the Kubernetes client from {source}: {error}"
        raise ApiConfigError(message) from error
    # The control loops retry on their own schedule; urllib3's silent retries would only
    # stretch each failed call.
    configuration.retries = 0
    return k8s.ApiClient(configuration)
