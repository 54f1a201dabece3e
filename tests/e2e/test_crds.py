"""CustomResourceDefinitions through the real kubectl: printer columns, short names,
categories, explain, structural-schema validation and pruning, the scale and status
subresources, and CRD deletion taking its custom resources with it.
"""

from __future__ import annotations

import json
import re
import textwrap
import time

import pytest

pytestmark = pytest.mark.e2e

GROUP = "stable.example.com"
CRD_NAME = f"crontabs.{GROUP}"

CRONTAB_CRD = textwrap.dedent(f"""\
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata:
      name: {CRD_NAME}
    spec:
      group: {GROUP}
      scope: Namespaced
      names:
        plural: crontabs
        singular: crontab
        kind: CronTab
        listKind: CronTabList
        shortNames: [ct]
        categories: [all, examples]
      versions:
      - name: v1
        served: true
        storage: true
        subresources:
          status: {{}}
          scale:
            specReplicasPath: .spec.replicas
            statusReplicasPath: .status.replicas
            labelSelectorPath: .status.labelSelector
        selectableFields:
        - jsonPath: .spec.image
        additionalPrinterColumns:
        - name: Spec
          type: string
          description: The cron spec defining the interval a CronJob is run
          jsonPath: .spec.cronSpec
        - name: Replicas
          type: integer
          description: The number of jobs launched by the CronJob
          jsonPath: .spec.replicas
        - name: Phase
          type: string
          jsonPath: .status.phase
        - name: Image
          type: string
          priority: 1
          jsonPath: .spec.image
        - name: Age
          type: date
          jsonPath: .metadata.creationTimestamp
        schema:
          openAPIV3Schema:
            type: object
            description: CronTab runs an image on a schedule.
            properties:
              spec:
                type: object
                description: The desired schedule of the CronTab.
                required: [cronSpec, image]
                properties:
                  cronSpec:
                    type: string
                    description: The cron expression.
                  image:
                    type: string
                    description: The image to run.
                  replicas:
                    type: integer
                    minimum: 0
                    maximum: 10
                    description: How many jobs run at once.
                  policy:
                    type: object
                    properties:
                      concurrency: {{type: string, enum: [Allow, Forbid, Replace], default: Allow}}
                      retries: {{type: integer, default: 3}}
                      backoff:
                        type: object
                        default: {{}}
                        properties:
                          seconds: {{type: integer, default: 10}}
                  config:
                    type: object
                    x-kubernetes-preserve-unknown-fields: true
              status:
                type: object
                properties:
                  replicas: {{type: integer}}
                  labelSelector: {{type: string}}
                  phase: {{type: string}}
    """)


def crontab(ns: str, name: str, *, spec: str = "", labels: str = "{app: cron}") -> str:
    spec = spec or '{cronSpec: "* * * * */5", image: my-cron-image, replicas: 1}'
    return textwrap.dedent(f"""\
        apiVersion: {GROUP}/v1
        kind: CronTab
        metadata: {{name: {name}, namespace: {ns}, labels: {labels}}}
        spec: {spec}
        """)


def get_json(cluster, *args) -> dict:
    return json.loads(cluster.kubectl("get", *args, "-o", "json").stdout)


def response_status(verbose_log: str, verb: str) -> str:
    """The HTTP status of the crontabs request in kubectl's -v=6 log."""
    found = re.findall(r'"Response" verb="' + verb + r'" url="https://[^"]+/crontabs\?fieldManager=kubectl-create'
                       r'&fieldValidation=Strict" status="([^"]+)"', verbose_log)
    assert len(found) == 1, verbose_log
    return found[0]


@pytest.fixture(scope="module")
def crontabs(cluster):
    out = cluster.kubectl("apply", "-f", "-", input=CRONTAB_CRD).stdout
    assert out.strip() == f"customresourcedefinition.apiextensions.k8s.io/{CRD_NAME} created"
    cluster.kubectl("wait", "--for=condition=Established", f"crd/{CRD_NAME}", "--timeout=20s")
    yield "crontabs"
    cluster.kubectl("delete", "crd", CRD_NAME, "--ignore-not-found", "--wait=false")


