"""ClusterIP and NodePort allocation through the API (in process, memory store)."""

from __future__ import annotations

import ipaddress

import pytest


def service(name: str, **spec) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"ports": [{"port": 80}], "selector": {"app": name}, **spec}}


async def test_kubernetes_service_holds_the_first_address(api):
    status, svc = await api.call("GET", "/api/v1/namespaces/default/services/kubernetes")
    assert status == 200 and svc["spec"]["clusterIP"] == "10.43.0.1"


async def test_cluster_ips_are_unique_and_in_range(api):
    ips = set()
    for i in range(20):
        status, svc = await api.call("POST", "/api/v1/namespaces/default/services", service(f"s{i}"))
        assert status == 201
        ip = svc["spec"]["clusterIP"]
        assert ipaddress.ip_address(ip) in ipaddress.ip_network("10.43.0.0/16")
        assert svc["spec"]["clusterIPs"] == [ip]
        ips.add(ip)
    assert len(ips) == 20


@pytest.mark.parametrize("ip,message", [
    pytest.param("10.43.0.1", "provided IP is already allocated", id="taken"),
    pytest.param("192.0.2.1", "is not in the valid range", id="out-of-range"),
])
async def test_requested_cluster_ip_is_checked(api, ip, message):
    status, body = await api.call("POST", "/api/v1/namespaces/default/services", service("x", clusterIP=ip))
    assert status == 422 and message in body["message"]
    assert body["details"]["causes"][0]["field"].startswith("spec.clusterIP")


async def test_deleted_service_frees_its_addresses(api):
    _, svc = await api.call("POST", "/api/v1/namespaces/default/services",
                        service("np", type="NodePort", ports=[{"port": 80, "nodePort": 30080}]))
    assert svc["spec"]["ports"][0]["nodePort"] == 30080
    status, body = await api.call("POST", "/api/v1/namespaces/default/services",
                              service("np2", type="NodePort", ports=[{"port": 80, "nodePort": 30080}]))
    assert status == 422 and "provided port is already allocated" in body["message"]
    await api.call("DELETE", "/api/v1/namespaces/default/services/np")
    status, again = await api.call("POST", "/api/v1/namespaces/default/services",
                               service("np3", type="NodePort", clusterIP=svc["spec"]["clusterIP"],
                                       ports=[{"port": 80, "nodePort": 30080}]))
    assert status == 201 and again["spec"]["clusterIP"] == svc["spec"]["clusterIP"]


async def test_type_changes_allocate_and_release_node_ports(api):
    _, svc = await api.call("POST", "/api/v1/namespaces/default/services", service("t"))
    assert "nodePort" not in svc["spec"]["ports"][0]
    _, svc = await api.call("PATCH", "/api/v1/namespaces/default/services/t", {"spec": {"type": "NodePort"}},
                        content_type="application/merge-patch+json")
    port = svc["spec"]["ports"][0]["nodePort"]
    assert 30000 <= port <= 32767
    _, svc = await api.call("PATCH", "/api/v1/namespaces/default/services/t", {"spec": {"type": "ClusterIP"}},
                        content_type="application/merge-patch+json")
    assert "nodePort" not in svc["spec"]["ports"][0]
    status, _ = await api.call("POST", "/api/v1/namespaces/default/services",
                           service("u", type="NodePort", ports=[{"port": 80, "nodePort": port}]))
    assert status == 201, "the released port is free again"


async def test_headless_and_external_name_get_no_address(api):
    _, headless = await api.call("POST", "/api/v1/namespaces/default/services", service("h", clusterIP="None"))
    assert headless["spec"]["clusterIP"] == "None"
    _, ext = await api.call("POST", "/api/v1/namespaces/default/services",
                        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "e"},
                         "spec": {"type": "ExternalName", "externalName": "example.com"}})
    assert not ext["spec"].get("clusterIP")


async def test_claims_without_a_class_get_the_default_one(api):
    await api.call("POST", "/apis/storage.k8s.io/v1/storageclasses", {
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "provisioner": "example.com/x",
        "metadata": {"name": "fast", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}})
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "c1"},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}
    _, created = await api.call("POST", "/api/v1/namespaces/default/persistentvolumeclaims", claim)
    assert created["spec"]["storageClassName"] == "fast"
    claim["metadata"]["name"] = "c2"
    claim["spec"]["storageClassName"] = ""
    _, created = await api.call("POST", "/api/v1/namespaces/default/persistentvolumeclaims", claim)
    assert created["spec"]["storageClassName"] == "", "an explicit empty class means none"
