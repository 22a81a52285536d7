#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
@testable import PageStore

/// A fresh temporary directory per test, removed by `cleanup()`.
struct TempDir {
    let path: String

    init(_ name: String = #function) {
        var template = Array("/tmp/pagestore-test-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = String(cString: p!)
    }

    func file(_ name: String = "data.db") -> String { path + "/" + name }

    func cleanup() {
        if let d = opendir(path) {
            while let e = readdir(d) {
                let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
                if name != "." && name != ".." { unlink(path + "/" + name) }
            }
            closedir(d)
        }
        rmdir(path)
    }
}

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

func fileSize(_ path: String) -> Int {
    var st = stat()
    return stat(path, &st) == 0 ? Int(st.st_size) : -1
}

/// Copies a file byte for byte (for crash and corruption tests).
func copyFile(_ from: String, _ to: String) {
    let src = open(from, O_RDONLY)
    let dst = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    var buf = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = buf.withUnsafeMutableBytes { read(src, $0.baseAddress!, $0.count) }
        if n <= 0 { break }
        _ = buf.withUnsafeBytes { write(dst, $0.baseAddress!, n) }
    }
    close(src)
    close(dst)
}

/// Overwrites bytes of a file at `offset`.
func patchFile(_ path: String, at offset: Int, _ data: [UInt8]) {
    let fd = open(path, O_WRONLY)
    _ = data.withUnsafeBytes { pwrite(fd, $0.baseAddress!, $0.count, off_t(offset)) }
    close(fd)
}

func readFile(_ path: String, at offset: Int, count: Int) -> [UInt8] {
    let fd = open(path, O_RDONLY)
    var buf = [UInt8](repeating: 0, count: count)
    let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, count, off_t(offset)) }
    close(fd)
    return Array(buf.prefix(max(n, 0)))
}

func truncateFile(_ path: String, to size: Int) { _ = truncate(path, off_t(size)) }

/// All entries of a bucket as (key, value) pairs, via scan.
func dump(_ b: Bucket) throws -> [([UInt8], [UInt8])] {
    var out: [([UInt8], [UInt8])] = []
    try b.scan(from: nil, to: nil) { k, v in out.append(([UInt8](k), [UInt8](v))); return true }
    return out
}