@pytest.fixture
def ns(cluster, request):
    name = "crd-" + re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:50].strip("-")
    cluster.kubectl("create", "namespace", name)
    return name


def test_crd_is_served_and_discoverable(cluster, crontabs):
    table = cluster.kubectl("get", "crd", CRD_NAME).stdout.splitlines()
    assert table[0].split() == ["NAME", "CREATED", "AT"]
    assert table[1].split()[0] == CRD_NAME
    crd = get_json(cluster, "crd", CRD_NAME)
    conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conditions["Established"] == "True" and conditions["NamesAccepted"] == "True"
    assert crd["status"]["acceptedNames"]["shortNames"] == ["ct"]
    assert crd["status"]["acceptedNames"]["categories"] == ["all", "examples"]
    assert crd["status"]["storedVersions"] == ["v1"]

    rows = [line.split() for line in cluster.kubectl("api-resources", "--api-group", GROUP).stdout.splitlines()]
    assert rows[0] == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    assert rows[1:] == [["crontabs", "ct", f"{GROUP}/v1", "true", "CronTab"]]
    by_category = cluster.kubectl("api-resources", "--categories=examples", "-o", "name").stdout.split()
    assert by_category == [f"crontabs.{GROUP}"]
    assert f"{GROUP}/v1" in cluster.kubectl("api-versions").stdout.split()
    doc = json.loads(cluster.kubectl("get", "--raw", f"/apis/{GROUP}/v1").stdout)
    resources = {r["name"]: r for r in doc["resources"]}
    assert set(resources) == {"crontabs", "crontabs/status", "crontabs/scale"}
    assert resources["crontabs"]["shortNames"] == ["ct"]
    assert resources["crontabs"]["categories"] == ["all", "examples"]
    assert sorted(resources["crontabs"]["verbs"]) == sorted(
        ["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"])


def test_get_prints_the_additional_printer_columns(cluster, crontabs, ns):
    cluster.kubectl("apply", "-f", "-", input=crontab(ns, "c1"))
    cluster.kubectl("apply", "-f", "-", input=crontab(
        ns, "c2", spec='{cronSpec: "0 * * * *", image: other-image, replicas: 4}'))
    # a second client-side apply of the same manifest changes nothing
    out = cluster.kubectl("apply", "-f", "-", input=crontab(ns, "c1")).stdout
    assert out.strip() == f"crontab.{GROUP}/c1 unchanged"

    for resource in ("crontabs", "crontab", "ct", f"crontabs.{GROUP}", f"crontabs.v1.{GROUP}"):
        lines = cluster.kubectl("-n", ns, "get", resource).stdout.splitlines()
        assert lines[0].split() == ["NAME", "SPEC", "REPLICAS", "PHASE", "AGE"], resource
        # a missing value is a null cell, which kubectl prints as blank
        assert re.fullmatch(r"c1\s+\* \* \* \* \*/5\s+1\s+\d+s", lines[1]), lines[1]
        assert re.fullmatch(r"c2\s+0 \* \* \* \*\s+4\s+\d+s", lines[2]), lines[2]
    # priority > 0 columns only in wide output
    wide = cluster.kubectl("-n", ns, "get", "ct", "-o", "wide").stdout.splitlines()
    assert wide[0].split() == ["NAME", "SPEC", "REPLICAS", "PHASE", "IMAGE", "AGE"]
    assert "my-cron-image" in wide[1] and "other-image" in wide[2]
    # label selectors and -o name
    names = cluster.kubectl("-n", ns, "get", "ct", "-l", "app=cron", "-o", "name").stdout.split()
    assert names == [f"crontab.{GROUP}/c1", f"crontab.{GROUP}/c2"]
    # the categories: `kubectl get examples` and `kubectl get all`
    names = cluster.kubectl("-n", ns, "get", "examples", "-o", "name").stdout.split()
    assert names == [f"crontab.{GROUP}/c1", f"crontab.{GROUP}/c2"]
    assert f"crontab.{GROUP}/c1" in cluster.kubectl("-n", ns, "get", "all", "-o", "name").stdout.split()
    # a single object and the JSONPath of a custom field
    one = cluster.kubectl("-n", ns, "get", "ct", "c2").stdout.splitlines()
    assert len(one) == 2 and one[1].split()[0] == "c2"
    assert cluster.kubectl("-n", ns, "get", "ct", "c2", "-o", "jsonpath={.spec.image}").stdout == "other-image"
    all_ns = cluster.kubectl("get", "ct", "-A").stdout.splitlines()
    assert all_ns[0].split() == ["NAMESPACE", "NAME", "SPEC", "REPLICAS", "PHASE", "AGE"]
    assert any(line.split()[:2] == [ns, "c1"] for line in all_ns)
    desc = cluster.kubectl("-n", ns, "describe", "ct", "c1").stdout
    assert re.search(r"Name:\s+c1", desc) and re.search(r"Kind:\s+CronTab", desc)
    assert "my-cron-image" in desc


