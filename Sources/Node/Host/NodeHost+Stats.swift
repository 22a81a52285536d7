import PageStore

extension NodeHost {
    /// Size of the node's data file and the bytes its live pages use (etcd's `dbSize` and
    /// `dbSizeInUse`).
    public var dataFileSize: (fileBytes: Int64, inUseBytes: Int64) {
        let s = backend.file.stats
        return (Int64(s.fileBytes), Int64((s.pageCount - s.freePages) * s.pageSize))
    }
}
