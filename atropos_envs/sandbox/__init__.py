"""Running untrusted programs (model output) in isolation.

``get_sandbox()`` returns the best isolating backend this machine has (bubblewrap +
cgroups + rlimits + seccomp on Linux) and refuses with a clear message when there is
none, unless the caller explicitly opts into the unsafe local backend.
"""

from __future__ import annotations

import functools
import os

from atropos_envs.sandbox.base import STATUSES, RunResult, Sandbox, SandboxLimits, SandboxUnavailable

__all__ = ["STATUSES", "RunResult", "Sandbox", "SandboxLimits", "SandboxUnavailable", "get_sandbox"]

UNSAFE_OPT_IN = "ATROPOS_UNSAFE_SANDBOX"


@functools.cache
def get_sandbox(backend: str = "auto", allow_unsafe: bool | None = None) -> Sandbox:
    """An isolating sandbox; backend is "auto", "bubblewrap" or "unsafe-local"."""
    if allow_unsafe is None:
        allow_unsafe = os.environ.get(UNSAFE_OPT_IN) == "1"
    if backend in ("auto", "bubblewrap"):
        from atropos_envs.sandbox.bwrap import BubblewrapSandbox

        try:
            return BubblewrapSandbox()
        except SandboxUnavailable as exc:
            if backend == "bubblewrap" or not allow_unsafe:
                raise SandboxUnavailable(
                    f"no isolating sandbox: {exc}. Model-written code will not run unisolated; "
                    f"install bubblewrap, or set {UNSAFE_OPT_IN}=1 to run it unisolated at your own risk"
                ) from None
    if backend in ("auto", "unsafe-local") and allow_unsafe:
        from atropos_envs.sandbox.unsafe import UnsafeLocalSandbox

        return UnsafeLocalSandbox()
    raise SandboxUnavailable(f"unknown or refused sandbox backend {backend!r}; use auto, bubblewrap or unsafe-local")
