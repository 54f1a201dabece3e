"""The real kubectl against a real `podplane server`: what it prints and what the API holds."""

from __future__ import annotations

import json
import re
import textwrap
import time

import pytest

pytestmark = pytest.mark.e2e

DEPLOYMENT = textwrap.dedent("""\
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
      namespace: {ns}
      labels: {{app: web, tier: frontend}}
    spec:
      replicas: 2
      selector:
        matchLabels: {{app: web}}
      template:
        metadata:
          labels: {{app: web}}
        spec:
          containers:
          - name: nginx
            image: {image}
            env:
            - {{name: A, value: "1"}}
            - {{name: B, value: "2"}}
            ports:
            - containerPort: 80
    """)


@pytest.fixture
def ns(cluster, request):
    name = "t-" + re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:50].strip("-")
    cluster.kubectl("create", "namespace", name)
    return name


def get_json(cluster, *args) -> dict:
    return json.loads(cluster.kubectl("get", *args, "-o", "json").stdout)


def test_version_and_discovery(cluster):
    out = cluster.kubectl("version", "-o", "json").stdout
    server = json.loads(out)["serverVersion"]
    assert server["major"] == "1" and server["minor"] == "37"
    resources = cluster.kubectl("api-resources").stdout
    assert "deployments" in resources and "deploy" in resources and "apps/v1" in resources
    assert "customresourcedefinitions" in resources
    versions = cluster.kubectl("api-versions").stdout.split()
    assert "apps/v1" in versions and "v1" in versions and "batch/v1" in versions
    namespaces = cluster.kubectl("get", "namespaces").stdout
    for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
        assert name in namespaces