def test_explain(cluster, crontabs):
    out = cluster.kubectl("explain", "crontab.spec").stdout
    assert re.search(r"GROUP:\s+stable\.example\.com", out)
    assert re.search(r"KIND:\s+CronTab", out) and re.search(r"VERSION:\s+v1", out)
    assert re.search(r"FIELD:\s+spec <Object>", out)
    assert "The desired schedule of the CronTab." in out
    assert re.search(r"cronSpec\s+<string>\s+-required-", out)
    assert re.search(r"image\s+<string>\s+-required-", out)
    assert re.search(r"replicas\s+<integer>", out) and "How many jobs run at once." in out
    out = cluster.kubectl("explain", "ct.spec.replicas").stdout
    assert re.search(r"FIELD:\s+replicas <integer>", out)
    out = cluster.kubectl("explain", "crontabs").stdout
    assert "CronTab runs an image on a schedule." in out
    assert re.search(r"metadata\s+<ObjectMeta>", out) and re.search(r"status\s+<Object>", out)


@pytest.mark.parametrize("spec,field,message", [
    pytest.param('{cronSpec: "* * * * *", image: img, replicas: "three"}', "spec.replicas",
                 'Invalid value: "string": spec.replicas in body must be of type integer: "string"',
                 id="wrong-type"),
    pytest.param('{cronSpec: "* * * * *"}', "spec.image", "Required value", id="missing-required"),
    pytest.param('{cronSpec: "* * * * *", image: img, replicas: 11}', "spec.replicas",
                 "Invalid value: 11: spec.replicas in body should be less than or equal to 10",
                 id="above-maximum"),
    pytest.param('{cronSpec: 5, image: img}', "spec.cronSpec",
                 'Invalid value: "integer": spec.cronSpec in body must be of type string: "integer"',
                 id="number-for-string"),
    pytest.param('{cronSpec: "* * * * *", image: img, policy: {concurrency: Sometimes}}',
                 "spec.policy.concurrency",
                 'Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"', id="enum"),
])
def test_schema_violations_are_rejected(cluster, crontabs, ns, spec, field, message):
    result = cluster.kubectl("create", "-f", "-", "-v=6", input=crontab(ns, "bad", spec=spec), check=False)
    assert result.returncode != 0
    assert response_status(result.stderr, "POST") == "422 Unprocessable Entity"
    assert 'The CronTab "bad" is invalid' in result.stderr
    assert f"{field}: {message}" in result.stderr, result.stderr
    assert cluster.kubectl("-n", ns, "get", "ct", "bad", check=False).returncode != 0


