"""The chart deploy/helm/ciam, rendered by tests/deploy/gotemplate.py (no helm binary here)
with its default values and with the options switched on, then read as Kubernetes objects:
kinds and API versions, probes, the migration hook, security contexts, selectors, and the
processes of deploy/'s systemd units."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.management import get_commands

from .gotemplate import RenderError, render_chart
from .sources import (
    CHART,
    ROOT,
    containerfile_stages,
    cron_period_seconds,
    manage_commands,
    systemd_units,
)

yaml = pytest.importorskip("yaml")

Manifests = list[dict[str, Any]]
EVERYTHING_ON: dict[str, Any] = {
    "replicaCount": 3,
    "ingress": {
        "enabled": True,
        "tls": [{"secretName": "id-example-com-tls", "hosts": ["id.example.com"]}],
    },
    "stream": {"enabled": True},
}
CHART_SECRET: dict[str, Any] = {
    "existingSecret": "",
    "secretEnv": {
        "SECRET_KEY": "k" * 50,
        "CIAM_CLIENT_SECRET_KEY": "c" * 50,
        "DATABASE_URL": "postgres://ciam:pw@db:5432/ciam",
        "REDIS_URL": "redis://redis:6379/0",
    },
}
STABLE_LABELS = {"app.kubernetes.io/name", "app.kubernetes.io/instance"}
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@pytest.fixture(scope="module")
def render() -> Callable[..., Manifests]:
    def _render(values: dict[str, Any] | None = None, **options: Any) -> Manifests:
        return render_chart(CHART, values, **options).manifests()

    return _render


@pytest.fixture(scope="module")
def default(render: Callable[..., Manifests]) -> Manifests:
    return render()


@pytest.fixture(scope="module")
def everything(render: Callable[..., Manifests]) -> Manifests:
    return render(EVERYTHING_ON)


def one(manifests: Manifests, kind: str, name: str) -> dict[str, Any]:
    (found,) = [
        item for item in manifests if item["kind"] == kind and item["metadata"]["name"] == name
    ]
    return found


def pod_specs(manifests: Manifests) -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, pod template) of every Deployment, Job and CronJob."""
    for item in manifests:
        if item["kind"] == "CronJob":
            yield item["metadata"]["name"], item["spec"]["jobTemplate"]["spec"]["template"]
        elif item["kind"] in ("Deployment", "Job"):
            yield item["metadata"]["name"], item["spec"]["template"]


def containers(manifests: Manifests) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, template in pod_specs(manifests):
        for container in template["spec"]["containers"]:
            yield name, container


def test_default_values_render_the_expected_objects(default: Manifests) -> None:
    """Defaults: the web, monitor, worker and SSF Deployments, two Services, the ConfigMap,
    the ServiceAccount, the migration Job, three CronJobs and the web PDB, at the stable API
    versions; no Secret (existingSecret), Ingress or autoscaler unless asked for."""
    kinds = sorted((item["apiVersion"], item["kind"], item["metadata"]["name"]) for item in default)
    assert kinds == sorted(
        [
            ("v1", "ConfigMap", "ciam"),
            ("v1", "ServiceAccount", "ciam"),
            ("v1", "Service", "ciam"),
            ("v1", "Service", "ciam-monitor"),
            ("apps/v1", "Deployment", "ciam-web"),
            ("apps/v1", "Deployment", "ciam-monitor"),
            ("apps/v1", "Deployment", "ciam-worker"),
            ("apps/v1", "Deployment", "ciam-ssf"),
            ("batch/v1", "Job", "ciam-migrate"),
            ("batch/v1", "CronJob", "ciam-cleanup"),
            ("batch/v1", "CronJob", "ciam-personalization"),
            ("batch/v1", "CronJob", "ciam-logout-delivery"),
            ("policy/v1", "PodDisruptionBudget", "ciam-web"),
        ]
    )