def test_apply_create_configure_unchanged(cluster, ns):
    manifest = DEPLOYMENT.format(ns=ns, image="nginx:1.27")
    out = cluster.kubectl("apply", "-f", "-", input=manifest).stdout
    assert out.strip() == "deployment.apps/web created"
    out = cluster.kubectl("apply", "-f", "-", input=manifest).stdout
    assert out.strip() == "deployment.apps/web unchanged"
    changed = "".join(line for line in manifest.replace("nginx:1.27", "nginx:1.28").splitlines(True)
                      if "name: B" not in line)
    out = cluster.kubectl("apply", "-f", "-", input=changed).stdout
    assert out.strip() == "deployment.apps/web configured"
    obj = get_json(cluster, "-n", ns, "deployment", "web")
    container = obj["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx:1.28"
    assert container["env"] == [{"name": "A", "value": "1"}]  # B removed by the three-way patch
    assert obj["metadata"]["generation"] == 2
    assert obj["spec"]["strategy"]["type"] == "RollingUpdate"  # defaulted
    assert "kubectl.kubernetes.io/last-applied-configuration" in obj["metadata"]["annotations"]


def test_get_output_formats(cluster, ns):
    cluster.kubectl("apply", "-f", "-", input=DEPLOYMENT.format(ns=ns, image="nginx:1.27"))
    cluster.kubectl("-n", ns, "create", "configmap", "cfg", "--from-literal=k=v")
    table = cluster.kubectl("-n", ns, "get", "deployments").stdout.splitlines()
    assert table[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert table[1].split()[:2] == ["web", "0/2"]
    wide = cluster.kubectl("-n", ns, "get", "deployments", "-o", "wide").stdout.splitlines()
    assert wide[0].split()[-3:] == ["CONTAINERS", "IMAGES", "SELECTOR"]
    assert "nginx:1.27" in wide[1] and "app=web" in wide[1]
    yaml_out = cluster.kubectl("-n", ns, "get", "configmap", "cfg", "-o", "yaml").stdout
    assert "kind: ConfigMap" in yaml_out and "k: v" in yaml_out
    jp = cluster.kubectl("-n", ns, "get", "configmap", "cfg", "-o", "jsonpath={.data.k}").stdout
    assert jp == "v"
    labels = cluster.kubectl("-n", ns, "get", "deployments", "--show-labels").stdout
    assert "app=web,tier=frontend" in labels
    all_ns = cluster.kubectl("get", "configmaps", "-A").stdout.splitlines()
    assert all_ns[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert any(line.split()[:2] == [ns, "cfg"] for line in all_ns)
    names = cluster.kubectl("-n", ns, "get", "cm", "-o", "name").stdout.split()
    assert "configmap/cfg" in names


@pytest.mark.parametrize("selector,expected", [
    pytest.param("tier=a", {"one"}, id="equality"),
    pytest.param("tier==a", {"one"}, id="double-equals"),
    pytest.param("tier!=a", {"two", "three"}, id="not-equal"),
    pytest.param("tier in (a,b)", {"one", "two"}, id="in"),
    pytest.param("tier notin (a,b)", {"three"}, id="notin"),
    pytest.param("tier", {"one", "two"}, id="exists"),
    pytest.param("!tier", {"three"}, id="not-exists"),
    pytest.param("tier,env=prod", {"one"}, id="combined"),
])
def test_label_selectors(cluster, selector, expected):
    ns = "sel"
    if cluster.kubectl("get", "namespace", ns, check=False).returncode != 0:
        cluster.kubectl("create", "namespace", ns)
        cluster.kubectl("-n", ns, "create", "configmap", "one")
        cluster.kubectl("-n", ns, "create", "configmap", "two")
        cluster.kubectl("-n", ns, "create", "configmap", "three")
        cluster.kubectl("-n", ns, "label", "configmap", "one", "tier=a", "env=prod")
        cluster.kubectl("-n", ns, "label", "configmap", "two", "tier=b")
    out = cluster.kubectl("-n", ns, "get", "configmaps", "-l", selector, "-o", "name").stdout.split()
    got = {n.split("/", 1)[1] for n in out} - {"kube-root-ca.crt"}
    assert got == expected


def test_label_annotate_patch_replace(cluster, ns):
    cluster.kubectl("-n", ns, "create", "configmap", "c1", "--from-literal=a=1")
    assert cluster.kubectl("-n", ns, "label", "cm", "c1", "color=red").stdout.strip() == "configmap/c1 labeled"
    assert get_json(cluster, "-n", ns, "cm", "c1")["metadata"]["labels"] == {"color": "red"}
    cluster.kubectl("-n", ns, "label", "cm", "c1", "color-")
    assert "labels" not in get_json(cluster, "-n", ns, "cm", "c1")["metadata"] or \
        get_json(cluster, "-n", ns, "cm", "c1")["metadata"]["labels"] == {}
    cluster.kubectl("-n", ns, "annotate", "cm", "c1", "note=hello")
    assert get_json(cluster, "-n", ns, "cm", "c1")["metadata"]["annotations"]["note"] == "hello"
    # merge, json and strategic patches
    cluster.kubectl("-n", ns, "patch", "cm", "c1", "--type=merge", "-p", '{"data":{"b":"2"}}')
    cluster.kubectl("-n", ns, "patch", "cm", "c1", "--type=json", "-p",
                    '[{"op":"replace","path":"/data/a","value":"10"}]')
    cluster.kubectl("-n", ns, "patch", "cm", "c1", "-p", '{"data":{"c":"3"}}')
    assert get_json(cluster, "-n", ns, "cm", "c1")["data"] == {"a": "10", "b": "2", "c": "3"}
    # replace with the current object
    obj = get_json(cluster, "-n", ns, "cm", "c1")
    obj["data"] = {"only": "this"}
    out = cluster.kubectl("replace", "-f", "-", input=json.dumps(obj)).stdout
    assert out.strip() == "configmap/c1 replaced"
    assert get_json(cluster, "-n", ns, "cm", "c1")["data"] == {"only": "this"}
    # a stale replace is a conflict
    result = cluster.kubectl("replace", "-f", "-", input=json.dumps(obj), check=False)
    assert result.returncode != 0 and "Conflict" in result.stderr


def test_strategic_patch_of_containers(cluster, ns):
    cluster.kubectl("apply", "-f", "-", input=DEPLOYMENT.format(ns=ns, image="nginx:1.27"))
    cluster.kubectl("-n", ns, "set", "image", "deployment/web", "nginx=nginx:1.29")
    cluster.kubectl("-n", ns, "patch", "deployment", "web", "-p",
                    '{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"busybox"}]}}}}')
    containers = get_json(cluster, "-n", ns, "deploy", "web")["spec"]["template"]["spec"]["containers"]
    # upstream's strategic merge puts items new to the list before the server's ones
    assert [(c["name"], c["image"]) for c in containers] == [("sidecar", "busybox"), ("nginx", "nginx:1.29")]


@pytest.mark.parametrize("args,kind,name", [
    pytest.param(["deployment", "d1", "--image=nginx", "--replicas=3"], "deployment", "d1", id="deployment"),
    pytest.param(["configmap", "cm1", "--from-literal=a=b"], "configmap", "cm1", id="configmap"),
    pytest.param(["secret", "generic", "s1", "--from-literal=k=v"], "secret", "s1", id="secret"),
    pytest.param(["service", "clusterip", "svc1", "--tcp=80:8080"], "service", "svc1", id="service"),
    pytest.param(["job", "j1", "--image=busybox", "--", "echo", "hi"], "job", "j1", id="job"),
    pytest.param(["serviceaccount", "sa1"], "serviceaccount", "sa1", id="serviceaccount"),
    pytest.param(["role", "r1", "--verb=get", "--resource=pods"], "role", "r1", id="role"),
])
def test_create_generators(cluster, ns, args, kind, name):
    result = cluster.kubectl("-n", ns, "create", *args)
    assert "created" in result.stdout
    obj = get_json(cluster, "-n", ns, kind, name)
    assert obj["metadata"]["name"] == name and obj["metadata"]["namespace"] == ns
    if kind == "deployment":
        assert obj["spec"]["replicas"] == 3
        assert obj["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx"
    if kind == "secret":
        assert obj["type"] == "Opaque" and obj["data"] == {"k": "dg=="}
    if kind == "service":
        assert obj["spec"]["ports"][0]["port"] == 80 and obj["spec"]["ports"][0]["targetPort"] == 8080
    if kind == "job":
        assert obj["spec"]["template"]["spec"]["containers"][0]["command"] == ["echo", "hi"]


def test_create_namespace_and_lifecycle(cluster):
    assert cluster.kubectl("create", "namespace", "ns-life").stdout.strip() == "namespace/ns-life created"
    result = cluster.kubectl("-n", "missing-ns", "create", "configmap", "x", check=False)
    assert result.returncode != 0 and 'namespaces "missing-ns" not found' in result.stderr


def test_scale_and_describe(cluster, ns):
    cluster.kubectl("apply", "-f", "-", input=DEPLOYMENT.format(ns=ns, image="nginx:1.27"))
    out = cluster.kubectl("-n", ns, "scale", "deployment", "web", "--replicas=5").stdout
    assert out.strip() == "deployment.apps/web scaled"
    obj = get_json(cluster, "-n", ns, "deploy", "web")
    assert obj["spec"]["replicas"] == 5 and obj["metadata"]["generation"] == 2
    desc = cluster.kubectl("-n", ns, "describe", "deployment", "web").stdout
    assert "Name:" in desc and "web" in desc and "StrategyType:" in desc and "RollingUpdate" in desc
    assert "nginx:1.27" in desc


def test_delete_by_file_and_name(cluster, ns):
    manifest = DEPLOYMENT.format(ns=ns, image="nginx:1.27")
    cluster.kubectl("apply", "-f", "-", input=manifest)
    out = cluster.kubectl("delete", "-f", "-", input=manifest).stdout
    assert out.strip() == 'deployment.apps "web" deleted from ' + ns + " namespace" or \
        out.strip().startswith('deployment.apps "web" deleted')
    assert cluster.kubectl("-n", ns, "get", "deploy", "web", check=False).returncode != 0
    cluster.kubectl("-n", ns, "create", "configmap", "gone")
    out = cluster.kubectl("-n", ns, "delete", "configmap", "gone").stdout
    assert out.strip().startswith('configmap "gone" deleted')
    result = cluster.kubectl("-n", ns, "get", "configmap", "gone", check=False)
    assert result.returncode == 1 and 'configmaps "gone" not found' in result.stderr


def test_get_watch_prints_changes(cluster, ns):
    cluster.kubectl("-n", ns, "create", "configmap", "w1")
    proc = cluster.kubectl_popen("-n", ns, "get", "configmaps", "-w", "--request-timeout=10s")
    try:
        time.sleep(1.5)
        cluster.kubectl("-n", ns, "create", "configmap", "w2")
        time.sleep(1.0)
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    lines = [line.split()[0] for line in out.splitlines() if line.strip()]
    assert lines[0] == "NAME"
    assert "w1" in lines and "w2" in lines


def test_explain(cluster):
    out = cluster.kubectl("explain", "deployment.spec.replicas").stdout
    assert "KIND:" in out and "Deployment" in out and "replicas" in out
    out = cluster.kubectl("explain", "pods.spec.containers").stdout
    assert "image" in out


def test_server_side_apply(cluster, ns):
    manifest = textwrap.dedent(f"""\
        apiVersion: v1
        kind: ConfigMap
        metadata: {{name: ssa, namespace: {ns}}}
        data: {{a: "1"}}
        """)
    out = cluster.kubectl("apply", "--server-side", "-f", "-", input=manifest).stdout
    assert out.strip() == "configmap/ssa serverside-applied"
    obj = get_json(cluster, "-n", ns, "cm", "ssa", "--show-managed-fields")
    managers = {(m["manager"], m["operation"]) for m in obj["metadata"]["managedFields"]}
    assert ("kubectl", "Apply") in managers
    # another manager changing .data.a conflicts with the applier
    cluster.kubectl("-n", ns, "patch", "cm", "ssa", "--type=merge", "-p", '{"data":{"a":"2"}}',
                    "--field-manager=other")
    result = cluster.kubectl("apply", "--server-side", "-f", "-", input=manifest, check=False)
    assert result.returncode != 0 and "conflict" in result.stderr.lower()
    out = cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=manifest).stdout
    assert "serverside-applied" in out
    assert get_json(cluster, "-n", ns, "cm", "ssa")["data"] == {"a": "1"}


def test_auth_can_i_and_whoami(cluster):
    assert cluster.kubectl("auth", "can-i", "create", "pods").stdout.strip() == "yes"
    out = cluster.kubectl("auth", "whoami").stdout
    assert "admin" in out


def test_invalid_object_is_rejected_with_causes(cluster, ns):
    bad = textwrap.dedent(f"""\
        apiVersion: v1
        kind: ConfigMap
        metadata: {{name: Bad_Name, namespace: {ns}}}
        """)
    result = cluster.kubectl("apply", "-f", "-", input=bad, check=False)
    assert result.returncode != 0
    assert 'The ConfigMap "Bad_Name" is invalid' in result.stderr and "metadata.name" in result.stderr


def test_strict_field_validation(cluster, ns):
    bad = textwrap.dedent(f"""\
        apiVersion: v1
        kind: ConfigMap
        metadata: {{name: strict, namespace: {ns}}}
        bogus: 1
        """)
    result = cluster.kubectl("create", "-f", "-", input=bad, check=False)
    assert result.returncode != 0 and 'unknown field "bogus"' in result.stderr
    ok = cluster.kubectl("create", "--validate=false", "-f", "-", input=bad)
    assert "created" in ok.stdout


def test_create_token_authenticates_as_the_service_account(cluster, ns):
    cluster.kubectl("-n", ns, "create", "serviceaccount", "robot")
    token = cluster.kubectl("-n", ns, "create", "token", "robot").stdout.strip()
    out = cluster.kubectl("auth", "whoami", f"--token={token}").stdout
    assert f"system:serviceaccount:{ns}:robot" in out
    result = cluster.kubectl("get", "ns", f"--token={token}x", check=False)
    assert result.returncode != 0 and "You must be logged in to the server" in result.stderr