def test_structural_schema_defaults_are_applied(cluster, crontabs, ns):
    cluster.kubectl("apply", "-f", "-", input=crontab(
        ns, "d1", spec='{cronSpec: "* * * * *", image: img, policy: {}}'))
    obj = get_json(cluster, "-n", ns, "ct", "d1")
    # defaults fill missing fields of objects that exist; `default: {}` creates backoff itself
    assert obj["spec"]["policy"] == {"concurrency": "Allow", "retries": 3, "backoff": {"seconds": 10}}
    cluster.kubectl("apply", "-f", "-", input=crontab(
        ns, "d2", spec='{cronSpec: "* * * * *", image: img, policy: {concurrency: Forbid, backoff: {}}}'))
    obj = get_json(cluster, "-n", ns, "ct", "d2")
    assert obj["spec"]["policy"] == {"concurrency": "Forbid", "retries": 3, "backoff": {"seconds": 10}}
    # no policy object: nothing below it is defaulted
    cluster.kubectl("apply", "-f", "-", input=crontab(ns, "d3"))
    assert "policy" not in get_json(cluster, "-n", ns, "ct", "d3")["spec"]
    # defaulting applies to updates as well
    cluster.kubectl("-n", ns, "patch", "ct", "d3", "--type=merge", "-p", '{"spec":{"policy":{"retries":5}}}')
    obj = get_json(cluster, "-n", ns, "ct", "d3")
    assert obj["spec"]["policy"] == {"concurrency": "Allow", "retries": 5, "backoff": {"seconds": 10}}


def test_selectable_fields(cluster, crontabs, ns):
    cluster.kubectl("apply", "-f", "-", input=crontab(ns, "f1"))
    cluster.kubectl("apply", "-f", "-", input=crontab(
        ns, "f2", spec='{cronSpec: "0 * * * *", image: other-image, replicas: 4}'))
    out = cluster.kubectl("-n", ns, "get", "ct", "--field-selector", "spec.image=other-image", "-o", "name")
    assert out.stdout.split() == [f"crontab.{GROUP}/f2"]
    out = cluster.kubectl("-n", ns, "get", "ct", "--field-selector", "spec.image!=other-image", "-o", "name")
    assert out.stdout.split() == [f"crontab.{GROUP}/f1"]
    out = cluster.kubectl("-n", ns, "get", "ct", "--field-selector", "metadata.name=f1", "-o", "name")
    assert out.stdout.split() == [f"crontab.{GROUP}/f1"]
    # a field that is not selectable is a 400
    result = cluster.kubectl("-n", ns, "get", "ct", "--field-selector", "spec.cronSpec=x", check=False)
    assert result.returncode != 0
    assert "BadRequest" in result.stderr and "field label not supported: spec.cronSpec" in result.stderr


def test_unknown_fields_are_pruned_or_rejected(cluster, crontabs, ns):
    spec = '{cronSpec: "* * * * *", image: img, bogus: 1, config: {anything: [1, 2], nested: {x: hello}}}'
    manifest = crontab(ns, "extra", spec=spec)
    # kubectl's default --validate=strict asks the server for fieldValidation=Strict: a 400
    result = cluster.kubectl("create", "-f", "-", "-v=6", input=manifest, check=False)
    assert result.returncode != 0
    assert response_status(result.stderr, "POST") == "400 Bad Request"
    assert 'unknown field "spec.bogus"' in result.stderr
    assert "Error from server (BadRequest)" in result.stderr
    # --validate=warn: created, with a warning, and the unknown field pruned
    result = cluster.kubectl("create", "--validate=warn", "-f", "-", input=manifest)
    assert 'Warning: unknown field "spec.bogus"' in result.stderr
    assert result.stdout.strip() == f"crontab.{GROUP}/extra created"
    obj = get_json(cluster, "-n", ns, "ct", "extra")
    # x-kubernetes-preserve-unknown-fields keeps everything below spec.config
    assert obj["spec"] == {"cronSpec": "* * * * *", "image": "img",
                           "config": {"anything": [1, 2], "nested": {"x": "hello"}}}
    # --validate=false: no warning, still pruned; unknown top-level fields too
    manifest2 = crontab(ns, "extra2", spec=spec) + "topLevel: dropped\n"
    result = cluster.kubectl("create", "--validate=false", "-f", "-", input=manifest2)
    assert "Warning" not in result.stderr
    obj = get_json(cluster, "-n", ns, "ct", "extra2")
    assert "bogus" not in obj["spec"] and "topLevel" not in obj
    # unknown metadata fields are rejected strictly as well
    bad_meta = manifest.replace("name: extra,", "name: extra3, bogusMeta: 1,")
    result = cluster.kubectl("create", "-f", "-", input=bad_meta, check=False)
    assert result.returncode != 0 and 'unknown field "metadata.bogusMeta"' in result.stderr


