"""Print handlers for the built-in resources, transcribed from upstream `printers.go`.

Each `Printer` pairs the column definitions of `AddHandlers` in
kubernetes/pkg/printers/internalversion/printers.go with the cell function of its
`printX` (always in wide mode, as the apiserver generates tables). The cell functions
read the v1 JSON object and apply the v1 defaults upstream's decoder would have
applied first (replicas 1, Service type ClusterIP, port protocol TCP, ...), so a
stored object missing a defaulted field prints as upstream prints it.

`PRINTERS` maps (group, plural) to a printer. Roles, ClusterRoles, LimitRanges and
CustomResourceDefinitions use upstream's default table convertor (`DEFAULT_PRINTER`:
Name, Created At); APIServices use kube-aggregator's convertor. `api.printers` picks
the printer and builds the Table; helpers live in `_format`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from podplane.api.storageclass import is_default_class

from ._docs import DOCS
from ._format import (
    ZERO_TIME,
    age,
    as_dict,
    as_int,
    as_list,
    as_str,
    aware,
    format_label_selector,
    format_labels,
    format_rfc3339,
    get,
    human_duration,
    layout_containers,
    parse_time,
    selector_string,
    since,
)

__all__ = ["DEFAULT_PRINTER", "FALLBACK_PRINTER", "PRINTERS", "Printer", "column"]

Cells = Callable[[dict, datetime], list]


@dataclass(frozen=True)
class Printer:
    columns: tuple[dict, ...]
    cells: Cells
    conditions: Callable[[dict], list | None] | None = None


def column(name: str, type_: str, description: str, priority: int = 0, format_: str = "") -> dict:
    """A `metav1.TableColumnDefinition` in JSON field order."""
    return {"name": name, "type": type_, "format": format_, "description": description,
            "priority": priority}


def _name(obj: dict) -> str:
    return as_str(get(obj, "metadata", "name"))


def _age(obj: dict, now: datetime) -> str:
    return age(get(obj, "metadata", "creationTimestamp"), now)


def _deleting(obj: dict) -> bool:
    return get(obj, "metadata", "deletionTimestamp") is not None


def _replicas(spec: Any) -> int:
    """`spec.replicas` after v1 defaulting (1 when unset)."""
    value = get(spec, "replicas")
    return 1 if value is None else as_int(value)


def _bool_str(value: bool) -> str:
    return "True" if value else "False"


def _int_or_string(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return as_str(value)


def _quantity(value: Any, missing: str = "0") -> str:
    """A stored resource.Quantity as its string; `missing` for an absent one."""
    if value is None:
        return missing
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _condition_true(conditions: Any, type_: str) -> bool:
    """The first condition of `type_` has status True (upstream `hasJobCondition`)."""
    for c in as_list(conditions):
        if isinstance(c, dict) and c.get("type") == type_:
            return c.get("status") == "True"
    return False


NAME = column("Name", "string", DOCS["ObjectMeta.name"], format_="name")
AGE = column("Age", "string", DOCS["ObjectMeta.creationTimestamp"])
CONTAINERS = column("Containers", "string", "Names of each container in the template.", 1)
IMAGES = column("Images", "string", "Images referenced by each container in the template.", 1)


# ------------------------------------------------------------------------ pods


def _restartable(container: Any) -> bool:
    return isinstance(container, dict) and container.get("restartPolicy") == "Always"


def _later(current: datetime | None, candidate: datetime | None) -> datetime | None:
    if candidate is None:
        return current
    if current is None or current < candidate:
        return candidate
    return current


def _terminated_at(status: dict) -> datetime | None:
    terminated = get(status, "lastState", "terminated")
    if not isinstance(terminated, dict):
        return None
    return parse_time(terminated.get("finishedAt")) or ZERO_TIME


def _pod_cells(pod: dict, now: datetime) -> list:
    spec, status = as_dict(pod.get("spec")), as_dict(pod.get("status"))
    restarts = 0
    restartable_restarts = 0
    total = len(as_list(spec.get("containers")))
    ready = 0
    last_restart: datetime | None = None
    last_restartable_restart: datetime | None = None

    phase = as_str(status.get("phase"))
    reason = as_str(status.get("reason")) or phase
    for cond in as_list(status.get("conditions")):
        if get(cond, "type") == "PodScheduled" and get(cond, "reason") == "SchedulingGated":
            reason = "SchedulingGated"

    init_specs = [c for c in as_list(spec.get("initContainers")) if isinstance(c, dict)]
    init_by_name = {as_str(c.get("name")): c for c in init_specs}
    total += sum(1 for c in init_specs if _restartable(c))

    initializing = False
    for i, cs in enumerate(as_list(status.get("initContainerStatuses"))):
        cs = as_dict(cs)
        restarts += as_int(cs.get("restartCount"))
        last_restart = _later(last_restart, _terminated_at(cs))
        restartable = _restartable(init_by_name.get(as_str(cs.get("name"))))
        if restartable:
            restartable_restarts += as_int(cs.get("restartCount"))
            last_restartable_restart = _later(last_restartable_restart, _terminated_at(cs))
        terminated = get(cs, "state", "terminated")
        waiting = get(cs, "state", "waiting")
        if isinstance(terminated, dict) and as_int(terminated.get("exitCode")) == 0:
            continue
        if restartable and cs.get("started") is True:
            if cs.get("ready") is True:
                ready += 1
            continue
        if isinstance(terminated, dict):
            if not as_str(terminated.get("reason")):
                if as_int(terminated.get("signal")) != 0:
                    reason = f"Init:Signal:{as_int(terminated.get('signal'))}"
                else:
                    reason = f"Init:ExitCode:{as_int(terminated.get('exitCode'))}"
            else:
                reason = "Init:" + as_str(terminated.get("reason"))
        elif (isinstance(waiting, dict) and as_str(waiting.get("reason"))
              and waiting.get("reason") != "PodInitializing"):
            reason = "Init:" + as_str(waiting.get("reason"))
        else:
            reason = f"Init:{i}/{len(as_list(spec.get('initContainers')))}"
        initializing = True
        break

    if not initializing or _pod_initialized(status):
        restarts = restartable_restarts
        last_restart = last_restartable_restart
        has_running = False
        for cs in reversed(as_list(status.get("containerStatuses"))):
            cs = as_dict(cs)
            restarts += as_int(cs.get("restartCount"))
            last_restart = _later(last_restart, _terminated_at(cs))
            waiting = get(cs, "state", "waiting")
            terminated = get(cs, "state", "terminated")
            if isinstance(waiting, dict) and as_str(waiting.get("reason")):
                reason = as_str(waiting.get("reason"))
            elif isinstance(terminated, dict) and as_str(terminated.get("reason")):
                reason = as_str(terminated.get("reason"))
            elif isinstance(terminated, dict):
                if as_int(terminated.get("signal")) != 0:
                    reason = f"Signal:{as_int(terminated.get('signal'))}"
                else:
                    reason = f"ExitCode:{as_int(terminated.get('exitCode'))}"
            elif cs.get("ready") is True and isinstance(get(cs, "state", "running"), dict):
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true_any(status, "Ready") else "NotReady"

    if _deleting(pod) and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif _deleting(pod) and phase not in ("Failed", "Succeeded"):
        reason = "Terminating"

    restarts_cell = str(restarts)
    if restarts != 0 and last_restart is not None and last_restart != ZERO_TIME:
        restarts_cell = f"{restarts} ({since(last_restart, now)} ago)"

    pod_ip = as_str(status.get("podIP"))
    if not pod_ip:
        pod_ip = as_str(get((as_list(status.get("podIPs")) or [None])[0], "ip"))
    gates = [g for g in as_list(spec.get("readinessGates")) if isinstance(g, dict)]
    readiness = "<none>"
    if gates:
        true_count = 0
        for gate in gates:
            for cond in as_list(status.get("conditions")):
                if get(cond, "type") == gate.get("conditionType"):
                    if get(cond, "status") == "True":
                        true_count += 1
                    break
        readiness = f"{true_count}/{len(gates)}"
    return [
        _name(pod), f"{ready}/{total}", reason, restarts_cell, _age(pod, now),
        pod_ip or "<none>",
        as_str(spec.get("nodeName")) or "<none>",
        as_str(status.get("nominatedNodeName")) or "<none>",
        readiness,
    ]


def _pod_initialized(status: dict) -> bool:
    for cond in as_list(status.get("conditions")):
        if get(cond, "type") == "Initialized":
            return get(cond, "status") == "True"
    return False


def _condition_true_any(status: dict, type_: str) -> bool:
    """`hasPodReadyCondition`: any condition of `type_` with status True."""
    return any(get(c, "type") == type_ and get(c, "status") == "True"
               for c in as_list(status.get("conditions")))


def _pod_conditions(pod: dict) -> list | None:
    phase = get(pod, "status", "phase")
    if phase == "Succeeded":
        return [{"type": "Completed", "status": "True", "reason": "Succeeded",
                 "message": "The pod has completed successfully."}]
    if phase == "Failed":
        return [{"type": "Completed", "status": "True", "reason": "Failed",
                 "message": "The pod failed."}]
    return None


POD = Printer((
    NAME,
    column("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
    column("Status", "string", "The aggregate status of the containers in this pod."),
    column("Restarts", "string", "The number of times the containers in this pod have been restarted "
           "and when the last container in this pod has restarted."),
    AGE,
    column("IP", "string", DOCS["PodStatus.podIP"], 1),
    column("Node", "string", DOCS["PodSpec.nodeName"], 1),
    column("Nominated Node", "string", DOCS["PodStatus.nominatedNodeName"], 1),
    column("Readiness Gates", "string", DOCS["PodSpec.readinessGates"], 1),
), _pod_cells, _pod_conditions)


def _pod_template_cells(obj: dict, now: datetime) -> list:
    names, images = layout_containers(get(obj, "template", "spec", "containers"))
    return [_name(obj), names, images, format_labels(get(obj, "template", "metadata", "labels"))]


POD_TEMPLATE = Printer((
    NAME,
    column("Containers", "string", "Names of each container in the template."),
    column("Images", "string", "Images referenced by each container in the template."),
    column("Pod Labels", "string", "The labels for the pod template."),
), _pod_template_cells)


# ------------------------------------------------------------------- workloads


def _pdb_cells(obj: dict, now: datetime) -> list:
    spec = as_dict(obj.get("spec"))
    min_available = "N/A" if spec.get("minAvailable") is None else _int_or_string(spec["minAvailable"])
    max_unavailable = ("N/A" if spec.get("maxUnavailable") is None
                       else _int_or_string(spec["maxUnavailable"]))
    return [_name(obj), min_available, max_unavailable,
            as_int(get(obj, "status", "disruptionsAllowed")), _age(obj, now)]


PDB = Printer((
    NAME,
    column("Min Available", "string", "The minimum number of pods that must be available."),
    column("Max Unavailable", "string", "The maximum number of pods that may be unavailable."),
    column("Allowed Disruptions", "integer", "Calculated number of pods that may be disrupted at this time."),
    AGE,
), _pdb_cells)


def _rc_cells(obj: dict, now: datetime) -> list:
    spec, status = as_dict(obj.get("spec")), as_dict(obj.get("status"))
    names, images = layout_containers(get(spec, "template", "spec", "containers"))
    return [_name(obj), _replicas(spec), as_int(status.get("replicas")),
            as_int(status.get("readyReplicas")), _age(obj, now),
            names, images, format_labels(spec.get("selector"))]


RC = Printer((
    NAME,
    column("Desired", "integer", DOCS["ReplicationControllerSpec.replicas"]),
    column("Current", "integer", DOCS["ReplicationControllerStatus.replicas"]),
    column("Ready", "integer", DOCS["ReplicationControllerStatus.readyReplicas"]),
    AGE, CONTAINERS, IMAGES,
    column("Selector", "string", DOCS["ReplicationControllerSpec.selector"], 1),
), _rc_cells)


def _rs_cells(obj: dict, now: datetime) -> list:
    spec, status = as_dict(obj.get("spec")), as_dict(obj.get("status"))
    names, images = layout_containers(get(spec, "template", "spec", "containers"))
    return [_name(obj), _replicas(spec), as_int(status.get("replicas")),
            as_int(status.get("readyReplicas")), _age(obj, now),
            names, images, format_label_selector(spec.get("selector"))]


RS = Printer((
    NAME,
    column("Desired", "integer", DOCS["ReplicaSetSpec.replicas"]),
    column("Current", "integer", DOCS["ReplicaSetStatus.replicas"]),
    column("Ready", "integer", DOCS["ReplicaSetStatus.readyReplicas"]),
    AGE, CONTAINERS, IMAGES,
    column("Selector", "string", DOCS["ReplicaSetSpec.selector"], 1),
), _rs_cells)


def _deployment_cells(obj: dict, now: datetime) -> list:
    spec, status = as_dict(obj.get("spec")), as_dict(obj.get("status"))
    selector = selector_string(spec.get("selector"))
    names, images = layout_containers(get(spec, "template", "spec", "containers"))
    return [_name(obj), f"{as_int(status.get('readyReplicas'))}/{_replicas(spec)}",
            as_int(status.get("updatedReplicas")), as_int(status.get("availableReplicas")),
            _age(obj, now), names, images, "<invalid>" if selector is None else selector]


DEPLOYMENT = Printer((
    NAME,
    column("Ready", "string", "Number of the pod with ready state"),
    column("Up-to-date", "string", DOCS["DeploymentStatus.updatedReplicas"]),
    column("Available", "string", DOCS["DeploymentStatus.availableReplicas"]),
    AGE, CONTAINERS, IMAGES,
    column("Selector", "string", DOCS["DeploymentSpec.selector"], 1),
), _deployment_cells)


def _statefulset_cells(obj: dict, now: datetime) -> list:
    spec = as_dict(obj.get("spec"))
    names, images = layout_containers(get(spec, "template", "spec", "containers"))
    return [_name(obj), f"{as_int(get(obj, 'status', 'readyReplicas'))}/{_replicas(spec)}",
            _age(obj, now), names, images]


STATEFULSET = Printer((
    NAME,
    column("Ready", "string", "Number of the pod with ready state"),
    AGE, CONTAINERS, IMAGES,
), _statefulset_cells)


def _daemonset_cells(obj: dict, now: datetime) -> list:
    spec, status = as_dict(obj.get("spec")), as_dict(obj.get("status"))
    names, images = layout_containers(get(spec, "template", "spec", "containers"))
    return [_name(obj), as_int(status.get("desiredNumberScheduled")),
            as_int(status.get("currentNumberScheduled")), as_int(status.get("numberReady")),
            as_int(status.get("updatedNumberScheduled")), as_int(status.get("numberAvailable")),
            format_labels(get(spec, "template", "spec", "nodeSelector")), _age(obj, now),
            names, images, format_label_selector(spec.get("selector"))]


DAEMONSET = Printer((
    NAME,
    column("Desired", "integer", DOCS["DaemonSetStatus.desiredNumberScheduled"]),
    column("Current", "integer", DOCS["DaemonSetStatus.currentNumberScheduled"]),
    column("Ready", "integer", DOCS["DaemonSetStatus.numberReady"]),
    column("Up-to-date", "integer", DOCS["DaemonSetStatus.updatedNumberScheduled"]),
    column("Available", "integer", DOCS["DaemonSetStatus.numberAvailable"]),
    column("Node Selector", "string", DOCS["PodSpec.nodeSelector"]),
    AGE, CONTAINERS, IMAGES,
    column("Selector", "string", DOCS["DaemonSetSpec.selector"], 1),
), _daemonset_cells)


def _job_cells(obj: dict, now: datetime) -> list:
    spec, status = as_dict(obj.get("spec")), as_dict(obj.get("status"))
    succeeded = as_int(status.get("succeeded"))
    completions, parallelism = spec.get("completions"), spec.get("parallelism")
    if completions is None and parallelism is None:  # v1 defaulting
        completions = 1
    if completions is not None:
        done = f"{succeeded}/{as_int(completions)}"
    elif as_int(parallelism, 1) > 1:
        done = f"{succeeded}/1 of {as_int(parallelism, 1)}"
    else:
        done = f"{succeeded}/1"
    duration = ""
    if status.get("startTime") is not None:
        start = parse_time(status.get("startTime")) or ZERO_TIME
        if status.get("completionTime") is None:
            duration = human_duration(aware(now) - start)
        else:
            duration = human_duration((parse_time(status.get("completionTime")) or ZERO_TIME) - start)
    conditions = status.get("conditions")
    if _condition_true(conditions, "Complete"):
        state = "Complete"
    elif _condition_true(conditions, "Failed"):
        state = "Failed"
    elif _deleting(obj):
        state = "Terminating"
    elif _condition_true(conditions, "Suspended"):
        state = "Suspended"
    elif _condition_true(conditions, "FailureTarget"):
        state = "FailureTarget"
    elif _condition_true(conditions, "SuccessCriteriaMet"):
        state = "SuccessCriteriaMet"
    else:
        state = "Running"
    names, images = layout_containers(get(spec, "template", "spec", "containers"))
    return [_name(obj), state, done, duration, _age(obj, now), names, images,
            format_label_selector(spec.get("selector"))]


JOB = Printer((
    NAME,
    column("Status", "string", "Status of the job."),
    column("Completions", "string", DOCS["JobStatus.succeeded"]),
    column("Duration", "string", "Time required to complete the job."),
    AGE, CONTAINERS, IMAGES,
    column("Selector", "string", DOCS["JobSpec.selector"], 1),
), _job_cells)


def _cronjob_cells(obj: dict, now: datetime) -> list:
    spec, status = as_dict(obj.get("spec")), as_dict(obj.get("status"))
    last = "<none>"
    if status.get("lastScheduleTime") is not None:
        last = age(status.get("lastScheduleTime"), now)
    time_zone = "<none>" if spec.get("timeZone") is None else as_str(spec.get("timeZone"))
    suspend = spec.get("suspend")
    job_spec = get(spec, "jobTemplate", "spec")
    names, images = layout_containers(get(job_spec, "template", "spec", "containers"))
    return [_name(obj), as_str(spec.get("schedule")), time_zone, _bool_str(suspend is True),
            len(as_list(status.get("active"))), last, _age(obj, now),
            names, images, format_label_selector(get(job_spec, "selector"))]


CRONJOB = Printer((
    NAME,
    column("Schedule", "string", DOCS["CronJobSpec.schedule"]),
    column("Timezone", "string", DOCS["CronJobSpec.timeZone"]),
    column("Suspend", "boolean", DOCS["CronJobSpec.suspend"]),
    column("Active", "integer", DOCS["CronJobStatus.active"]),
    column("Last Schedule", "string", DOCS["CronJobStatus.lastScheduleTime"]),
    AGE, CONTAINERS, IMAGES,
    column("Selector", "string", DOCS["JobSpec.selector"], 1),
), _cronjob_cells)


def _controller_revision_cells(obj: dict, now: datetime) -> list:
    controller = "<none>"
    for ref in as_list(get(obj, "metadata", "ownerReferences")):
        if isinstance(ref, dict) and ref.get("controller") is True:
            api_version, kind = as_str(ref.get("apiVersion")), as_str(ref.get("kind"))
            group = api_version.split("/", 1)[0] if "/" in api_version else ""
            group_kind = f"{kind}.{group}" if group else kind
            name = as_str(ref.get("name"))
            controller = f"{group_kind.lower()}/{name}" if (group or kind) else name
            break
    return [_name(obj), controller, as_int(obj.get("revision")), _age(obj, now)]


CONTROLLER_REVISION = Printer((
    NAME,
    column("Controller", "string", "Controller of the object"),
    column("Revision", "string", DOCS["ControllerRevision.revision"]),
    AGE,
), _controller_revision_cells)


# -------------------------------------------------------------------- services


def _lb_ingress(status: Any) -> list[str]:
    """`loadBalancerStatusStringer` (wide): sorted unique IPs, else hostnames."""
    found = set()
    for ing in as_list(get(status, "loadBalancer", "ingress")):
        if as_str(get(ing, "ip")):
            found.add(as_str(get(ing, "ip")))
        elif as_str(get(ing, "hostname")):
            found.add(as_str(get(ing, "hostname")))
    return sorted(found)


def _service_external_ip(svc: dict) -> str:
    spec = as_dict(svc.get("spec"))
    svc_type = as_str(spec.get("type")) or "ClusterIP"
    external = [as_str(ip) for ip in as_list(spec.get("externalIPs"))]
    if svc_type in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else "<none>"
    if svc_type == "LoadBalancer":
        lb = ",".join(_lb_ingress(svc.get("status")))
        if external:
            return ",".join((lb.split(",") if lb else []) + external)
        return lb or "<pending>"
    if svc_type == "ExternalName":
        return as_str(spec.get("externalName"))
    return "<unknown>"


def _service_ports(ports: Any) -> str:
    pieces = []
    for port in as_list(ports):
        port = as_dict(port)
        protocol = as_str(port.get("protocol")) or "TCP"
        node_port = as_int(port.get("nodePort"))
        if node_port > 0:
            pieces.append(f"{as_int(port.get('port'))}:{node_port}/{protocol}")
        else:
            pieces.append(f"{as_int(port.get('port'))}/{protocol}")
    return ",".join(pieces)


def _service_cells(obj: dict, now: datetime) -> list:
    spec = as_dict(obj.get("spec"))
    cluster_ip = as_str(spec.get("clusterIP"))
    if not cluster_ip:
        cluster_ip = as_str((as_list(spec.get("clusterIPs")) or [""])[0])
    return [_name(obj), as_str(spec.get("type")) or "ClusterIP", cluster_ip or "<none>",
            _service_external_ip(obj), _service_ports(spec.get("ports")) or "<none>",
            _age(obj, now), format_labels(spec.get("selector"))]


SERVICE = Printer((
    NAME,
    column("Type", "string", DOCS["ServiceSpec.type"]),
    column("Cluster-IP", "string", DOCS["ServiceSpec.clusterIP"]),
    column("External-IP", "string", DOCS["ServiceSpec.externalIPs"]),
    column("Port(s)", "string", DOCS["ServiceSpec.ports"]),
    AGE,
    column("Selector", "string", DOCS["ServiceSpec.selector"], 1),
), _service_cells)


def _join_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _format_endpoints(subsets: Any) -> str:
    subsets = as_list(subsets)
    if not subsets:
        return "<none>"
    items: list[str] = []
    limit, more, count = 3, False, 0
    for ss in subsets:
        ss = as_dict(ss)
        addresses = [as_dict(a) for a in as_list(ss.get("addresses"))]
        ports = as_list(ss.get("ports"))
        if not ports:
            count += len(addresses)
            for addr in addresses:
                if len(items) == limit:
                    more = True
                    break
                items.append(as_str(addr.get("ip")))
            continue
        for port in ports:
            count += len(addresses)
            for addr in addresses:
                if len(items) == limit:
                    more = True
                    break
                items.append(_join_host_port(as_str(addr.get("ip")), as_int(get(port, "port"))))
    text = ",".join(items)
    return f"{text} + {count - limit} more..." if more else text


ENDPOINTS = Printer((
    NAME,
    column("Endpoints", "string", DOCS["Endpoints.subsets"]),
    AGE,
), lambda obj, now: [_name(obj), _format_endpoints(obj.get("subsets")), _age(obj, now)])


def _list_with_more(items: list[str], more: bool, count: int, limit: int) -> str:
    text = ",".join(items)
    if more:
        return f"{text} + {count - limit} more..."
    return text or "<unset>"


def _endpointslice_cells(obj: dict, now: datetime) -> list:
    ports: list[str] = []
    more, count = False, 0
    for port in as_list(obj.get("ports")):
        port = as_dict(port)
        if len(ports) < 3:
            if port.get("port") is not None:
                ports.append(str(as_int(port.get("port"))))
            elif port.get("name") is not None:
                ports.append(as_str(port.get("name")))
            else:
                ports.append("*")
        elif len(ports) == 3:
            more = True
        count += 1
    port_text = _list_with_more(ports, more, count, 3)
    addresses: list[str] = []
    more, count = False, 0
    for endpoint in as_list(obj.get("endpoints")):
        for address in as_list(get(endpoint, "addresses")):
            if len(addresses) < 3:
                addresses.append(as_str(address))
            elif len(addresses) == 3:
                more = True
            count += 1
    return [_name(obj), as_str(obj.get("addressType")), port_text,
            _list_with_more(addresses, more, count, 3), _age(obj, now)]


ENDPOINTSLICE = Printer((
    NAME,
    column("AddressType", "string", DOCS["EndpointSlice.addressType"]),
    column("Ports", "string", DOCS["EndpointSlice.ports"]),
    column("Endpoints", "string", DOCS["EndpointSlice.endpoints"]),
    AGE,
), _endpointslice_cells)


def _ingress_hosts(rules: Any) -> str:
    rules = as_list(rules)
    hosts: list[str] = []
    limit, more = 3, False
    for rule in rules:
        if len(hosts) == limit:
            more = True
        host = as_str(get(rule, "host"))
        if not more and host:
            hosts.append(host)
    if not hosts:
        return "*"
    text = ",".join(hosts)
    return f"{text} + {len(rules) - limit} more..." if more else text


def _ingress_cells(obj: dict, now: datetime) -> list:
    spec = as_dict(obj.get("spec"))
    class_name = "<none>" if spec.get("ingressClassName") is None else as_str(spec["ingressClassName"])
    return [_name(obj), class_name, _ingress_hosts(spec.get("rules")),
            ",".join(_lb_ingress(obj.get("status"))),
            "80, 443" if as_list(spec.get("tls")) else "80", _age(obj, now)]


INGRESS = Printer((
    NAME,
    column("Class", "string", "The name of the IngressClass resource that should be used for additional configuration"),
    column("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule"),
    column("Address", "string", "Address is a list containing ingress points for the load-balancer"),
    column("Ports", "string", "Ports of TLS configurations that open"),
    AGE,
), _ingress_cells)


def _ingress_class_cells(obj: dict, now: datetime) -> list:
    spec = as_dict(obj.get("spec"))
    parameters = "<none>"
    params = spec.get("parameters")
    if isinstance(params, dict):
        parameters = as_str(params.get("kind"))
        if params.get("apiGroup") is not None:
            parameters += "." + as_str(params.get("apiGroup"))
        parameters += "/" + as_str(params.get("name"))
    return [_name(obj), as_str(spec.get("controller")), parameters, _age(obj, now)]


INGRESS_CLASS = Printer((
    NAME,
    column("Controller", "string", "Controller that is responsible for handling this class"),
    column("Parameters", "string", "A reference to a resource with additional parameters"),
    AGE,
), _ingress_class_cells)


NETWORK_POLICY = Printer((
    NAME,
    column("Pod-Selector", "string", DOCS["NetworkPolicySpec.podSelector"]),
    AGE,
), lambda obj, now: [_name(obj), format_label_selector(get(obj, "spec", "podSelector") or {}),
                     _age(obj, now)])


# ----------------------------------------------------------------------- nodes


def _node_roles(labels: Any) -> list[str]:
    roles = set()
    for key, value in as_dict(labels).items():
        if key.startswith("node-role.kubernetes.io/"):
            role = key[len("node-role.kubernetes.io/"):]
            if role:
                roles.add(role)
        elif key == "kubernetes.io/role" and value:
            roles.add(str(value))
    return sorted(roles)


def _node_address(status: dict, type_: str) -> str:
    for address in as_list(status.get("addresses")):
        if get(address, "type") == type_:
            return as_str(get(address, "address"))
    return "<none>"


def _node_cells(obj: dict, now: datetime) -> list:
    status = as_dict(obj.get("status"))
    conditions = {get(c, "type"): c for c in as_list(status.get("conditions")) if isinstance(c, dict)}
    states = []
    ready = conditions.get("Ready")
    if ready is not None:
        states.append("Ready" if ready.get("status") == "True" else "NotReady")
    if not states:
        states.append("Unknown")
    if get(obj, "spec", "unschedulable") is True:
        states.append("SchedulingDisabled")
    info = as_dict(status.get("nodeInfo"))
    return [_name(obj), ",".join(states), ",".join(_node_roles(get(obj, "metadata", "labels"))) or "<none>",
            _age(obj, now), as_str(info.get("kubeletVersion")),
            _node_address(status, "InternalIP"), _node_address(status, "ExternalIP"),
            as_str(info.get("osImage")) or "<unknown>",
            as_str(info.get("kernelVersion")) or "<unknown>",
            as_str(info.get("containerRuntimeVersion")) or "<unknown>"]


NODE = Printer((
    NAME,
    column("Status", "string", "The status of the node"),
    column("Roles", "string", "The roles of the node"),
    AGE,
    column("Version", "string", DOCS["NodeSystemInfo.kubeletVersion"]),
    column("Internal-IP", "string", DOCS["NodeStatus.addresses"], 1),
    column("External-IP", "string", DOCS["NodeStatus.addresses"], 1),
    column("OS-Image", "string", DOCS["NodeSystemInfo.osImage"], 1),
    column("Kernel-Version", "string", DOCS["NodeSystemInfo.kernelVersion"], 1),
    column("Container-Runtime", "string", DOCS["NodeSystemInfo.containerRuntimeVersion"], 1),
), _node_cells)


# ---------------------------------------------------------------------- events


def _event_cells(obj: dict, now: datetime) -> list:
    first_ts = parse_time(obj.get("firstTimestamp"))
    if first_ts is None or first_ts == ZERO_TIME:
        first = age(obj.get("eventTime"), now)
    else:
        first = since(first_ts, now)
    last_ts = parse_time(obj.get("lastTimestamp"))
    last = first if last_ts is None or last_ts == ZERO_TIME else since(last_ts, now)
    count = as_int(obj.get("count"))
    series = obj.get("series")
    if isinstance(series, dict):
        last = age(series.get("lastObservedTime"), now)
        count = as_int(series.get("count"))
    elif count == 0:
        count = 1
    involved = as_dict(obj.get("involvedObject"))
    kind = as_str(involved.get("kind")).lower()
    target = f"{kind}/{as_str(involved.get('name'))}" if as_str(involved.get("name")) else kind
    source = as_dict(obj.get("source"))
    component = as_str(source.get("component")) or as_str(obj.get("reportingComponent"))
    instance = as_str(source.get("host")) or as_str(obj.get("reportingInstance"))
    return [last, as_str(obj.get("type")), as_str(obj.get("reason")), target,
            as_str(involved.get("fieldPath")),
            f"{component}, {instance}" if instance else component,
            as_str(obj.get("message")).strip(), first, count, _name(obj)]


EVENT = Printer((
    column("Last Seen", "string", DOCS["Event.lastTimestamp"]),
    column("Type", "string", DOCS["Event.type"]),
    column("Reason", "string", DOCS["Event.reason"]),
    column("Object", "string", DOCS["Event.involvedObject"]),
    column("Subobject", "string", DOCS["ObjectReference.fieldPath"], 1),
    column("Source", "string", DOCS["Event.source"], 1),
    column("Message", "string", DOCS["Event.message"]),
    column("First Seen", "string", DOCS["Event.firstTimestamp"], 1),
    column("Count", "string", DOCS["Event.count"], 1),
    column("Name", "string", DOCS["ObjectMeta.name"], 1, "name"),
), _event_cells)


# ------------------------------------------------------------- config, access


NAMESPACE = Printer((
    NAME,
    column("Status", "string", "The status of the namespace"),
    AGE,
), lambda obj, now: [_name(obj), as_str(get(obj, "status", "phase")) or "Active", _age(obj, now)])

SECRET = Printer((
    NAME,
    column("Type", "string", DOCS["Secret.type"]),
    column("Data", "string", DOCS["Secret.data"]),
    AGE,
), lambda obj, now: [_name(obj), as_str(obj.get("type")) or "Opaque", len(as_dict(obj.get("data"))),
                     _age(obj, now)])

CONFIGMAP = Printer((
    NAME,
    column("Data", "string", DOCS["ConfigMap.data"]),
    AGE,
), lambda obj, now: [_name(obj), len(as_dict(obj.get("data"))) + len(as_dict(obj.get("binaryData"))),
                     _age(obj, now)])

SERVICE_ACCOUNT = Printer((
    NAME,
    column("Secrets", "string", DOCS["ServiceAccount.secrets"]),
    AGE,
), lambda obj, now: [_name(obj), len(as_list(obj.get("secrets"))), _age(obj, now)])


def _subjects(subjects: Any) -> tuple[str, str, str]:
    users, groups, sas = [], [], []
    for s in as_list(subjects):
        s = as_dict(s)
        kind = s.get("kind")
        if kind == "ServiceAccount":
            sas.append(f"{as_str(s.get('namespace'))}/{as_str(s.get('name'))}")
        elif kind == "User":
            users.append(as_str(s.get("name")))
        elif kind == "Group":
            groups.append(as_str(s.get("name")))
    return ", ".join(users), ", ".join(groups), ", ".join(sas)


def _binding_cells(obj: dict, now: datetime) -> list:
    ref = as_dict(obj.get("roleRef"))
    return [_name(obj), f"{as_str(ref.get('kind'))}/{as_str(ref.get('name'))}", _age(obj, now),
            *_subjects(obj.get("subjects"))]


def _binding_printer(doc: str, what: str) -> Printer:
    return Printer((
        NAME,
        column("Role", "string", doc),
        AGE,
        column("Users", "string", f"Users in the {what}", 1),
        column("Groups", "string", f"Groups in the {what}", 1),
        column("ServiceAccounts", "string", f"ServiceAccounts in the {what}", 1),
    ), _binding_cells)


def _csr_cells(obj: dict, now: datetime) -> list:
    spec, status = as_dict(obj.get("spec")), as_dict(obj.get("status"))
    kinds = {get(c, "type") for c in as_list(status.get("conditions"))}
    state = "Denied" if "Denied" in kinds else "Approved" if "Approved" in kinds else "Pending"
    if "Failed" in kinds:
        state += ",Failed"
    if as_str(status.get("certificate")):
        state += ",Issued"
    duration = "<none>"
    if spec.get("expirationSeconds") is not None:
        duration = human_duration(timedelta(seconds=as_int(spec.get("expirationSeconds"))))
    return [_name(obj), _age(obj, now), as_str(spec.get("signerName")) or "<none>",
            as_str(spec.get("username")), duration, state]


CSR = Printer((
    NAME,
    AGE,
    column("SignerName", "string", DOCS["CertificateSigningRequestSpec.signerName"]),
    column("Requestor", "string", DOCS["CertificateSigningRequestSpec.request"]),
    column("RequestedDuration", "string", DOCS["CertificateSigningRequestSpec.expirationSeconds"]),
    column("Condition", "string", DOCS["CertificateSigningRequestStatus.conditions"]),
), _csr_cells)

LEASE = Printer((
    NAME,
    column("Holder", "string", DOCS["LeaseSpec.holderIdentity"]),
    AGE,
), lambda obj, now: [_name(obj), as_str(get(obj, "spec", "holderIdentity")), _age(obj, now)])


def _resource_quota_cells(obj: dict, now: datetime) -> list:
    hard = as_dict(get(obj, "status", "hard"))
    used = as_dict(get(obj, "status", "used"))
    requests, limits = [], []
    for resource in sorted(hard):
        text = f"{resource}: {_quantity(used.get(resource))}/{_quantity(hard[resource])}"
        pieces = resource.split(".")
        (limits if len(pieces) > 1 and pieces[0] == "limits" else requests).append(text)
    return [_name(obj), ", ".join(requests), ", ".join(limits), _age(obj, now)]


RESOURCE_QUOTA = Printer((
    NAME,
    column("Request", "string", "Request represents a minimum amount of cpu/memory that a container may consume."),
    column("Limit", "string", "Limits control the maximum amount of cpu/memory that a container may use "
           "independent of contention on the node."),
    AGE,
), _resource_quota_cells)

PRIORITY_CLASS = Printer((
    NAME,
    column("Value", "integer", DOCS["PriorityClass.value"]),
    column("Global-Default", "boolean", DOCS["PriorityClass.globalDefault"]),
    AGE,
    column("PreemptionPolicy", "string", DOCS["PriorityClass.preemptionPolicy"]),
), lambda obj, now: [_name(obj), as_int(obj.get("value")), obj.get("globalDefault") is True,
                     _age(obj, now),
                     as_str(obj.get("preemptionPolicy")) if obj.get("preemptionPolicy") is not None
                     else "PreemptLowerPriority"])

RUNTIME_CLASS = Printer((
    NAME,
    column("Handler", "string", ""),
    AGE,
), lambda obj, now: [_name(obj), as_str(obj.get("handler")), _age(obj, now)])


# --------------------------------------------------------------------- storage

_ACCESS_MODES = (("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"),
                 ("ReadWriteOncePod", "RWOP"))
_BETA_CLASS = "volume.beta.kubernetes.io/storage-class"


def _access_modes(modes: Any) -> str:
    present = set(as_list(modes))
    return ",".join(short for mode, short in _ACCESS_MODES if mode in present)


def _pv_cells(obj: dict, now: datetime) -> list:
    spec, status = as_dict(obj.get("spec")), as_dict(obj.get("status"))
    claim = ""
    if isinstance(spec.get("claimRef"), dict):
        claim = f"{as_str(spec['claimRef'].get('namespace'))}/{as_str(spec['claimRef'].get('name'))}"
    phase = "Terminating" if _deleting(obj) else (as_str(status.get("phase")) or "Pending")
    annotations = as_dict(get(obj, "metadata", "annotations"))
    storage_class = (as_str(annotations[_BETA_CLASS]) if _BETA_CLASS in annotations
                     else as_str(spec.get("storageClassName")))
    vac = "<unset>" if spec.get("volumeAttributesClassName") is None else as_str(spec["volumeAttributesClassName"])
    return [_name(obj), _quantity(get(spec, "capacity", "storage")), _access_modes(spec.get("accessModes")),
            as_str(spec.get("persistentVolumeReclaimPolicy")) or "Retain", phase, claim, storage_class,
            vac, as_str(status.get("reason")), _age(obj, now),
            as_str(spec.get("volumeMode")) or "Filesystem"]


PV = Printer((
    NAME,
    column("Capacity", "string", DOCS["PersistentVolumeSpec.capacity"]),
    column("Access Modes", "string", DOCS["PersistentVolumeSpec.accessModes"]),
    column("Reclaim Policy", "string", DOCS["PersistentVolumeSpec.persistentVolumeReclaimPolicy"]),
    column("Status", "string", DOCS["PersistentVolumeStatus.phase"]),
    column("Claim", "string", DOCS["PersistentVolumeSpec.claimRef"]),
    column("StorageClass", "string", "StorageClass of the pv"),
    column("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv"),
    column("Reason", "string", DOCS["PersistentVolumeStatus.reason"]),
    AGE,
    column("VolumeMode", "string", DOCS["PersistentVolumeSpec.volumeMode"], 1),
), _pv_cells)


def _pvc_cells(obj: dict, now: datetime) -> list:
    spec, status = as_dict(obj.get("spec")), as_dict(obj.get("status"))
    phase = "Terminating" if _deleting(obj) else (as_str(status.get("phase")) or "Pending")
    capacity = access = ""
    volume = as_str(spec.get("volumeName"))
    if volume:
        access = _access_modes(status.get("accessModes"))
        capacity = _quantity(get(status, "capacity", "storage"))
    annotations = as_dict(get(obj, "metadata", "annotations"))
    storage_class = (as_str(annotations[_BETA_CLASS]) if _BETA_CLASS in annotations
                     else as_str(spec.get("storageClassName")))
    vac = "<unset>" if spec.get("volumeAttributesClassName") is None else as_str(spec["volumeAttributesClassName"])
    return [_name(obj), phase, volume, capacity, access, storage_class, vac, _age(obj, now),
            as_str(spec.get("volumeMode")) or "Filesystem"]


PVC = Printer((
    NAME,
    column("Status", "string", DOCS["PersistentVolumeClaimStatus.phase"]),
    column("Volume", "string", DOCS["PersistentVolumeClaimSpec.volumeName"]),
    column("Capacity", "string", DOCS["PersistentVolumeClaimStatus.capacity"]),
    column("Access Modes", "string", DOCS["PersistentVolumeClaimStatus.accessModes"]),
    column("StorageClass", "string", "StorageClass of the pvc"),
    column("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc"),
    AGE,
    column("VolumeMode", "string", DOCS["PersistentVolumeClaimSpec.volumeMode"], 1),
), _pvc_cells)


def _storage_class_cells(obj: dict, now: datetime) -> list:
    name = _name(obj)
    if is_default_class(obj):
        name += " (default)"
    return [name, as_str(obj.get("provisioner")), as_str(obj.get("reclaimPolicy")) or "Delete",
            as_str(obj.get("volumeBindingMode")) or "Immediate", obj.get("allowVolumeExpansion") is True,
            _age(obj, now)]


STORAGE_CLASS = Printer((
    NAME,
    column("Provisioner", "string", DOCS["StorageClass.provisioner"]),
    column("ReclaimPolicy", "string", DOCS["StorageClass.reclaimPolicy"]),
    column("VolumeBindingMode", "string", DOCS["StorageClass.volumeBindingMode"]),
    column("AllowVolumeExpansion", "string", DOCS["StorageClass.allowVolumeExpansion"]),
    AGE,
), _storage_class_cells)


def _csi_driver_cells(obj: dict, now: datetime) -> list:
    spec = as_dict(obj.get("spec"))
    modes = [as_str(m) for m in as_list(spec.get("volumeLifecycleModes"))] or ["Persistent"]
    tokens = "<unset>"
    if spec.get("tokenRequests") is not None:
        tokens = ",".join(as_str(get(t, "audience")) for t in as_list(spec.get("tokenRequests")))
    return [_name(obj), spec.get("attachRequired") is not False, spec.get("podInfoOnMount") is True,
            spec.get("storageCapacity") is True, tokens, spec.get("requiresRepublish") is True,
            ",".join(modes) or "<none>", _age(obj, now)]


CSI_DRIVER = Printer((
    NAME,
    column("AttachRequired", "boolean", DOCS["CSIDriverSpec.attachRequired"]),
    column("PodInfoOnMount", "boolean", DOCS["CSIDriverSpec.podInfoOnMount"]),
    column("StorageCapacity", "boolean", DOCS["CSIDriverSpec.storageCapacity"]),
    column("TokenRequests", "string", DOCS["CSIDriverSpec.tokenRequests"]),
    column("RequiresRepublish", "boolean", DOCS["CSIDriverSpec.requiresRepublish"]),
    column("Modes", "string", DOCS["CSIDriverSpec.volumeLifecycleModes"]),
    AGE,
), _csi_driver_cells)

VOLUME_ATTACHMENT = Printer((
    NAME,
    column("Attacher", "string", DOCS["VolumeAttachmentSpec.attacher"], format_="name"),
    column("PV", "string", DOCS["VolumeAttachmentSource.persistentVolumeName"]),
    column("Node", "string", DOCS["VolumeAttachmentSpec.nodeName"]),
    column("Attached", "boolean", DOCS["VolumeAttachmentStatus.attached"]),
    AGE,
), lambda obj, now: [_name(obj), as_str(get(obj, "spec", "attacher")),
                     as_str(get(obj, "spec", "source", "persistentVolumeName")),
                     as_str(get(obj, "spec", "nodeName")), get(obj, "status", "attached") is True,
                     _age(obj, now)])


# ----------------------------------------------------------------- autoscaling


def _hpa_metrics(specs: list, statuses: list) -> str:
    if not specs:
        return "<none>"
    items: list[str] = []
    for i, spec in enumerate(specs):
        spec = as_dict(spec)
        status = as_dict(statuses[i]) if i < len(statuses) else {}
        kind = spec.get("type")
        if kind == "External":
            target = as_dict(get(spec, "external", "target"))
            current_src = status.get("external") if isinstance(status.get("external"), dict) else None
            if target.get("averageValue") is not None:
                current = "<unknown>"
                if current_src is not None and get(current_src, "current", "averageValue") is not None:
                    current = _quantity(get(current_src, "current", "averageValue"))
                items.append(f"{current}/{_quantity(target['averageValue'])} (avg)")
            else:
                current = "<unknown>"
                if current_src is not None:
                    current = _quantity(get(current_src, "current", "value"), "<nil>")
                items.append(f"{current}/{_quantity(target.get('value'), '<nil>')}")
        elif kind == "Pods":
            current = "<unknown>"
            if isinstance(status.get("pods"), dict):
                current = _quantity(get(status, "pods", "current", "averageValue"), "<nil>")
            items.append(f"{current}/{_quantity(get(spec, 'pods', 'target', 'averageValue'), '<nil>')}")
        elif kind == "Object":
            target = as_dict(get(spec, "object", "target"))
            current_src = status.get("object") if isinstance(status.get("object"), dict) else None
            if target.get("averageValue") is not None:
                current = "<unknown>"
                if current_src is not None and get(current_src, "current", "averageValue") is not None:
                    current = _quantity(get(current_src, "current", "averageValue"))
                items.append(f"{current}/{_quantity(target['averageValue'])} (avg)")
            else:
                current = "<unknown>"
                if current_src is not None:
                    current = _quantity(get(current_src, "current", "value"), "<nil>")
                items.append(f"{current}/{_quantity(target.get('value'), '<nil>')}")
        elif kind in ("Resource", "ContainerResource"):
            key = "resource" if kind == "Resource" else "containerResource"
            source = as_dict(spec.get(key))
            target = as_dict(source.get("target"))
            current_src = status.get(key) if isinstance(status.get(key), dict) else None
            if target.get("averageValue") is not None:
                current = "<unknown>"
                if current_src is not None:
                    current = _quantity(get(current_src, "current", "averageValue"), "<nil>")
                items.append(f"{as_str(source.get('name'))}: {current}/{_quantity(target['averageValue'])}")
            else:
                current = "<unknown>"
                if current_src is not None and get(current_src, "current", "averageUtilization") is not None:
                    current = f"{as_int(get(current_src, 'current', 'averageUtilization'))}%"
                goal = "<auto>"
                if target.get("averageUtilization") is not None:
                    goal = f"{as_int(target['averageUtilization'])}%"
                items.append(f"{as_str(source.get('name'))}: {current}/{goal}")
        else:
            items.append("<unknown type>")
    if len(items) > 2:
        return f"{', '.join(items[:2])} + {len(items) - 2} more..."
    return ", ".join(items)


_DEFAULT_HPA_METRICS = [{"type": "Resource", "resource": {
    "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]


def _hpa_cells(obj: dict, now: datetime) -> list:
    spec, status = as_dict(obj.get("spec")), as_dict(obj.get("status"))
    if "targetCPUUtilizationPercentage" in spec or "currentCPUUtilizationPercentage" in status:
        # autoscaling/v1 shape, converted as upstream's internal conversion does.
        target = spec.get("targetCPUUtilizationPercentage")
        metrics = [{"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": 80 if target is None else target}}}]
        current = status.get("currentCPUUtilizationPercentage")
        statuses = [] if current is None else [{"type": "Resource", "resource": {
            "name": "cpu", "current": {"averageUtilization": current}}}]
    else:
        metrics = as_list(spec.get("metrics")) or _DEFAULT_HPA_METRICS
        statuses = as_list(status.get("currentMetrics"))
    ref = as_dict(spec.get("scaleTargetRef"))
    min_pods = "1" if spec.get("minReplicas") is None else str(as_int(spec["minReplicas"]))
    return [_name(obj), f"{as_str(ref.get('kind'))}/{as_str(ref.get('name'))}",
            _hpa_metrics(metrics, statuses), min_pods, as_int(spec.get("maxReplicas")),
            as_int(status.get("currentReplicas")), _age(obj, now)]


HPA = Printer((
    NAME,
    column("Reference", "string", DOCS["HorizontalPodAutoscalerSpec.scaleTargetRef"]),
    column("Targets", "string", DOCS["HorizontalPodAutoscalerSpec.metrics"]),
    column("MinPods", "string", DOCS["HorizontalPodAutoscalerSpec.minReplicas"]),
    column("MaxPods", "string", DOCS["HorizontalPodAutoscalerSpec.maxReplicas"]),
    column("Replicas", "string", DOCS["HorizontalPodAutoscalerStatus.currentReplicas"]),
    AGE,
), _hpa_cells)


# ------------------------------------------------------------ admission, misc


def _webhook_printer() -> Printer:
    return Printer((
        NAME,
        column("Webhooks", "integer", "Webhooks indicates the number of webhooks registered in this configuration"),
        AGE,
    ), lambda obj, now: [_name(obj), len(as_list(obj.get("webhooks"))), _age(obj, now)])


def _vap_cells(obj: dict, now: datetime) -> list:
    spec = as_dict(obj.get("spec"))
    param_kind = "<unset>"
    if isinstance(spec.get("paramKind"), dict):
        param_kind = f"{as_str(spec['paramKind'].get('apiVersion'))}/{as_str(spec['paramKind'].get('kind'))}"
    return [_name(obj), len(as_list(spec.get("validations"))), param_kind, _age(obj, now)]


VAP = Printer((
    NAME,
    column("Validations", "integer", "Validations indicates the number of validation rules defined in this configuration"),
    column("ParamKind", "string", "ParamKind specifies the kind of resources used to parameterize this policy"),
    AGE,
), _vap_cells)


def _go_label_selector_struct(selector: dict) -> str:
    """The gogo-protobuf `String()` of a metav1.LabelSelector."""
    exprs = "".join(
        f"LabelSelectorRequirement{{Key:{as_str(get(e, 'key'))},Operator:{as_str(get(e, 'operator'))},"
        f"Values:[{' '.join(as_str(v) for v in as_list(get(e, 'values')))}],}},"
        for e in as_list(selector.get("matchExpressions")))
    labels = "".join(f"{k}: {v}," for k, v in sorted(as_dict(selector.get("matchLabels")).items()))
    return (f"&LabelSelector{{MatchLabels:map[string]string{{{labels}}},"
            f"MatchExpressions:[]LabelSelectorRequirement{{{exprs}}},}}")


def _vapb_cells(obj: dict, now: datetime) -> list:
    spec = as_dict(obj.get("spec"))
    param = "<unset>"
    ref = spec.get("paramRef")
    if isinstance(ref, dict):
        if as_str(ref.get("name")):
            ns = as_str(ref.get("namespace"))
            param = f"{ns}/{ref['name']}" if ns else f"*/{ref['name']}"
        elif isinstance(ref.get("selector"), dict):
            param = _go_label_selector_struct(ref["selector"])
    return [_name(obj), as_str(spec.get("policyName")), param, _age(obj, now)]


VAPB = Printer((
    NAME,
    column("PolicyName", "string", "PolicyName indicates the policy definition which the policy binding binded to"),
    column("ParamRef", "string", "ParamRef indicates the param resource which sets the configration param"),
    AGE,
), _vapb_cells)


def _apiservice_cells(obj: dict, now: datetime) -> list:
    spec, status = as_dict(obj.get("spec")), as_dict(obj.get("status"))
    service = "Local"
    if isinstance(spec.get("service"), dict):
        service = f"{as_str(spec['service'].get('namespace'))}/{as_str(spec['service'].get('name'))}"
    available = "Unknown"
    for cond in as_list(status.get("conditions")):
        if get(cond, "type") == "Available":
            state, reason = as_str(get(cond, "status")), as_str(get(cond, "reason"))
            available = f"{state} ({reason})" if state != "True" and reason else state
            break
    return [_name(obj), service, available, _age(obj, now)]


APISERVICE = Printer((
    NAME,
    column("Service", "string", "The reference to the service that hosts this API endpoint."),
    column("Available", "string", "Whether this service is available."),
    AGE,
), _apiservice_cells)


DEFAULT_PRINTER = Printer((
    NAME,
    column("Created At", "date", DOCS["ObjectMeta.creationTimestamp"]),
), lambda obj, now: [_name(obj), format_rfc3339(get(obj, "metadata", "creationTimestamp"))])
"""apiserver's `rest.NewDefaultTableConvertor`: Name and the RFC 3339 creation time."""

