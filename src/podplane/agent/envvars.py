"""A container's environment, resolved the way the kubelet does it (`makeEnvironmentVariables`).

`resolve_env(client, pod, container)` returns the final `(name, value)` pairs for the
runtime: `envFrom` first (every key of the referenced ConfigMap or Secret, with the
prefix; a missing optional source is skipped), then `env` in order, each entry replacing
an earlier definition of the same name in place: literal values get `$(VAR)` expansion
against everything defined before them (and the service variables), `valueFrom` reads a
ConfigMap or Secret key (optional honoured), a pod field (`fieldRef`) or a container
resource (`resourceFieldRef`, limits defaulting to node allocatable). Service link
variables (`<SVC>_SERVICE_HOST`, Docker link style `<SVC>_PORT_...`) come last, from the
`services` the caller passes (its informer cache), never overriding a container's own.
Secrets are base64 in the API and decoded here. Errors raise `EnvConfigError`, whose
message is what the kubelet reports with CreateContainerConfigError.

The pod-field and resource helpers are shared with `agent.volumes` (downwardAPI files).
Neighbours: `podplane.client.Client` (ConfigMap/Secret reads), `runtime.oci.expand`;
called by the runtime adapter before it builds a `runtime.runc.ContainerRequest`.
"""

from __future__ import annotations

import base64
import binascii
from collections import ChainMap
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import ROUND_CEILING, Decimal

from podplane.agent.runtime.oci import ContainerRuntimeError, expand
from podplane.api.errors import ApiError
from podplane.api.validation import is_qualified_name, parse_quantity
from podplane.client.transport import TransportError

__all__ = [
    "EnvConfigError",
    "FieldError",
    "config_map_bytes",
    "container_resource_value",
    "format_map",
    "get_config_map",
    "get_secret",
    "go_quote",
    "object_field_value",
    "pod_field_value",
    "resolve_env",
    "secret_bytes",
    "service_env",
]

MASTER_SERVICES = frozenset({"kubernetes"})
"""Services of the default namespace every pod sees, even with enableServiceLinks: false."""
DEFAULT_NAMESPACE = "default"


class EnvConfigError(ContainerRuntimeError):
    """The environment cannot be built (missing ConfigMap/Secret/key, bad field path); the message is
    the kubelet's. Retrying may succeed once the referenced object exists."""

    temporary = True
    reason = "CreateContainerConfigError"


class FieldError(ValueError):
    """A fieldRef/resourceFieldRef that cannot be resolved (upstream's wording)."""


# --- API reads (kubelet configmap/secret managers) ---------------------------------------------

async def _get(client, plural: str, namespace: str, name: str) -> dict | None:
    """The object, or None when it does not exist. Other failures raise ApiError/TransportError."""
    try:
        return await client.get(client.resource("", plural), name, namespace)
    except ApiError as e:
        if e.code == 404:
            return None
        raise


async def get_config_map(client, namespace: str, name: str) -> dict | None:
    return await _get(client, "configmaps", namespace, name)


async def get_secret(client, namespace: str, name: str) -> dict | None:
    return await _get(client, "secrets", namespace, name)


def _b64(value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        # not base64 (a hand-seeded object): take the text as it is
        return str(value).encode()


def secret_bytes(secret: dict) -> dict[str, bytes]:
    """A Secret's `data`, base64-decoded."""
    return {str(k): _b64(v) for k, v in (secret.get("data") or {}).items()}


def config_map_bytes(config_map: dict) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """A ConfigMap's (`data`, `binaryData` decoded)."""
    data = {str(k): str(v).encode() for k, v in (config_map.get("data") or {}).items()}
    binary = {str(k): _b64(v) for k, v in (config_map.get("binaryData") or {}).items()}
    return data, binary


def _not_found(kind: str, name: str) -> str:
    # the kubelet's watch-based managers word it with the singular resource
    return f'{kind} "{name}" not found'


# --- pod fields (pkg/fieldpath, pkg/apis/core/pods) --------------------------------------------

_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
               "\\": "\\\\", '"': '\\"'}


def go_quote(text: str) -> str:
    """Go's strconv.Quote (`%q`)."""
    out = ['"']
    for ch in text:
        if ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def format_map(m: Mapping[str, str] | None) -> str:
    """fieldpath.FormatMap: `key="value"` lines, keys sorted, no trailing newline."""
    return "\n".join(f"{k}={go_quote(str(v))}" for k, v in sorted((m or {}).items()))


def _split_subscript(path: str) -> tuple[str, str] | None:
    """SplitMaybeSubscriptedPath: `metadata.labels['k']` → ("metadata.labels", "k")."""
    if not path.endswith("']"):
        return None
    head, sep, sub = path[:-2].partition("['")
    if not sep or not head:
        return None
    return head, sub


