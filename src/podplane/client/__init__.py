"""API clients for podplane components: transports, `Client`, informers, work queues,
expectations, events and leader election. Everything outside the apiserver reaches
the cluster through this package."""

from podplane.client.client import Client, resource_path
from podplane.client.transport import HttpTransport, TransportError, transport_from_kubeconfig

__all__ = ["Client", "HttpTransport", "TransportError", "resource_path", "transport_from_kubeconfig"]
