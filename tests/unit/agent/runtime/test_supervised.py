"""SupervisedRuntime.stop: the signal protocol, with the container's state scripted (no processes)."""

from __future__ import annotations

import signal

from podplane.agent.runtime import EXITED, RUNNING
from podplane.agent.runtime.supervised import ContainerInfo, SupervisedRuntime


def info(state: str, code: int = 0) -> ContainerInfo:
    return ContainerInfo(id="c1", pod_uid="u", namespace="ns", pod_name="p", name="app", attempt=0, image="img",
                         image_id="", init=False, state=state, pid=42, created_at=1.0, exit_code=code)


class Scripted(SupervisedRuntime):
    """inspect/kill/wait/readiness from a script: `exits_after` SIGTERMs end the container."""

    def __init__(self, readiness: list[bool], exits_after: int) -> None:
        self.readiness = list(readiness)
        self.exits_after = exits_after
        self.calls: list[tuple] = []
        self.terms = 0

    def inspect(self, cid: str) -> ContainerInfo:
        return info(EXITED, 143) if self.terms >= self.exits_after else info(RUNNING)

    def _await_term_ready(self, info: ContainerInfo, grace: float) -> bool:
        ready = self.readiness.pop(0) if self.readiness else True
        self.calls.append(("ready?", ready))
        return ready

    def kill(self, cid: str, sig=signal.SIGTERM, *, all_processes: bool = False) -> bool:
        self.calls.append(("kill", int(sig)))
        if int(sig) == signal.SIGTERM:
            self.terms += 1
        return True

    def wait(self, cid: str, timeout: float | None = None) -> ContainerInfo:
        self.calls.append(("wait", timeout is not None and timeout > 0))
        return self.inspect(cid)


def test_a_sigterm_sent_before_init_could_take_it_is_sent_again():
    rt = Scripted(readiness=[False, True], exits_after=2)  # the first SIGTERM was dropped
    out = rt.stop("c1", grace=30)
    assert (out.state, out.exit_code) == (EXITED, 143)
    kills = [c for c in rt.calls if c[0] == "kill"]
    assert kills == [("kill", signal.SIGTERM), ("kill", signal.SIGTERM)]  # no SIGKILL needed


def test_a_ready_init_gets_exactly_one_sigterm():
    rt = Scripted(readiness=[True], exits_after=1)
    out = rt.stop("c1", grace=30)
    assert out.state == EXITED
    assert [c for c in rt.calls if c[0] == "kill"] == [("kill", signal.SIGTERM)]


def test_sigkill_after_the_grace_period_when_sigterm_is_ignored():
    rt = Scripted(readiness=[True], exits_after=99)

    def kill(cid, sig=signal.SIGTERM, *, all_processes=False):
        rt.calls.append(("kill", int(sig)))
        if int(sig) == signal.SIGKILL:
            rt.terms = 99
        return True

    rt.kill = kill
    out = rt.stop("c1", grace=0.01)
    assert out.state == EXITED
    assert [c for c in rt.calls if c[0] == "kill"] == [("kill", signal.SIGTERM), ("kill", signal.SIGKILL)]
