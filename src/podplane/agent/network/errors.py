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

ToolMissing, CommandFailed and CommandTimeout also subclass their generic namesakes in
`podplane.utils.command`, whose runner raises them (see `_command`). Third-party
exceptions (OSError, JSON errors) are wrapped with `raise ... from e`.
"""

from __future__ import annotations

from podplane.utils import command as generic

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


class NetworkError(Exception):
    """The pod network could not be set up, checked or torn down."""

    temporary: bool = True
    """True when retrying the same operation later may succeed."""


class PermanentNetworkError(NetworkError):
    """Retrying will not help until the host or the configuration changes."""

    temporary = False


class NetworkConfigError(PermanentNetworkError):
    """An invalid pod CIDR, service CIDR, namespace name or CNI configuration."""


class ToolMissing(PermanentNetworkError, generic.ToolMissing):
    """A program the network layer needs is not installed (names the Debian package)."""


class CommandFailed(NetworkError, generic.CommandFailed):
    """A host command exited with a non-zero status."""


class CommandTimeout(CommandFailed, generic.CommandTimeout):
    """A host command did not finish within its timeout and was killed."""


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
