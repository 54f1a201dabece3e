"""Container environment resolution (agent.envvars) against upstream kubelet makeEnvironmentVariables.

ConfigMaps, Secrets and Services are seeded into a FakeClient; each test resolves one
container's env and asserts the exact (name, value) pairs or the kubelet's error message.
"""

from __future__ import annotations

import base64
from decimal import Decimal

import pytest

from podplane.agent.envvars import (
    EnvConfigError,
    format_map,
    go_quote,
    resolve_env,
    service_env,
)
from podplane.api import errors
from podplane.client.fake import FakeClient

GI = Decimal(2**30)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def pod(*env, env_from=(), resources=None, **spec) -> dict:
    container = {"name": "app", "image": "busybox", "env": list(env), "envFrom": list(env_from)}
    if resources is not None:
        container["resources"] = resources
    return {
        "metadata": {"name": "web-0", "namespace": "default", "uid": "uid-123",
                     "labels": {"app": "web", "tier": "front"},
                     "annotations": {"note": 'say "hi"\n', "k8s.io/x": "y"}},
        "spec": {"nodeName": "n1", "serviceAccountName": "builder", "containers": [container], **spec},
        "status": {"hostIP": "10.0.0.5", "hostIPs": [{"ip": "10.0.0.5"}, {"ip": "fd00::5"}],
                   "podIP": "10.244.0.7", "podIPs": [{"ip": "10.244.0.7"}, {"ip": "fd10::7"}]},
    }


def value(name: str, v: str) -> dict:
    return {"name": name, "value": v}


def field(name: str, path: str, **extra) -> dict:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path, **extra}}}


def resource(name: str, res: str, divisor: str | None = None, container: str | None = None) -> dict:
    ref: dict = {"resource": res}
    if divisor is not None:
        ref["divisor"] = divisor
    if container is not None:
        ref["containerName"] = container
    return {"name": name, "valueFrom": {"resourceFieldRef": ref}}


@pytest.fixture
def client() -> FakeClient:
    c = FakeClient()
    c.seed(c.resource("", "configmaps"), {"metadata": {"name": "cfg", "namespace": "default"},
                                          "data": {"B_KEY": "b", "A_KEY": "a", "mode": "prod"}})
    c.seed(c.resource("", "secrets"), {"metadata": {"name": "s", "namespace": "default"},
                                       "data": {"password": b64("hunter2"), "USER": b64("root")}})
    return c


async def resolve(client, p: dict, **kw) -> tuple[tuple[str, str], ...]:
    return await resolve_env(client, p, p["spec"]["containers"][0], **kw)


# --- envFrom, env order and overrides ---------------------------------------------------------

async def test_env_from_then_env_in_order_with_prefix_and_override(client):
    p = pod(value("Z", "1"), value("CFG_A_KEY", "overridden"),
            env_from=[{"configMapRef": {"name": "cfg"}, "prefix": "CFG_"}, {"secretRef": {"name": "s"}}])
    assert await resolve(client, p) == (
        ("CFG_A_KEY", "overridden"), ("CFG_B_KEY", "b"), ("CFG_mode", "prod"),
        ("USER", "root"), ("password", "hunter2"), ("Z", "1"))


