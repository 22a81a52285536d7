import Base
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The robustness harness's crash points inside a commit (`Base.CrashPoint`, debug builds
/// only): `pagestore.after-write` (this commit's pages pwritten, not synced) and
/// `pagestore.after-meta-write` (its meta page pwritten, not synced). A process started
/// to crash at one of them records its unsynced writes (`UnsyncedWrites`); when the armed
/// point is reached it overwrites them with garbage and cuts a grown file back — what a
/// power cut may leave — then exits. Tests replace the exit with `crashPointHook`.
extension PageFile {
    /// Whether the file layer must remember unsynced writes in this process.
    static var recordsUnsyncedWrites: Bool {
        CrashPoint.pageStoreAfterWrite.isChosen || CrashPoint.pageStoreAfterMetaWrite.isChosen
    }

    @inline(__always)
    func reach(_ point: CrashPoint) throws(PageStoreError) {
        #if DEBUG || FLOTILLA_CRASH_POINTS
        if let hook = options.crashPointHook {
            try hook(point, io)
            return
        }
        point.hit(beforeExit: {
            let destroyed = (io as? POSIXFileIO)?.destroyUnsyncedWrites() ?? 0
            let line = Array("pagestore: destroyed \(destroyed) unsynced bytes of \(path)\n".utf8)
            _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        })
        #endif
    }
}
