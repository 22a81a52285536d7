import Base

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
        #if DEBUG
        if let hook = options.crashPointHook {
            try hook(point, io)
            return
        }
        point.hit(beforeExit: { (io as? POSIXFileIO)?.destroyUnsyncedWrites() })
        #endif
    }
}