async def test_env_from_objects_are_read_once(client):
    p = pod({"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "mode"}}},
            env_from=[{"configMapRef": {"name": "cfg"}}, {"configMapRef": {"name": "cfg"}, "prefix": "P_"}])
    env = dict(await resolve(client, p))
    assert env["X"] == "prod" and env["P_mode"] == "prod"
    assert client.verbs() == ["get configmaps"]


@pytest.mark.parametrize("source, message", [
    pytest.param({"configMapRef": {"name": "nope"}}, 'configmap "nope" not found', id="configmap"),
    pytest.param({"secretRef": {"name": "nope"}}, 'secret "nope" not found', id="secret"),
])
async def test_env_from_missing_source(client, source, message):
    with pytest.raises(EnvConfigError) as e:
        await resolve(client, pod(env_from=[source]))
    assert str(e.value) == message
    assert e.value.reason == "CreateContainerConfigError"


async def test_env_from_optional_missing_source_is_skipped(client):
    p = pod(value("A", "1"), env_from=[{"configMapRef": {"name": "nope", "optional": True}},
                                       {"secretRef": {"name": "gone", "optional": True}}])
    assert await resolve(client, p) == (("A", "1"),)


async def test_env_from_keys_that_cannot_be_env_names_are_skipped_with_a_warning(client):
    warnings = []
    p = pod(env_from=[{"configMapRef": {"name": "cfg"}, "prefix": "X="}, {"secretRef": {"name": "s"}}])
    env = await resolve(client, p, warn=lambda reason, msg: warnings.append((reason, msg)))
    assert env == (("USER", "root"), ("password", "hunter2"))
    assert warnings == [("InvalidEnvironmentVariableNames",
                         "Keys [X=A_KEY, X=B_KEY, X=mode] from the EnvFrom configMap default/cfg were skipped "
                         "since they are considered invalid environment variable names.")]


# --- key references ---------------------------------------------------------------------------

@pytest.mark.parametrize("ref, message", [
    pytest.param({"configMapKeyRef": {"name": "cfg", "key": "k"}}, "couldn't find key k in ConfigMap default/cfg",
                 id="configmap-key"),
    pytest.param({"secretKeyRef": {"name": "s", "key": "k"}}, "couldn't find key k in Secret default/s",
                 id="secret-key"),
    pytest.param({"configMapKeyRef": {"name": "other", "key": "k"}}, 'configmap "other" not found',
                 id="configmap"),
    pytest.param({"secretKeyRef": {"name": "other", "key": "k"}}, 'secret "other" not found', id="secret"),
])
async def test_key_ref_errors(client, ref, message):
    with pytest.raises(EnvConfigError, match="^" + message + "$"):
        await resolve(client, pod({"name": "X", "valueFrom": ref}))


@pytest.mark.parametrize("ref", [
    pytest.param({"configMapKeyRef": {"name": "cfg", "key": "k", "optional": True}}, id="configmap-key"),
    pytest.param({"secretKeyRef": {"name": "s", "key": "k", "optional": True}}, id="secret-key"),
    pytest.param({"configMapKeyRef": {"name": "other", "key": "k", "optional": True}}, id="configmap"),
    pytest.param({"secretKeyRef": {"name": "other", "key": "k", "optional": True}}, id="secret"),
])
async def test_optional_key_refs_leave_the_variable_out(client, ref):
    assert await resolve(client, pod(value("A", "1"), {"name": "X", "valueFrom": ref}, value("B", "$(X)"))) == (
        ("A", "1"), ("B", "$(X)"))


async def test_key_refs_read_values_and_decode_secrets(client):
    p = pod({"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "mode"}}},
            {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "s", "key": "password"}}})
    assert await resolve(client, p) == (("MODE", "prod"), ("PW", "hunter2"))


async def test_api_errors_other_than_not_found_are_reported(client):
    client.fail("get", "configmaps", errors.forbidden('configmaps "cfg" is forbidden: no'))
    with pytest.raises(EnvConfigError, match='configmaps "cfg" is forbidden: no'):
        await resolve(client, pod({"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "mode",
                                                                                    "optional": True}}}))


# --- expansion --------------------------------------------------------------------------------

async def test_values_expand_against_earlier_definitions_only(client):
    p = pod(value("A", "x"), value("B", "$(A)-$(C)-$$(A)-$(A"), value("C", "c"), value("D", "$(CFG_mode)/$(B)"),
            value("E", ""), field("F", "metadata.name"), value("G", "$(F)"),
            env_from=[{"configMapRef": {"name": "cfg"}, "prefix": "CFG_"}])
    env = dict(await resolve(client, p))
    assert env["B"] == "x-$(C)-$(A)-$(A"
    assert env["D"] == "prod/x-$(C)-$(A)-$(A"
    assert env["E"] == ""
    assert env["G"] == "web-0"


async def test_values_from_sources_are_not_expanded(client):
    client.seed(client.resource("", "configmaps"), {"metadata": {"name": "raw", "namespace": "default"},
                                                    "data": {"v": "$(A)"}})
    p = pod(value("A", "1"), {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "raw", "key": "v"}}})
    assert await resolve(client, p) == (("A", "1"), ("B", "$(A)"))


# --- fieldRef ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path, expected", [
    pytest.param("metadata.name", "web-0", id="name"),
    pytest.param("metadata.namespace", "default", id="namespace"),
    pytest.param("metadata.uid", "uid-123", id="uid"),
    pytest.param("metadata.labels['app']", "web", id="label"),
    pytest.param("metadata.labels['missing']", "", id="label-missing"),
    pytest.param("metadata.annotations['k8s.io/x']", "y", id="annotation"),
    pytest.param("metadata.labels", 'app="web"\ntier="front"', id="labels"),
    pytest.param("metadata.annotations", 'k8s.io/x="y"\nnote="say \\"hi\\"\\n"', id="annotations"),
    pytest.param("spec.nodeName", "n1", id="nodeName"),
    pytest.param("spec.host", "n1", id="host-legacy"),
    pytest.param("spec.serviceAccountName", "builder", id="serviceAccountName"),
    pytest.param("status.hostIP", "10.0.0.5", id="hostIP"),
    pytest.param("status.hostIPs", "10.0.0.5,fd00::5", id="hostIPs"),
    pytest.param("status.podIP", "10.244.0.7", id="podIP"),
    pytest.param("status.podIPs", "10.244.0.7,fd10::7", id="podIPs"),
])
async def test_field_refs(client, path, expected):
    assert await resolve(client, pod(field("V", path))) == (("V", expected),)


