#!/usr/bin/env python3
"""Reads `perf script -F comm,tid,ip,sym` output (call graphs from `perf record -g`) of
Flotilla server processes and prints where the CPU went:

- shares by component: each sample goes to the innermost stack frame that belongs to a
  Flotilla component or to the gRPC/HTTP/2 stack (frames of the Swift runtime, the
  standard library, Foundation, SwiftNIO's core, libc and the kernel are skipped, so a
  write(2) issued by the WAL counts as WAL and a retain done by NIOHTTP2 as gRPC/HTTP/2);
  samples with no such frame are split by what their stack shows: threads sleeping and
  waking (futex/epoll/eventfd), malloc/free whose caller is not on the stack (glibc has no
  frame pointers), Swift concurrency/Dispatch scheduling, the NIO event loop, the Swift
  runtime, other kernel and other;
- the top self symbols (leaf frames), demangled with `swift demangle` when available.

Usage: perf script -i perf.data -F comm,tid,ip,sym | Tools/bench-profile-shares.py [--top 10]
"""
import collections, re, subprocess, sys

# Swift module -> component. Modules not listed are "transparent" (skipped when walking the stack).
COMPONENT = {
    **{m: "gRPC/HTTP2/protobuf" for m in [
        "GRPCCore", "GRPCNIOTransportCore", "GRPCNIOTransportHTTP2", "GRPCNIOTransportHTTP2Posix",
        "GRPCProtobuf", "NIOHTTP2", "NIOHPACK", "SwiftProtobuf", "Proto", "GRPCInProcessTransport"]},
    "API": "etcd API service layer",
    "Router": "Router (routing)",
    "Node": "Node (batching, apply loop)",
    "RaftCore": "Raft",
    "WAL": "WAL",
    **{m: "apply: MVCC/PageStore/LZ4" for m in ["MVCC", "PageStore", "LZ4", "CLZ4"]},
    "PeerTransport": "PeerTransport (node-to-node)",
    "Server": "Server glue",
}
TRANSPARENT_MODULES = {"Base", "FileIO", "NIOCore", "NIOPosix", "NIOConcurrencyHelpers", "_NIODataStructures",
                       "NIOExtras", "Synchronization", "Foundation", "FoundationEssentials", "Dispatch",
                       "Logging", "Atomics", "DequeModule", "InternalCollectionsUtilities", "_Concurrency"}
IDENT = re.compile(r"^\$[sS](\d+)([A-Za-z_][A-Za-z0-9_]*)")


def module_of(sym):
    """The module of a mangled Swift symbol (the first context), or None."""
    m = IDENT.match(sym)
    if not m:
        return None
    n = int(m.group(1))
    return m.group(2)[:n]


# The lean HTTP/2 path lives in the Server module (Server/Lean) but is the client port's gRPC layer.
LEAN_SERVER_TYPES = re.compile(r"^\$[sS]6Server\d+(Lean|GRPCMessageReader|GRPCTimeout|GRPCStatusMessage|BridgeEntry)")


def component_of(sym):
    mod = module_of(sym)
    if mod == "Server" and LEAN_SERVER_TYPES.match(sym):
        return "gRPC/HTTP2/protobuf"
    if mod in COMPONENT:
        return COMPONENT[mod]
    # Specialized generics of another module often mention the owning module later on.
    for name, comp in COMPONENT.items():
        if len(name) > 3 and f"{len(name)}{name}" in sym[:80] and sym.startswith("$s"):
            return comp
    return None


WAKEUP = ("futex", "epoll_wait", "eventfd", "timerfd", "try_to_wake_up", "schedule", "sem_wait", "nanosleep")
MALLOC = ("malloc", "_int_malloc", "_int_free", "cfree", "free", "malloc_consolidate", "unlink_chunk", "sysmalloc",
          "realloc", "calloc")
SCHEDULING = ("swift_task", "swift_job", "swift::AsyncTask", "swift::runJob", "_dispatch", "swift_continuation",
              "swift_asyncLet", "swift::TaskGroup", "swift_taskGroup")


def unattributed_bucket(frames):
    """Where a sample with no component frame goes, by what its stack shows."""
    syms = [sym for _, sym in frames]
    leaf, ip = syms[0], frames[0][0]
    if any(any(w in sym for w in WAKEUP) for sym in syms):
        return "threads sleeping/waking (futex, epoll, eventfd: context switches)"
    if leaf.split("@")[0] in MALLOC or leaf.startswith(("malloc", "_int_", "cfree")):
        return "malloc/free (caller not on the stack)"
    if any(sym.startswith(SCHEDULING) for sym in syms):
        return "Swift concurrency / Dispatch scheduling"
    if ip.startswith("ffffffff"):
        return "kernel, other"
    mod = module_of(leaf)
    if mod in ("NIOCore", "NIOPosix", "NIOConcurrencyHelpers", "_NIODataStructures"):
        return "NIO event loop (no caller on the stack)"
    if leaf.startswith(("swift_", "$s", "$S", "_swift", "swift::")):
        return "Swift runtime/stdlib (no caller on the stack)"
    return "other (libc, unknown)"


def samples(lines):
    frames = []
    for line in lines:
        line = line.rstrip("\n")
        if not line.strip():
            if frames:
                yield frames
            frames = []
            continue
        if line.startswith(("\t", " ")) and frames is not None:
            parts = line.strip().split(None, 1)
            if len(parts) == 2:
                frames.append((parts[0], parts[1].split("+0x")[0].strip()))
            elif parts:
                frames.append((parts[0], "[unknown]"))
        else:
            frames = []  # sample header (comm tid)
    if frames:
        yield frames


def demangle(names):
    try:
        out = subprocess.run(["swift", "demangle", "--simplified"], input="\n".join(names), capture_output=True,
                             text=True, timeout=60).stdout.splitlines()
        return out if len(out) == len(names) else names
    except Exception:
        return names


def main():
    top = 10
    if "--top" in sys.argv:
        top = int(sys.argv[sys.argv.index("--top") + 1])
    shares = collections.Counter()
    modules = collections.Counter()  # within a component: the module of the attributing frame
    leaves = collections.Counter()
    total = 0
    for frames in samples(sys.stdin):
        total += 1
        ip, leaf = frames[0]
        leaves[leaf] += 1
        bucket = None
        for _, sym in frames:
            bucket = component_of(sym)
            if bucket:
                modules[(bucket, module_of(sym) or "?")] += 1
                break
        shares[bucket or unattributed_bucket(frames)] += 1
    if total == 0:
        print("no samples")
        return 1
    print(f"samples: {total}\n")
    print("| component | share of server CPU |")
    print("|---|---:|")
    for name, n in shares.most_common():
        print(f"| {name} | {100.0 * n / total:.1f}% |")
    print("\n| component | module | share |")
    print("|---|---|---:|")
    for (comp, mod), n in sorted(modules.items(), key=lambda kv: (-shares[kv[0][0]], -kv[1])):
        if n * 200 >= total:  # >= 0.5%
            print(f"| {comp} | {mod} | {100.0 * n / total:.1f}% |")
    names = [s for s, _ in leaves.most_common(top)]
    pretty = demangle(names)
    print(f"\n| top {top} self symbols | share |")
    print("|---|---:|")
    for (s, n), p in zip(leaves.most_common(top), pretty):
        p = p if len(p) <= 140 else p[:137] + "..."
        print(f"| `{p}` | {100.0 * n / total:.1f}% |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
