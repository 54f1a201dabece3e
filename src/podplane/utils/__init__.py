"""Generic helpers below every other layer: no Kubernetes vocabulary, no component state.

`command`: running a host program from asyncio (time limit, kill and reap on cancel).
`aio`: cancelling tasks and waiting for them; running a process's main until a signal.
Anything in podplane may import from here; modules here import nothing from podplane.
"""