def test_deeply_nested_preserved_fields_are_stored(cluster, crontabs, ns):
    """x-kubernetes-preserve-unknown-fields keeps arbitrary JSON; 600 levels is valid input upstream."""
    depth = 600
    deep = '{"x":' * depth + '{"leaf":true}' + "}" * depth
    body = (f'{{"apiVersion":"{GROUP}/v1","kind":"CronTab","metadata":{{"name":"deep","namespace":"{ns}"}},'
            f'"spec":{{"cronSpec":"* * * * *","image":"img","config":{deep}}}}}')
    out = cluster.kubectl("create", "-f", "-", input=body).stdout
    assert out.strip() == f"crontab.{GROUP}/deep created"
    node = get_json(cluster, "-n", ns, "ct", "deep")["spec"]["config"]
    for _ in range(depth):
        node = node["x"]
    assert node == {"leaf": True}


def test_scale_subresource(cluster, crontabs, ns):
    cluster.kubectl("apply", "-f", "-", input=crontab(ns, "sc"))
    cluster.kubectl("-n", ns, "patch", "ct", "sc", "--subresource=status", "--type=merge",
                    "-p", '{"status":{"replicas":1,"labelSelector":"app=cron"}}')
    out = cluster.kubectl("-n", ns, "scale", "crontab/sc", "--replicas=3").stdout
    assert out.strip() == f"crontab.{GROUP}/sc scaled"
    obj = get_json(cluster, "-n", ns, "ct", "sc")
    assert obj["spec"]["replicas"] == 3 and obj["metadata"]["generation"] == 2
    assert obj["status"] == {"replicas": 1, "labelSelector": "app=cron"}
    scale = json.loads(cluster.kubectl("get", "--raw",
                                       f"/apis/{GROUP}/v1/namespaces/{ns}/crontabs/sc/scale").stdout)
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
    assert scale["metadata"]["name"] == "sc" and scale["metadata"]["uid"] == obj["metadata"]["uid"]
    assert scale["spec"] == {"replicas": 3}
    assert scale["status"] == {"replicas": 1, "selector": "app=cron"}
    # --current-replicas is a PUT of the Scale with a precondition
    out = cluster.kubectl("-n", ns, "scale", "ct", "sc", "--current-replicas=3", "--replicas=5").stdout
    assert out.strip() == f"crontab.{GROUP}/sc scaled"
    result = cluster.kubectl("-n", ns, "scale", "ct", "sc", "--current-replicas=3", "--replicas=6", check=False)
    assert result.returncode != 0 and "Expected replicas to be 3, was 5" in result.stderr
    # the scale subresource is validated against the CRD schema (maximum: 10)
    result = cluster.kubectl("-n", ns, "scale", "ct", "sc", "--replicas=11", check=False)
    assert result.returncode != 0 and "spec.replicas" in result.stderr
    assert "less than or equal to 10" in result.stderr
    assert get_json(cluster, "-n", ns, "ct", "sc")["spec"]["replicas"] == 5