async def test_ips_passed_by_the_caller_win_over_the_status(client):
    p = pod(field("P", "status.podIP"), field("PS", "status.podIPs"), field("H", "status.hostIP"))
    env = await resolve(client, p, pod_ips=["10.9.9.9"], host_ips=["192.0.2.1", "2001:db8::1"])
    assert env == (("P", "10.9.9.9"), ("PS", "10.9.9.9"), ("H", "192.0.2.1"))


async def test_pod_ip_before_the_sandbox_has_one_is_empty(client):
    p = pod(field("P", "status.podIP"))
    p["status"] = {}
    assert await resolve(client, p) == (("P", ""),)
    with pytest.raises(EnvConfigError, match=r"^host IP unknown; known addresses: \[\]$"):
        await resolve(client, pod(field("H", "status.hostIP")), host_ips=[])


@pytest.mark.parametrize("ref, message", [
    pytest.param({"fieldPath": "spec.restartPolicy"}, "unsupported fieldPath: spec.restartPolicy", id="unsupported"),
    pytest.param({"fieldPath": "spec.containers"}, "field label not supported: spec.containers", id="unknown"),
    pytest.param({"fieldPath": "metadata.name", "apiVersion": "v2"}, "unsupported pod version: v2", id="version"),
    pytest.param({"fieldPath": "spec.nodeName['x']"}, r"field label does not support subscript: spec.nodeName\['x'\]",
                 id="subscript"),
    pytest.param({"fieldPath": "metadata.labels['-bad-']"}, r"invalid key subscript in metadata.labels\['-bad-'\]: ",
                 id="bad-key"),
])
async def test_field_ref_errors(client, ref, message):
    with pytest.raises(EnvConfigError, match="^" + message):
        await resolve(client, pod({"name": "V", "valueFrom": {"fieldRef": ref}}))


def test_go_quote_and_format_map():
    assert go_quote('a"b\\c\n\t\x01é') == '"a\\"b\\\\c\\n\\t\\x01é"'
    assert format_map({"b": "2", "a": "1"}) == 'a="1"\nb="2"'
    assert format_map({}) == ""


# --- resourceFieldRef -------------------------------------------------------------------------

RES = {"limits": {"cpu": "250m", "memory": "129Mi", "ephemeral-storage": "2Gi", "hugepages-2Mi": "4Mi"},
       "requests": {"cpu": "1500m", "memory": "64Mi"}}


@pytest.mark.parametrize("res, divisor, expected", [
    pytest.param("limits.cpu", None, "1", id="cpu-ceiling"),
    pytest.param("limits.cpu", "1m", "250", id="cpu-milli"),
    pytest.param("requests.cpu", "1", "2", id="request-cpu-ceiling"),
    pytest.param("requests.cpu", "100m", "15", id="request-cpu-100m"),
    pytest.param("limits.memory", None, str(129 * 2**20), id="memory-bytes"),
    pytest.param("limits.memory", "1Mi", "129", id="memory-mi"),
    pytest.param("limits.memory", "1Gi", "1", id="memory-gi-ceiling"),
    pytest.param("limits.memory", "1M", "136", id="memory-decimal-ceiling"),
    pytest.param("requests.memory", "1Mi", "64", id="request-memory"),
    pytest.param("limits.ephemeral-storage", "1Gi", "2", id="ephemeral"),
    pytest.param("requests.ephemeral-storage", None, "0", id="ephemeral-request-unset"),
    pytest.param("limits.hugepages-2Mi", "1Mi", "4", id="hugepages"),
])
async def test_resource_field_refs(client, res, divisor, expected):
    p = pod(resource("V", res, divisor), resources=RES)
    assert await resolve(client, p, node_allocatable={"cpu": Decimal(8), "memory": 16 * GI}) == (("V", expected),)