def object_field_value(pod: dict, path: str) -> str:
    """fieldpath.ExtractFieldPathAsString: the metadata fields the downward API may read."""
    meta = pod.get("metadata") or {}
    split = _split_subscript(path)
    if split is not None:
        head, sub = split
        if head == "metadata.annotations":
            errs = is_qualified_name(sub.lower())
            if errs:
                raise FieldError(f"invalid key subscript in {path}: {';'.join(errs)}")
            return str((meta.get("annotations") or {}).get(sub, ""))
        if head == "metadata.labels":
            errs = is_qualified_name(sub)
            if errs:
                raise FieldError(f"invalid key subscript in {path}: {';'.join(errs)}")
            return str((meta.get("labels") or {}).get(sub, ""))
        raise FieldError(f'fieldPath "{path}" does not support subscript')
    if path == "metadata.annotations":
        return format_map(meta.get("annotations"))
    if path == "metadata.labels":
        return format_map(meta.get("labels"))
    if path in ("metadata.name", "metadata.namespace", "metadata.uid"):
        return str(meta.get(path.split(".")[1]) or "")
    raise FieldError(f"unsupported fieldPath: {path}")


_POD_FIELD_LABELS = frozenset({
    "metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid",
    "spec.nodeName", "spec.restartPolicy", "spec.serviceAccountName", "spec.schedulerName", "status.phase",
    "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs",
})


def _convert_field_label(version: str, label: str) -> str:
    """pods.ConvertDownwardAPIFieldLabel."""
    if version != "v1":
        raise FieldError(f"unsupported pod version: {version}")
    split = _split_subscript(label)
    if split is not None:
        if split[0] in ("metadata.annotations", "metadata.labels"):
            return label
        raise FieldError(f"field label does not support subscript: {label}")
    if label in _POD_FIELD_LABELS:
        return label
    if label == "spec.host":  # old v1 clients
        return "spec.nodeName"
    raise FieldError(f"field label not supported: {label}")


def _status_ips(status: dict, plural: str, singular: str) -> list[str]:
    ips = [str(e.get("ip")) for e in status.get(plural) or [] if isinstance(e, dict) and e.get("ip")]
    if not ips and status.get(singular):
        ips = [str(status[singular])]
    return ips


def pod_field_value(selector: dict, pod: dict, *, pod_ips: Sequence[str] | None = None,
                    host_ips: Sequence[str] | None = None) -> str:
    """Kubelet podFieldSelectorRuntimeValue for an env `fieldRef`. IPs default to the pod's status."""
    path = _convert_field_label(str(selector.get("apiVersion") or "v1"), str(selector.get("fieldPath") or ""))
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    if path == "spec.nodeName":
        return str(spec.get("nodeName") or "")
    if path == "spec.serviceAccountName":
        return str(spec.get("serviceAccountName") or "")
    if path in ("status.hostIP", "status.hostIPs"):
        ips = list(host_ips) if host_ips is not None else _status_ips(status, "hostIPs", "hostIP")
        if not ips:
            raise FieldError("host IP unknown; known addresses: []")
        return ips[0] if path == "status.hostIP" else ",".join(ips)
    if path in ("status.podIP", "status.podIPs"):
        ips = list(pod_ips) if pod_ips is not None else _status_ips(status, "podIPs", "podIP")
        if path == "status.podIP":
            return ips[0] if ips else ""
        return ",".join(ips)
    return object_field_value(pod, path)


# --- container resources (pkg/api/v1/resource) -------------------------------------------------

_DEFAULTED_LIMITS = ("cpu", "memory", "ephemeral-storage")


def _find_container(pod: dict, name: str) -> dict:
    spec = pod.get("spec") or {}
    for c in list(spec.get("containers") or []) + list(spec.get("initContainers") or []):
        if c.get("name") == name:
            return c
    raise FieldError(f"container {name} not found")


def _with_default_limits(container: dict, allocatable: Mapping[str, Decimal] | None) -> dict:
    """MergeContainerResourceLimits: unset or zero cpu/memory/ephemeral-storage limits → allocatable."""
    resources = dict(container.get("resources") or {})
    limits = dict(resources.get("limits") or {})
    for name in _DEFAULTED_LIMITS:
        q = parse_quantity(limits.get(name)) if name in limits else None
        if (q is None or q == 0) and allocatable and name in allocatable:
            limits[name] = allocatable[name]
    resources["limits"] = limits
    return {**container, "resources": resources}


def _ceil(q: Decimal) -> int:
    return int(q.to_integral_value(rounding=ROUND_CEILING))