def test_options_add_their_objects(everything: Manifests, render: Callable[..., Manifests]) -> None:
    """ingress.enabled adds a networking.k8s.io/v1 Ingress, stream.enabled the events_stream
    Deployment, autoscaling.enabled an autoscaling/v2 HorizontalPodAutoscaler."""
    assert one(everything, "Ingress", "ciam")["apiVersion"] == "networking.k8s.io/v1"
    assert one(everything, "Deployment", "ciam-stream")["spec"]["replicas"] == 1
    autoscaled = render({"autoscaling": {"enabled": True}})
    assert one(autoscaled, "HorizontalPodAutoscaler", "ciam-web")["apiVersion"] == "autoscaling/v2"


def test_replica_count_sets_the_web_pods(everything: Manifests, default: Manifests) -> None:
    """replicaCount is the web Deployment's replicas (2 by default, 3 when asked)."""
    assert one(default, "Deployment", "ciam-web")["spec"]["replicas"] == 2
    assert one(everything, "Deployment", "ciam-web")["spec"]["replicas"] == 3


def test_web_probes_ask_healthz_and_readyz_on_the_servers_port(default: Manifests) -> None:
    """Startup and liveness ask /healthz, readiness /readyz, on the named port that is the
    image's GRANIAN_PORT, where granian listens on every interface."""
    (container,) = one(default, "Deployment", "ciam-web")["spec"]["template"]["spec"]["containers"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    image_env = containerfile_stages()[-1].env()
    assert ports == {"http": int(image_env["GRANIAN_PORT"])}
    for probe, path in [
        ("startupProbe", "/healthz"),
        ("livenessProbe", "/healthz"),
        ("readinessProbe", "/readyz"),
    ]:
        assert container[probe]["httpGet"] == {"path": path, "port": "http"}, probe
    env = {item["name"]: item["value"] for item in container["env"]}
    assert env["GRANIAN_HOST"] == "0.0.0.0"  # noqa: S104
    assert env["GRANIAN_PORT"] == image_env["GRANIAN_PORT"]
    # deploy/serve would otherwise start one worker per core of the node, not of the pod.
    assert env["GRANIAN_WORKERS"] == "2"


def test_the_monitor_is_probed_by_tcp_and_reached_through_the_ingress(
    everything: Manifests,
) -> None:
    """The ASGI monitor has TCP probes on its port (Django's full middleware would refuse the
    probe's Host); the ingress sends /admin/monitor/ws/ exactly to its Service and every
    other path to the web Service, on ports those Services have, over TLS."""
    (monitor,) = one(everything, "Deployment", "ciam-monitor")["spec"]["template"]["spec"][
        "containers"
    ]
    assert monitor["args"] == ["/opt/ciam/deploy/serve", "--asgi"]
    assert monitor["readinessProbe"]["tcpSocket"] == {"port": "ws"}
    assert monitor["livenessProbe"]["tcpSocket"] == {"port": "ws"}
    ingress = one(everything, "Ingress", "ciam")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == EVERYTHING_ON["ingress"]["tls"]
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "id.example.com"
    routes = {
        (path["path"], path["pathType"]): path["backend"]["service"]
        for path in rule["http"]["paths"]
    }
    assert routes == {
        ("/admin/monitor/ws/", "Exact"): {"name": "ciam-monitor", "port": {"name": "ws"}},
        ("/", "Prefix"): {"name": "ciam", "port": {"name": "http"}},
    }
    for service_name, deployment_name in [("ciam", "ciam-web"), ("ciam-monitor", "ciam-monitor")]:
        service = one(everything, "Service", service_name)
        deployment = one(everything, "Deployment", deployment_name)
        port_names = {port["name"] for port in service["spec"]["ports"]}
        assert routes_port(routes, service_name) in port_names
        container_ports = {
            port["name"]
            for container in deployment["spec"]["template"]["spec"]["containers"]
            for port in container["ports"]
        }
        assert {port["targetPort"] for port in service["spec"]["ports"]} <= container_ports
        assert selects(service["spec"]["selector"], everything) == [deployment_name]


def routes_port(routes: dict[tuple[str, str], dict[str, Any]], service: str) -> str:
    (port,) = {r["port"]["name"] for r in routes.values() if r["name"] == service}
    return str(port)


def selects(selector: dict[str, str], manifests: Manifests) -> list[str]:
    """The names of the workloads whose pods a label selector matches."""
    return sorted(
        name
        for name, template in pod_specs(manifests)
        if selector.items() <= template["metadata"]["labels"].items()
    )


def test_migrations_run_as_a_hook_before_install_and_upgrade(
    default: Manifests, render: Callable[..., Manifests]
) -> None:
    """migrate --noinput runs in a pre-install and pre-upgrade hook Job, which uses nothing
    the release creates as an ordinary resource (those do not exist yet at pre-install):
    configuration inline from the values, the existing Secret, or the chart's Secret
    written as an earlier hook; no service account of the chart."""
    job = one(default, "Job", "ciam-migrate")
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert manage_commands(container["args"]) == ["migrate"]
    assert "--noinput" in container["args"]
    assert pod["restartPolicy"] == "Never"
    assert "serviceAccountName" not in pod
    assert container["envFrom"] == [{"secretRef": {"name": "ciam-env"}}]
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert {item["name"]: item["value"] for item in container["env"]} == values["config"]

    with_secret = render(CHART_SECRET)
    secret = one(with_secret, "Secret", "ciam")
    job = one(with_secret, "Job", "ciam-migrate")
    secret_hook = secret["metadata"]["annotations"]
    job_hook = job["metadata"]["annotations"]
    assert secret_hook["helm.sh/hook"] == job_hook["helm.sh/hook"]
    assert int(secret_hook["helm.sh/hook-weight"]) < int(job_hook["helm.sh/hook-weight"])
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["envFrom"] == [{"secretRef": {"name": "ciam"}}]


def test_the_chart_secret_needs_its_keys_and_feeds_every_pod(
    render: Callable[..., Manifests],
) -> None:
    """Without existingSecret the chart writes the Secret from secretEnv, refusing to render
    without SECRET_KEY; every pod then reads that Secret, and a change to it rolls the
    Deployments (checksum annotation)."""
    with pytest.raises(RenderError, match="SECRET_KEY"):
        render({"existingSecret": ""})
    manifests = render(CHART_SECRET)
    secret = one(manifests, "Secret", "ciam")
    assert secret["stringData"] == CHART_SECRET["secretEnv"]
    for name, container in containers(manifests):
        refs = [ref["secretRef"]["name"] for ref in container["envFrom"] if "secretRef" in ref]
        assert refs == ["ciam"], name
    for item in manifests:
        if item["kind"] == "Deployment":
            annotations = item["spec"]["template"]["metadata"]["annotations"]
            assert {"checksum/config", "checksum/secret"} <= set(annotations)


def test_every_pod_runs_unprivileged_on_a_read_only_root(everything: Manifests) -> None:
    """Every pod runs as the image's uid 10001 (runAsNonRoot), every container with a
    read-only root, no privilege escalation and no capabilities; /tmp and the metrics
    directory are emptyDirs; no service account token and no Service variables."""
    image_user = containerfile_stages()[-1].all("USER")[-1].arguments.split(":")[0]
    for name, template in pod_specs(everything):
        pod = template["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert str(pod["securityContext"]["runAsUser"]) == image_user, name
        assert pod["automountServiceAccountToken"] is False, name
        assert pod["enableServiceLinks"] is False, name
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
            assert set(mounts.values()) <= set(volumes), name
            for path in ("/tmp", "/var/lib/ciam/metrics"):  # noqa: S108
                assert "emptyDir" in volumes[mounts[path]], f"{name}: {path}"


def test_containers_keep_the_images_entrypoint_and_tag(everything: Manifests) -> None:
    """Containers set `args`, never `command` (which would replace tini as PID 1), and all
    run the one image, tagged with the chart's appVersion by default."""
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    for name, container in containers(everything):
        assert "command" not in container, name
        assert container["args"], name
        assert container["image"] == f"ciam:{chart['appVersion']}", name


def test_the_chart_version_follows_the_project(render: Callable[..., Manifests]) -> None:
    """Chart.yaml's appVersion (the default image tag) is pyproject.toml's version."""
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert chart["appVersion"] == project["version"]
    assert chart["apiVersion"] == "v2"


def test_disruption_budget_and_autoscaler_target_the_web_pods_only(
    render: Callable[..., Manifests],
) -> None:
    """The PodDisruptionBudget selects the web pods and no other workload's; the autoscaler
    scales the web Deployment by CPU, which then leaves its replica count to it."""
    manifests = render({"autoscaling": {"enabled": True}})
    pdb = one(manifests, "PodDisruptionBudget", "ciam-web")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert selects(pdb["spec"]["selector"]["matchLabels"], manifests) == ["ciam-web"]
    hpa = one(manifests, "HorizontalPodAutoscaler", "ciam-web")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "ciam-web",
    }
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}
    assert "replicas" not in one(manifests, "Deployment", "ciam-web")["spec"]
    web = one(manifests, "Deployment", "ciam-web")
    (container,) = web["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["requests"]["cpu"]  # utilization is relative to it


def test_every_systemd_unit_runs_in_the_chart(everything: Manifests) -> None:
    """Each deploy/ciam*.service has its workload: the servers as Deployments, the long-running
    commands as Deployments, a timer's commands as a CronJob with the timer's period, in
    the unit's order (stopping at the first failure, as systemd does)."""
    workloads: dict[tuple[str, ...], tuple[dict[str, Any], dict[str, Any]]] = {}
    for item in everything:
        for _name, container in containers([item]):
            key = tuple(manage_commands(container["args"])) or tuple(container["args"])
            workloads[key] = (item, container)
    for unit in systemd_units().values():
        # ciam.service and ciam-monitor.service: deploy/serve [--asgi], the same path
        key = tuple(unit.commands) or tuple(unit.exec_start[0].split())
        assert key in workloads, f"{unit.name}: nothing runs {key}"
        item, container = workloads[key]
        if unit.timer_seconds is None:
            assert item["kind"] == "Deployment", unit.name
            continue
        assert item["kind"] == "CronJob", unit.name
        assert cron_period_seconds(item["spec"]["schedule"]) == unit.timer_seconds, unit.name
        assert item["spec"]["concurrencyPolicy"] == "Forbid", unit.name
        if len(unit.commands) > 1:
            script = " ".join(container["args"])
            assert " && ".join(f"python manage.py {c}" for c in unit.commands) in script


def test_every_command_exists(everything: Manifests) -> None:
    """Every manage.py command of the chart is one of the project's."""
    known = get_commands()
    for name, container in containers(everything):
        for command in manage_commands(container["args"]):
            assert command in known, f"{name}: manage.py {command}"


def test_standard_labels_and_stable_selectors(everything: Manifests) -> None:
    """Every object carries the standard labels; selectors use only the stable ones plus the
    component (a Deployment's selector cannot change, the version and chart labels do), and
    each matches its own pods; names are DNS labels, CronJobs' short enough for their Jobs."""
    for item in everything:
        name = item["metadata"]["name"]
        labels = item["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "Helm", name
        assert labels["helm.sh/chart"] == "ciam-0.1.0", name
        assert STABLE_LABELS | {"app.kubernetes.io/version"} <= set(labels), name
        assert DNS_LABEL.match(name), name
        assert len(name) <= 63, name
        if item["kind"] == "CronJob":
            assert len(name) <= 52, name
        if item["kind"] == "Deployment":
            selector = item["spec"]["selector"]["matchLabels"]
            assert set(selector) == STABLE_LABELS | {"app.kubernetes.io/component"}, name
            assert selects(selector, everything) == [name]


def test_release_names_prefix_every_object(render: Callable[..., Manifests]) -> None:
    """A release named other than the chart prefixes the chart's name; one containing it
    is used as it is."""
    names = {item["metadata"]["name"] for item in render(release="prod")}
    assert {"prod-ciam", "prod-ciam-web", "prod-ciam-monitor", "prod-ciam-migrate"} <= names
    names = {item["metadata"]["name"] for item in render(release="ciam-eu")}
    assert {"ciam-eu", "ciam-eu-web"} <= names


def test_notes_render(render: Callable[..., Manifests]) -> None:
    """NOTES.txt renders with and without the ingress and names the monitor's path."""
    for values in ({}, EVERYTHING_ON, CHART_SECRET):
        notes = render_chart(CHART, values).files["NOTES.txt"]
        assert "/admin/monitor/ws/" in notes
        assert "create_user" in notes