FALLBACK_PRINTER = Printer((NAME, AGE), lambda obj, now: [_name(obj), _age(obj, now)])
"""Name and Age, for a built-in resource this module has no handler for."""


PRINTERS: dict[tuple[str, str], Printer] = {
    ("", "pods"): POD,
    ("", "podtemplates"): POD_TEMPLATE,
    ("", "replicationcontrollers"): RC,
    ("", "services"): SERVICE,
    ("", "endpoints"): ENDPOINTS,
    ("", "nodes"): NODE,
    ("", "events"): EVENT,
    ("", "namespaces"): NAMESPACE,
    ("", "secrets"): SECRET,
    ("", "configmaps"): CONFIGMAP,
    ("", "serviceaccounts"): SERVICE_ACCOUNT,
    ("", "persistentvolumes"): PV,
    ("", "persistentvolumeclaims"): PVC,
    ("", "resourcequotas"): RESOURCE_QUOTA,
    ("", "limitranges"): DEFAULT_PRINTER,
    ("apps", "deployments"): DEPLOYMENT,
    ("apps", "replicasets"): RS,
    ("apps", "statefulsets"): STATEFULSET,
    ("apps", "daemonsets"): DAEMONSET,
    ("apps", "controllerrevisions"): CONTROLLER_REVISION,
    ("batch", "jobs"): JOB,
    ("batch", "cronjobs"): CRONJOB,
    ("autoscaling", "horizontalpodautoscalers"): HPA,
    ("policy", "poddisruptionbudgets"): PDB,
    ("coordination.k8s.io", "leases"): LEASE,
    ("discovery.k8s.io", "endpointslices"): ENDPOINTSLICE,
    ("networking.k8s.io", "ingresses"): INGRESS,
    ("networking.k8s.io", "ingressclasses"): INGRESS_CLASS,
    ("networking.k8s.io", "networkpolicies"): NETWORK_POLICY,
    ("storage.k8s.io", "storageclasses"): STORAGE_CLASS,
    ("storage.k8s.io", "csidrivers"): CSI_DRIVER,
    ("storage.k8s.io", "volumeattachments"): VOLUME_ATTACHMENT,
    ("rbac.authorization.k8s.io", "roles"): DEFAULT_PRINTER,
    ("rbac.authorization.k8s.io", "clusterroles"): DEFAULT_PRINTER,
    ("rbac.authorization.k8s.io", "rolebindings"): _binding_printer(DOCS["RoleBinding.roleRef"], "roleBinding"),
    ("rbac.authorization.k8s.io", "clusterrolebindings"): _binding_printer(
        DOCS["ClusterRoleBinding.roleRef"], "clusterRoleBinding"),
    ("scheduling.k8s.io", "priorityclasses"): PRIORITY_CLASS,
    ("node.k8s.io", "runtimeclasses"): RUNTIME_CLASS,
    ("certificates.k8s.io", "certificatesigningrequests"): CSR,
    ("apiextensions.k8s.io", "customresourcedefinitions"): DEFAULT_PRINTER,
    ("apiregistration.k8s.io", "apiservices"): APISERVICE,
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"): _webhook_printer(),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"): _webhook_printer(),
    ("admissionregistration.k8s.io", "validatingadmissionpolicies"): VAP,
    ("admissionregistration.k8s.io", "validatingadmissionpolicybindings"): VAPB,
}
