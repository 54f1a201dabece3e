"""Errors of the pod network layer: one small hierarchy, temporary versus permanent.

Every failure of `agent.network` is a `NetworkError`. The pod worker reports its message
in the pod's status and retries on its next sync; `temporary` tells it whether a retry
can help without a change to the host or the configuration:

    NetworkError                      temporary (retry on the next sync)
      CommandFailed                   a host command (`ip`, `sysctl`, ...) exited non-zero
        CommandTimeout                ... or did not finish in time
      CNIError                        a CNI plugin failed (code, msg and details from it)
      PermanentNetworkError           retrying will not help
        ToolMissing                   a program is not installed (names the Debian package)
        NetworkConfigError            invalid CIDR, name or network configuration
        CNIConfigError                a CNI plugin refused its configuration (codes 1,2,4,6,7)

Third-party exceptions (OSError, JSON errors) are wrapped with `raise ... from e`.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "CNIConfigError",
    "CNIError",
    "CommandFailed",
    "CommandTimeout",
    "NetworkConfigError",
    "NetworkError",
    "PermanentNetworkError",
    "ToolMissing",
]

# Where each program the network layer runs comes from on Debian.
_PACKAGES = {
    "ip": "iproute2",
    "sysctl": "procps",
    "nft": "nftables",
    "conntrack": "conntrack",
    "iptables": "iptables",
    "nsenter": "util-linux",
}


class NetworkError(Exception):
    """The pod network could not be set up, checked or torn down."""

    temporary: bool = True
    """True when retrying the same operation later may succeed."""


class PermanentNetworkError(NetworkError):
    """Retrying will not help until the host or the configuration changes."""

    temporary = False


class NetworkConfigError(PermanentNetworkError):
    """An invalid pod CIDR, service CIDR, namespace name or CNI configuration."""


class ToolMissing(PermanentNetworkError):
    """A program the network layer needs is not installed."""

    def __init__(self, program: str, package: str = "") -> None:
        self.program = program
        self.package = package or _PACKAGES.get(program.rsplit("/", 1)[-1], "")
        hint = f": install the Debian package {self.package}" if self.package else ""
        super().__init__(f"{program} not found{hint}")


class CommandFailed(NetworkError):
    """A host command exited with a non-zero status."""

    def __init__(self, argv: Sequence[str], returncode: int, stderr: str = "", stdout: str = "") -> None:
        self.argv = tuple(argv)
        self.returncode = returncode
        self.stderr = stderr.strip()
        self.stdout = stdout.strip()
        detail = self.stderr or self.stdout or "no output"
        super().__init__(f"`{' '.join(self.argv)}` exited with status {returncode}: {detail}")


class CommandTimeout(CommandFailed):
    """A host command did not finish within its timeout and was killed."""

    def __init__(self, argv: Sequence[str], timeout: float) -> None:
        self.timeout = timeout
        super().__init__(argv, -9, f"killed after {timeout:g} s")


class CNIError(NetworkError):
    """A CNI plugin failed; carries the error object it printed (CNI spec, "Error")."""

    def __init__(self, plugin: str, command: str, code: int, msg: str, details: str = "") -> None:
        self.plugin = plugin
        self.command = command
        self.code = code
        self.msg = msg
        self.details = details
        text = f"CNI plugin {plugin} {command} failed (code {code}): {msg}"
        if details:
            text += f"; {details}"
        super().__init__(text)


class CNIConfigError(CNIError, PermanentNetworkError):
    """A CNI plugin refused its configuration or environment (spec codes 1, 2, 4, 6, 7)."""

    temporary = False
