/// The pages of one committed state seen through one mapping: every page access of a
/// transaction goes through here, which bounds page ids by the committed `pageCount` and
/// verifies checksums (see `PageFileOptions.ChecksumVerification`).
struct Snapshot {
    let mapping: Mapping
    let meta: Meta
    let verifyAlways: Bool

    var pageSize: Int { mapping.pageSize }

    /// The page run starting at `id`, validated, without a type check.
    @inline(__always) func page(_ id: PageID) throws(PageStoreError) -> PageRef {
        guard id >= 2, id < meta.pageCount else {
            throw .corruptPage(id, reason: "page id out of range [2, \(meta.pageCount))")
        }
        let p = PageRef(base: mapping.base + Int(id) * pageSize)
        if verifyAlways || !mapping.isVerified(id) { try verify(p, id) }
        return p
    }

    /// A branch or leaf page.
    @inline(__always) func nodePage(_ id: PageID) throws(PageStoreError) -> PageRef {
        let p = try page(id)
        let t = p.rawType
        guard t == PageType.leaf.rawValue || t == PageType.branch.rawValue else {
            throw .corruptPage(id, reason: "expected a branch or leaf page, found type \(t)")
        }
        return p
    }

    /// The value bytes of the blob run at `id` (must be `length` bytes long).
    func blob(_ id: PageID, length: Int) throws(PageStoreError) -> UnsafeRawBufferPointer {
        let p = try page(id)
        guard p.rawType == PageType.blob.rawValue, p.length == length else {
            throw .corruptPage(id, reason: "expected a blob of \(length) bytes, found type \(p.rawType) length \(p.length)")
        }
        return UnsafeRawBufferPointer(start: p.base + PageLayout.headerSize, count: length)
    }

    private func verify(_ p: PageRef, _ id: PageID) throws(PageStoreError) {
        guard p.id == id else { throw .corruptPage(id, reason: "header names page \(p.id)") }
        let overflow = p.overflow
        guard id + UInt64(overflow) < meta.pageCount else {
            throw .corruptPage(id, reason: "run of \(overflow + 1) pages passes the end of the file")
        }
        let checked = checkedLength(type: p.rawType, overflow: overflow, length: p.length, pageSize: pageSize)
        guard checked >= PageLayout.headerSize, checked <= (overflow + 1) * pageSize else {
            throw .corruptPage(id, reason: "length \(p.length) does not fit its run")
        }
        let crc = CRC32CBridge.checksum(UnsafeRawBufferPointer(start: p.base + 4, count: checked - 4))
        guard crc == p.checksum else { throw .corruptPage(id, reason: "checksum mismatch") }
        let t = p.rawType
        if t == PageType.leaf.rawValue || t == PageType.branch.rawValue {
            guard overflow == 0, p.elementsInBounds(pageSize: pageSize) else {
                throw .corruptPage(id, reason: "elements out of bounds")
            }
        }
        if !verifyAlways { mapping.markVerified(id) }
    }
}
