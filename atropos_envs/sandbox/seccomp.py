"""A seccomp filter, compiled to BPF with libseccomp (through ctypes), for bwrap --seccomp.

Deny-list: sockets of every family but AF_UNIX (network namespaces do not isolate
AF_VSOCK), ptrace and process_vm_*, mount and namespace changes (unshare, setns, and clone
with any CLONE_NEW* flag), io_uring, bpf, perf_event_open, userfaultfd, keyctl,
kexec/modules/reboot. Denied calls fail with EPERM, except clone3, whose flags sit in
memory a filter cannot read: it fails with ENOSYS, so libc falls back to clone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import os
import tempfile

AF_UNIX = 1
_SCMP_ACT_ALLOW = 0x7FFF0000
_SCMP_CMP_NE = 1
_SCMP_CMP_MASKED_EQ = 7
# CLONE_NEWTIME, NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET
NAMESPACE_FLAGS = (0x80, 0x20000, 0x2000000, 0x4000000, 0x8000000, 0x10000000, 0x20000000, 0x40000000)


def _act_errno(code: int) -> int:
    return 0x00050000 | (code & 0x0000FFFF)


class _ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


DENIED_SYSCALLS = (
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "unshare",
    "setns",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "keyctl",
    "add_key",
    "request_key",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "reboot",
    "swapon",
    "swapoff",
    "open_by_handle_at",
    "name_to_handle_at",
    "fanotify_init",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsmount",
    "fspick",
    "syslog",
    "acct",
    "quotactl",
)


class SeccompUnavailable(RuntimeError):
    pass


@functools.cache
def _lib():
    name = ctypes.util.find_library("seccomp")
    if not name:
        raise SeccompUnavailable("libseccomp is not installed (apt-get install libseccomp2)")
    lib = ctypes.CDLL(name, use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.POINTER(_ArgCmp),
    ]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    return lib


@functools.cache
def filter_bpf() -> bytes:
    """The compiled filter (cached: it is the same for every run)."""
    lib = _lib()
    ctx = lib.seccomp_init(_SCMP_ACT_ALLOW)
    if not ctx:
        raise SeccompUnavailable("seccomp_init failed")
    deny = _act_errno(errno.EPERM)
    try:
        for name in DENIED_SYSCALLS:
            nr = lib.seccomp_syscall_resolve_name(name.encode())
            if nr >= 0 and lib.seccomp_rule_add_array(ctx, deny, nr, 0, None) != 0:
                raise SeccompUnavailable(f"could not add a rule for {name}")
        clone3 = lib.seccomp_syscall_resolve_name(b"clone3")
        if clone3 >= 0 and lib.seccomp_rule_add_array(ctx, _act_errno(errno.ENOSYS), clone3, 0, None) != 0:
            raise SeccompUnavailable("could not add the rule for clone3")
        clone = lib.seccomp_syscall_resolve_name(b"clone")
        for flag in NAMESPACE_FLAGS:  # one rule per flag: a rule's comparisons must all match
            has_flag = (_ArgCmp * 1)(_ArgCmp(0, _SCMP_CMP_MASKED_EQ, flag, flag))
            if lib.seccomp_rule_add_array(ctx, deny, clone, 1, has_flag) != 0:
                raise SeccompUnavailable(f"could not add the clone rule for flag {flag:#x}")
        not_unix = (_ArgCmp * 1)(_ArgCmp(0, _SCMP_CMP_NE, AF_UNIX, 0))
        for name in ("socket", "socketpair"):
            nr = lib.seccomp_syscall_resolve_name(name.encode())
            if lib.seccomp_rule_add_array(ctx, deny, nr, 1, not_unix) != 0:
                raise SeccompUnavailable(f"could not add the socket-family rule for {name}")
        with tempfile.TemporaryFile() as out:
            if lib.seccomp_export_bpf(ctx, out.fileno()) != 0:
                raise SeccompUnavailable("seccomp_export_bpf failed")
            out.seek(0)
            return out.read()
    finally:
        lib.seccomp_release(ctx)


def filter_fd() -> int:
    """A readable fd holding the BPF program (bwrap reads it to the end); caller closes it."""
    read_end, write_end = os.pipe()
    data = filter_bpf()
    if len(data) > 60_000:  # a pipe holds 64 KiB: more would block this writer
        raise SeccompUnavailable("seccomp filter too large for a pipe")
    os.write(write_end, data)
    os.close(write_end)
    return read_end