async def test_unset_limits_default_to_node_allocatable(client):
    p = pod(resource("CPU", "limits.cpu", "1m"), resource("MEM", "limits.memory", "1Gi"),
            resource("EPH", "limits.ephemeral-storage"), resources={"limits": {"memory": "0"}})
    env = await resolve(client, p, node_allocatable={"cpu": Decimal("3.5"), "memory": 16 * GI})
    assert env == (("CPU", "3500"), ("MEM", "16"), ("EPH", "0"))


async def test_resource_of_another_container(client):
    p = pod(resource("SIDE", "limits.memory", "1Mi", container="side"), resource("INIT", "limits.cpu", "1m", "setup"))
    p["spec"]["containers"].append({"name": "side", "image": "x"})
    p["spec"]["initContainers"] = [{"name": "setup", "image": "x"}]
    env = await resolve(client, p, node_allocatable={"cpu": Decimal(2), "memory": GI})
    # app containers' limits default to allocatable, init containers' do not (upstream)
    assert env == (("SIDE", "1024"), ("INIT", "0"))


@pytest.mark.parametrize("env_var, message", [
    pytest.param(resource("V", "limits.pods"), "unsupported container resource : limits.pods", id="resource"),
    pytest.param(resource("V", "limits.cpu", container="ghost"), "container ghost not found", id="container"),
])
async def test_resource_field_ref_errors(client, env_var, message):
    with pytest.raises(EnvConfigError, match="^" + message + "$"):
        await resolve(client, pod(env_var))


# --- service links ----------------------------------------------------------------------------

def svc(name: str, namespace: str, ip: str, *ports: dict) -> dict:
    return {"metadata": {"name": name, "namespace": namespace}, "spec": {"clusterIP": ip, "ports": list(ports)}}


SERVICES = [
    svc("kubernetes", "default", "10.96.0.1", {"name": "https", "port": 443, "protocol": "TCP"}),
    svc("my-db", "prod", "10.96.0.20", {"port": 5432}, {"name": "metrics", "port": 9187, "protocol": "UDP"}),
    svc("headless", "prod", "None", {"port": 80}),
    svc("elsewhere", "other", "10.96.0.30", {"port": 80}),
]


def test_service_env_variables_upstream_shape():
    env = service_env(SERVICES, "prod")
    assert env == {
        "KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443",
        "KUBERNETES_SERVICE_PORT_HTTPS": "443", "KUBERNETES_PORT": "tcp://10.96.0.1:443",
        "KUBERNETES_PORT_443_TCP": "tcp://10.96.0.1:443", "KUBERNETES_PORT_443_TCP_PROTO": "tcp",
        "KUBERNETES_PORT_443_TCP_PORT": "443", "KUBERNETES_PORT_443_TCP_ADDR": "10.96.0.1",
        "MY_DB_SERVICE_HOST": "10.96.0.20", "MY_DB_SERVICE_PORT": "5432", "MY_DB_SERVICE_PORT_METRICS": "9187",
        "MY_DB_PORT": "tcp://10.96.0.20:5432",
        "MY_DB_PORT_5432_TCP": "tcp://10.96.0.20:5432", "MY_DB_PORT_5432_TCP_PROTO": "tcp",
        "MY_DB_PORT_5432_TCP_PORT": "5432", "MY_DB_PORT_5432_TCP_ADDR": "10.96.0.20",
        "MY_DB_PORT_9187_UDP": "udp://10.96.0.20:9187", "MY_DB_PORT_9187_UDP_PROTO": "udp",
        "MY_DB_PORT_9187_UDP_PORT": "9187", "MY_DB_PORT_9187_UDP_ADDR": "10.96.0.20",
    }
    assert set(service_env(SERVICES, "prod", enable_service_links=False)) == {
        k for k in env if k.startswith("KUBERNETES_")}


async def test_service_variables_come_last_and_never_override(client):
    p = pod(value("MY_DB_SERVICE_HOST", "mine"), value("URL", "$(MY_DB_SERVICE_HOST):$(MY_DB_SERVICE_PORT)"))
    p["metadata"]["namespace"] = "prod"
    env = await resolve(client, p, services=SERVICES)
    assert env[:2] == (("MY_DB_SERVICE_HOST", "mine"), ("URL", "mine:5432"))
    names = [k for k, _ in env]
    assert names.count("MY_DB_SERVICE_HOST") == 1 and "KUBERNETES_SERVICE_HOST" in names[2:]
    p["spec"]["enableServiceLinks"] = False
    names = [k for k, _ in await resolve(client, p, services=SERVICES)]
    assert "MY_DB_PORT" not in names and "KUBERNETES_PORT" in names