def test_status_subresource(cluster, crontabs, ns):
    cluster.kubectl("apply", "-f", "-", input=crontab(ns, "st"))
    before = get_json(cluster, "-n", ns, "ct", "st")
    out = cluster.kubectl("-n", ns, "patch", "ct", "st", "--subresource=status", "--type=merge", "-p",
                          '{"status":{"phase":"Running","replicas":1},"spec":{"image":"sneaky"},'
                          '"metadata":{"labels":{"sneaky":"yes"}}}').stdout
    assert out.strip() == f"crontab.{GROUP}/st patched"
    after = get_json(cluster, "-n", ns, "ct", "st")
    assert after["status"] == {"phase": "Running", "replicas": 1}
    assert after["spec"] == before["spec"] and after["metadata"]["labels"] == {"app": "cron"}
    assert after["metadata"]["generation"] == before["metadata"]["generation"] == 1
    assert int(after["metadata"]["resourceVersion"]) > int(before["metadata"]["resourceVersion"])
    lines = cluster.kubectl("-n", ns, "get", "ct", "st").stdout.splitlines()
    assert re.fullmatch(r"st\s+\* \* \* \* \*/5\s+1\s+Running\s+\d+s", lines[1]), lines[1]
    # the main resource ignores status changes
    cluster.kubectl("-n", ns, "patch", "ct", "st", "--type=merge", "-p",
                    '{"status":{"phase":"Ignored"},"spec":{"image":"new-image"}}')
    obj = get_json(cluster, "-n", ns, "ct", "st")
    assert obj["status"]["phase"] == "Running" and obj["spec"]["image"] == "new-image"
    assert obj["metadata"]["generation"] == 2
    # the status subresource is schema-validated too
    result = cluster.kubectl("-n", ns, "patch", "ct", "st", "--subresource=status", "--type=merge",
                             "-p", '{"status":{"replicas":"many"}}', check=False)
    assert result.returncode != 0 and "status.replicas" in result.stderr and "must be of type integer" in \
        result.stderr
    # a strategic merge patch is not supported on custom resources
    result = cluster.kubectl("-n", ns, "patch", "ct", "st", "--type=strategic", "-p",
                             '{"spec":{"image":"x"}}', check=False)
    assert result.returncode != 0
    assert ("application/strategic-merge-patch+json is not supported by stable.example.com/v1, Kind=CronTab"
            in result.stderr)


GHOST_CRD = textwrap.dedent("""\
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata:
      name: ghosts.haunted.example.com
    spec:
      group: haunted.example.com
      scope: Namespaced
      names: {plural: ghosts, singular: ghost, kind: Ghost, shortNames: [gh]}
      versions:
      - name: v1
        served: true
        storage: true
        schema:
          openAPIV3Schema:
            type: object
            properties:
              spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
    """)


def test_deleting_the_crd_removes_its_custom_resources(cluster, ns):
    cluster.kubectl("apply", "-f", "-", input=GHOST_CRD)
    cluster.kubectl("wait", "--for=condition=Established", "crd/ghosts.haunted.example.com", "--timeout=20s")
    for name in ("boo", "casper"):
        cluster.kubectl("apply", "-f", "-", input=textwrap.dedent(f"""\
            apiVersion: haunted.example.com/v1
            kind: Ghost
            metadata: {{name: {name}, namespace: {ns}}}
            spec: {{scary: true}}
            """))
    assert len(get_json(cluster, "-n", ns, "ghosts")["items"]) == 2
    assert "ghosts" in cluster.kubectl("api-resources", "--api-group=haunted.example.com").stdout

    out = cluster.kubectl("delete", "crd", "ghosts.haunted.example.com", "--timeout=30s").stdout
    assert out.strip().startswith('customresourcedefinition.apiextensions.k8s.io "ghosts.haunted.example.com" '
                                  'deleted')
    assert cluster.kubectl("get", "crd", "ghosts.haunted.example.com", check=False).returncode != 0
    resources = cluster.kubectl("api-resources").stdout
    assert "haunted.example.com" not in resources and "ghosts" not in resources
    assert "haunted.example.com/v1" not in cluster.kubectl("api-versions").stdout.split()
    result = cluster.kubectl("-n", ns, "get", "ghosts", check=False)
    assert result.returncode != 0
    assert 'the server doesn\'t have a resource type "ghosts"' in result.stderr
    result = cluster.kubectl("get", "--raw", f"/apis/haunted.example.com/v1/namespaces/{ns}/ghosts",
                             check=False)
    assert result.returncode != 0 and "NotFound" in result.stderr

    # the custom resources went with it: a new CRD of the same name starts empty
    cluster.kubectl("apply", "-f", "-", input=GHOST_CRD)
    cluster.kubectl("wait", "--for=condition=Established", "crd/ghosts.haunted.example.com", "--timeout=20s")
    deadline = time.monotonic() + 10
    while True:
        result = cluster.kubectl("-n", ns, "get", "ghosts", "-o", "json", check=False)
        if result.returncode == 0:
            break
        assert time.monotonic() < deadline, result.stderr
        time.sleep(0.2)
    assert json.loads(result.stdout)["items"] == []
    cluster.kubectl("delete", "crd", "ghosts.haunted.example.com", "--timeout=30s")