def _quantity(value: object) -> Decimal:
    if value is None:
        return Decimal(0)
    if isinstance(value, Decimal):
        return value
    q = parse_quantity(value)
    if q is None:
        raise FieldError(f"quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
                         f": {value!r}")
    return q


def _resource_value(selector: dict, container: dict) -> str:
    """ExtractContainerResourceValue: milli-precision ceiling for cpu, byte ceiling otherwise."""
    resource = str(selector.get("resource") or "")
    divisor = _quantity(selector.get("divisor"))
    if divisor == 0:
        divisor = Decimal(1)
    kind, _, name = resource.partition(".")
    res = container.get("resources") or {}
    if kind not in ("limits", "requests") or not (
            name in ("cpu", "memory", "ephemeral-storage") or name.startswith("hugepages-")):
        raise FieldError(f"unsupported container resource : {resource}")
    value = _quantity((res.get(kind) or {}).get(name))
    if name == "cpu":
        num, den = _ceil(value * 1000), _ceil(divisor * 1000)
    else:
        num, den = _ceil(value), _ceil(divisor)
    if den == 0:
        raise FieldError(f"invalid divisor for {resource}: {selector.get('divisor')}")
    return str(_ceil(Decimal(num) / Decimal(den)))


def container_resource_value(selector: dict, pod: dict, container: dict | None,
                             allocatable: Mapping[str, Decimal] | None, *, volume: bool = False) -> str:
    """A resourceFieldRef's value. For env (upstream containerResourceRuntimeValue over a pod whose
    app containers' limits default to allocatable) `container` is the one being started; for a
    downwardAPI volume (`volume=True`) the named container's limits default to allocatable."""
    name = str(selector.get("containerName") or "")
    if volume or name:
        target = _find_container(pod, name)
        defaulted = volume or any(c.get("name") == name for c in (pod.get("spec") or {}).get("containers") or [])
    else:
        if container is None:
            raise FieldError("no container to resolve the resourceFieldRef against")
        target, defaulted = container, True
    if defaulted:
        target = _with_default_limits(target, allocatable)
    return _resource_value(selector, target)


# --- services (pkg/kubelet/envvars) ------------------------------------------------------------

def _env_name(text: str) -> str:
    return text.replace("-", "_").upper()


def _join_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _from_service(service: dict) -> list[tuple[str, str]]:
    spec = service.get("spec") or {}
    ip = str(spec.get("clusterIP") or "")
    ports = [p for p in spec.get("ports") or [] if isinstance(p, dict)]
    if not ports:
        return []
    prefix = _env_name(str(service["metadata"]["name"]))
    out = [(f"{prefix}_SERVICE_HOST", ip), (f"{prefix}_SERVICE_PORT", str(int(ports[0].get("port") or 0)))]
    for p in ports:
        if p.get("name"):
            out.append((f"{prefix}_SERVICE_PORT_{_env_name(str(p['name']))}", str(int(p.get("port") or 0))))
    for i, p in enumerate(ports):
        protocol = str(p.get("protocol") or "TCP")
        port = int(p.get("port") or 0)
        url = f"{protocol.lower()}://{_join_host_port(ip, port)}"
        if i == 0:
            out.append((f"{prefix}_PORT", url))
        port_prefix = f"{prefix}_PORT_{port}_{protocol.upper()}"
        out += [(port_prefix, url), (f"{port_prefix}_PROTO", protocol.lower()), (f"{port_prefix}_PORT", str(port)),
                (f"{port_prefix}_ADDR", ip)]
    return out


def service_env(services: Iterable[dict], namespace: str, enable_service_links: bool = True) -> dict[str, str]:
    """getServiceEnvVarMap: the `kubernetes` Service of the default namespace always, the pod's
    namespace's Services when enableServiceLinks; headless and IP-less Services are skipped."""
    chosen: dict[str, dict] = {}
    for svc in services:
        meta = svc.get("metadata") or {}
        ip = (svc.get("spec") or {}).get("clusterIP")
        if not ip or ip == "None":
            continue
        name = str(meta.get("name") or "")
        if meta.get("namespace") == DEFAULT_NAMESPACE and name in MASTER_SERVICES:
            chosen.setdefault(name, svc)
        elif meta.get("namespace") == namespace and enable_service_links:
            chosen[name] = svc
    env: dict[str, str] = {}
    for name in sorted(chosen):
        env.update(_from_service(chosen[name]))
    return env


# --- the environment ---------------------------------------------------------------------------

def _relaxed_env_name_ok(name: str) -> bool:
    # IsRelaxedEnvVarName: printable ASCII but '='; anything else could not even be passed on
    return bool(name) and all(32 <= ord(c) <= 126 for c in name) and "=" not in name


