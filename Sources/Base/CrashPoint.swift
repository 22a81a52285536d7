#if DEBUG || FLOTILLA_CRASH_POINTS
import Synchronization
#if canImport(Glibc)
import Glibc
#endif
#endif

/// Named places inside a node where a *debug* build (or a crash-point test build: release
/// with `-Xswiftc -DFLOTILLA_CRASH_POINTS`, `Tools/build-crash-points`) can crash its own process on request,
/// for the robustness harness's crash-point fault class (issue #6). A process started with
/// `FLOTILLA_CRASHPOINT=<raw value>` installs a SIGUSR1 handler (`installArmingSignal`);
/// after the signal, the next time the process reaches that point it writes one line to
/// stderr and exits at once (`_exit(86)`: no flush, no shutdown — a crash at that instruction).
/// Plain release builds compile `hit()` and `installArmingSignal()` to nothing. Owns nothing but
/// the process-wide armed flag.
public enum CrashPoint: String, Sendable, CaseIterable {
    /// Before the WAL frame of a poll round is written.
    case walBeforeWrite = "wal.before-write"
    /// The WAL frame is written, not yet fdatasynced (with kill -9 the page cache keeps it;
    /// before-write is the crash that loses the in-flight frame).
    case walAfterWriteBeforeSync = "wal.after-write"
    /// The WAL frame is synced; no message acknowledging it has left yet.
    case walAfterSync = "wal.after-sync"
    /// Committed entries are about to be applied to MVCC.
    case beforeApply = "apply.before"
    /// Committed entries were applied (not yet group-committed to the data file).
    case afterApply = "apply.after"
    /// A range snapshot is being sent (the sender dies mid-stream).
    case snapshotSend = "snapshot.send"
    /// A received range snapshot is about to be ingested.
    case snapshotInstall = "snapshot.install"
    /// A data-file (PageStore) commit has pwritten its pages, not yet fdatasynced them. The
    /// process destroys every write not yet synced (as a power cut could) before exiting.
    case pageStoreAfterWrite = "pagestore.after-write"
    /// A data-file commit has pwritten its meta page, not yet fdatasynced it. The process
    /// destroys every write not yet synced (the meta page) before exiting.
    case pageStoreAfterMetaWrite = "pagestore.after-meta-write"
    /// A router's lease revoke has marked the lease revoking in the system range; no range
    /// has been swept yet (the expiry loop must finish the revoke).
    case leaseRevokeAfterMark = "lease.revoke-after-mark"
    /// A router's lease revoke has swept every range; the lease record is not removed yet.
    case leaseRevokeAfterSweep = "lease.revoke-after-sweep"

    /// Crashes the process if this is the chosen point and the process was armed.
    @inline(__always)
    public func hit() {
        #if DEBUG || FLOTILLA_CRASH_POINTS
        CrashPointState.hit(self)
        #endif
    }

    /// Like `hit()`, but runs `beforeExit` between the stderr line and `_exit` (e.g. to
    /// destroy writes a power cut would lose). `beforeExit` runs only if the process crashes.
    @inline(__always)
    public func hit(beforeExit: () -> Void) {
        #if DEBUG || FLOTILLA_CRASH_POINTS
        CrashPointState.hit(self, beforeExit: beforeExit)
        #endif
    }

    /// Whether this process was started to crash at this point (debug builds with
    /// `FLOTILLA_CRASHPOINT` naming it; armed or not). Lets a layer prepare what its crash
    /// needs (e.g. remember unsynced writes) only in such processes. Always false in release.
    public var isChosen: Bool {
        #if DEBUG || FLOTILLA_CRASH_POINTS
        CrashPointState.chosen == self
        #else
        false
        #endif
    }

    /// Installs the SIGUSR1 handler arming the point named by `FLOTILLA_CRASHPOINT`, if any
    /// (debug builds only). Call once at process start.
    public static func installArmingSignal() {
        #if DEBUG || FLOTILLA_CRASH_POINTS
        CrashPointState.install()
        #endif
    }
}

#if DEBUG || FLOTILLA_CRASH_POINTS
/// The chosen point (from the environment, read once) and the armed flag the signal sets.
enum CrashPointState {
    static let chosen: CrashPoint? = getenv("FLOTILLA_CRASHPOINT").flatMap { CrashPoint(rawValue: String(cString: $0)) }
    static let armed = Atomic<Bool>(false)

    static func install() {
        guard chosen != nil else { return }
        _ = armed.load(ordering: .relaxed)  // initialize the global before any signal can touch it
        signal(SIGUSR1) { _ in CrashPointState.armed.store(true, ordering: .relaxed) }
    }

    static func hit(_ point: CrashPoint, beforeExit: () -> Void = {}) {
        guard point == chosen, armed.load(ordering: .relaxed) else { return }
        let line = Array("crash point \(point.rawValue) reached: exiting\n".utf8)
        _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        beforeExit()
        _exit(86)
    }
}
#endif
