"""Running untrusted programs (model output) in isolation.

``get_sandbox()`` returns the best isolating backend this machine has (bubblewrap +
cgroups + rlimits + seccomp on Linux) and refuses with a clear message when there is
none, or when a documented limit cannot be enforced (no cgroup for the memory limit),
unless the caller explicitly opts in: ``allow_unenforced`` runs bubblewrap with the
unenforced limits recorded in every ``RunResult.unenforced``; ``allow_unsafe`` accepts
that too, and falls back to the unsafe local backend when bubblewrap cannot run at all.
"""

from __future__ import annotations

import functools
import os

from atropos_envs.sandbox.base import (
    STATUSES,
    LimitsUnenforced,
    RunResult,
    Sandbox,
    SandboxLimits,
    SandboxUnavailable,
)

__all__ = [
    "STATUSES",
    "LimitsUnenforced",
    "RunResult",
    "Sandbox",
    "SandboxLimits",
    "SandboxUnavailable",
    "get_sandbox",
]

UNSAFE_OPT_IN = "ATROPOS_UNSAFE_SANDBOX"


@functools.cache
def get_sandbox(
    backend: str = "auto", allow_unsafe: bool | None = None, allow_unenforced: bool | None = None
) -> Sandbox:
    """An isolating sandbox; backend is "auto", "bubblewrap" or "unsafe-local"."""
    if allow_unsafe is None:
        allow_unsafe = os.environ.get(UNSAFE_OPT_IN) == "1"
    if backend in ("auto", "bubblewrap"):
        from atropos_envs.sandbox.bwrap import BubblewrapSandbox

        try:
            return BubblewrapSandbox(allow_unenforced=True if allow_unsafe else allow_unenforced)
        except LimitsUnenforced:
            raise
        except SandboxUnavailable as exc:
            if backend == "bubblewrap" or not allow_unsafe:
                raise SandboxUnavailable(
                    f"no isolating sandbox: {exc}. Model-written code will not run unisolated; "
                    f"install bubblewrap, or set {UNSAFE_OPT_IN}=1 to run it unisolated at your own risk"
                ) from None
    if backend in ("auto", "unsafe-local") and allow_unsafe:
        from atropos_envs.sandbox.unsafe import UnsafeLocalSandbox

        return UnsafeLocalSandbox()
    raise SandboxUnavailable(
        f"unknown or refused sandbox backend {backend!r}; use auto, bubblewrap or unsafe-local"
    )