_INVALID_KEYS_MESSAGE = ("Keys [{keys}] from the EnvFrom {kind} {ns}/{name} were skipped since they are "
                         "considered invalid environment variable names.")


async def resolve_env(client, pod: dict, container: dict, *, node_allocatable: dict[str, Decimal] | None = None,
                      services: Iterable[dict] | None = None, pod_ips: Sequence[str] | None = None,
                      host_ips: Sequence[str] | None = None,
                      warn: Callable[[str, str], None] | None = None) -> tuple[tuple[str, str], ...]:
    """The container's final environment in definition order (see module docstring).

    `services`: Services for the link variables (None: none); `pod_ips`/`host_ips`: the sandbox's
    and node's addresses (default: the pod's status); `warn(reason, message)`: told about skipped
    envFrom keys (an event, upstream InvalidEnvironmentVariableNames). Raises EnvConfigError."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    namespace = str(meta.get("namespace") or DEFAULT_NAMESPACE)
    links = spec.get("enableServiceLinks")
    svc_env = service_env(services or (), namespace, links is None or bool(links))
    config_maps: dict[str, dict | None] = {}
    secrets: dict[str, dict | None] = {}

    async def fetch(kind: str, name: str) -> dict | None:
        cache, plural = (config_maps, "configmaps") if kind == "configmap" else (secrets, "secrets")
        if name not in cache:
            try:
                cache[name] = await _get(client, plural, namespace, name)
            except ApiError as e:
                raise EnvConfigError(str(e)) from e
            except TransportError as e:
                raise EnvConfigError(f"couldn't get {kind} {namespace}/{name}: {e}") from e
        return cache[name]

    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        prefix = str(source.get("prefix") or "")
        if source.get("configMapRef") is not None:
            kind, ref = "configmap", source["configMapRef"]
        elif source.get("secretRef") is not None:
            kind, ref = "secret", source["secretRef"]
        else:
            continue
        name = str(ref.get("name") or "")
        obj = await fetch(kind, name)
        if obj is None:
            if ref.get("optional"):
                continue
            raise EnvConfigError(_not_found(kind, name))
        if kind == "configmap":
            values = {str(k): str(v) for k, v in (obj.get("data") or {}).items()}
        else:
            values = {k: v.decode("utf-8", "replace") for k, v in secret_bytes(obj).items()}
        invalid = []
        for key in sorted(values):
            full = prefix + key
            if not _relaxed_env_name_ok(full):
                invalid.append(full)
                continue
            env[full] = values[key]
        if invalid and warn is not None:
            warn("InvalidEnvironmentVariableNames", _INVALID_KEYS_MESSAGE.format(
                keys=", ".join(sorted(invalid)), kind="configMap" if kind == "configmap" else "secret",
                ns=namespace, name=name))

    lookup = ChainMap(env, svc_env)
    for var in container.get("env") or []:
        name = str(var.get("name") or "")
        value = str(var.get("value") or "")
        source = var.get("valueFrom")
        if value:
            value = expand(value, lookup)
        elif source:
            try:
                resolved = await _value_from(source, pod, container, fetch, namespace,
                                             node_allocatable=node_allocatable, pod_ips=pod_ips, host_ips=host_ips)
            except FieldError as e:
                raise EnvConfigError(str(e)) from e
            if resolved is None:  # optional and absent
                continue
            value = resolved
        env[name] = value

    out = list(env.items())
    out += [(k, v) for k, v in svc_env.items() if k not in env]
    return tuple(out)


async def _value_from(source: dict, pod: dict, container: dict, fetch, namespace: str, *,
                      node_allocatable, pod_ips, host_ips) -> str | None:
    if source.get("fieldRef") is not None:
        return pod_field_value(source["fieldRef"], pod, pod_ips=pod_ips, host_ips=host_ips)
    if source.get("resourceFieldRef") is not None:
        return container_resource_value(source["resourceFieldRef"], pod, container, node_allocatable)
    for field, kind, title in (("configMapKeyRef", "configmap", "ConfigMap"), ("secretKeyRef", "secret", "Secret")):
        ref = source.get(field)
        if ref is None:
            continue
        name, key = str(ref.get("name") or ""), str(ref.get("key") or "")
        optional = bool(ref.get("optional"))
        obj = await fetch(kind, name)
        if obj is None:
            if optional:
                return None
            raise EnvConfigError(_not_found(kind, name))
        if kind == "configmap":
            data = obj.get("data") or {}
            found = str(data[key]) if key in data else None
        else:
            raw = secret_bytes(obj).get(key)
            found = raw.decode("utf-8", "replace") if raw is not None else None
        if found is None:
            if optional:
                return None
            raise EnvConfigError(f"couldn't find key {key} in {title} {namespace}/{name}")
        return found
    return ""

