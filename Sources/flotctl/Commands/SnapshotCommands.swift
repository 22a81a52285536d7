import ArgumentParser
import Base
import Foundation
import GRPCCore
import Proto
import Server

/// `flotctl snapshot save FILE` (Maintenance.Snapshot — a whole-cluster backup at one
/// revision — written to FILE.part and renamed when complete), `snapshot restore FILE`
/// (one node's data directory of a new cluster, etcdctl's flags) and `snapshot status FILE`.
/// The file format is `ClusterBackup` (docs/architecture.md, "Cluster backup").
struct SnapshotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot", abstract: "Manages etcd node snapshots.", subcommands: [Save.self, Restore.self, Status.self])

    struct Save: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "save", abstract: "Stores an etcd node backend snapshot to a given file.")
        @OptionGroup var global: GlobalOptions
        @Argument var file: String

        /// Streams the snapshot into `file`; returns the bytes written.
        static func save(_ s: EtcdSession, to file: String) async throws -> Int {
            let part = file + ".part"
            _ = FileManager.default.createFile(atPath: part, contents: nil)
            guard let handle = FileHandle(forWritingAtPath: part) else { throw CLIError("could not open \(part)") }
            let total: Int
            do {
                total = try await s.maintenance.snapshot(Etcdserverpb_SnapshotRequest()) { response in
                    var n = 0
                    for try await chunk in response.messages {
                        try handle.write(contentsOf: chunk.blob)
                        n += chunk.blob.count
                    }
                    return n
                }
                try handle.synchronize()
                try handle.close()
            } catch {
                try? handle.close()
                try? FileManager.default.removeItem(atPath: part)
                throw error
            }
            // etcd's stream is page-aligned content + a 32-byte SHA-256 trailer.
            guard total >= 32, (total - 32) % 512 == 0 else {
                try? FileManager.default.removeItem(atPath: part)
                throw CLIError("snapshot stream has an unexpected size (\(total) bytes)")
            }
            if FileManager.default.fileExists(atPath: file) { try FileManager.default.removeItem(atPath: file) }
            try FileManager.default.moveItem(atPath: part, toPath: file)
            return total
        }

        func run() async throws {
            let cmd = self
            do {
                // A snapshot may take longer than a short command: bounded by the dial timeout only.
                _ = try await global.withSession(longRunning: true) { try await Save.save($0, to: cmd.file) }
                Console.out("Snapshot saved at \(file)\n")
            } catch {
                Console.fail(error)
            }
        }
    }

    struct Restore: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "restore", abstract: "Restores an etcd member snapshot to an etcd directory.",
            discussion: """
                Writes the data directory of one member of a NEW cluster from a snapshot file: run it once per \
                member with the same --initial-cluster (members named node-<ID>), then start `flotilla serve` \
                on each directory with that node ID. The file's SHA-256 is checked first.
                """)
        @OptionGroup var global: GlobalOptions
        @Argument var file: String
        @Option(name: .customLong("data-dir"), help: "Path to the data directory (default: <name>.flotilla).") var dataDir: String = ""
        @Option(name: .customLong("name"), help: "Human-readable name for this member (node-<ID>).") var name: String = "node-1"
        @Option(name: .customLong("initial-cluster"), help: "Initial cluster configuration for restore bootstrap.")
        var initialCluster: String = "node-1=http://localhost:2380"
        @Option(name: .customLong("initial-cluster-token"), help: "Initial cluster token (accepted for etcdctl compatibility; Flotilla keeps none).")
        var initialClusterToken: String = "etcd-cluster"
        @Option(name: .customLong("initial-advertise-peer-urls"), help: "List of this member's peer URLs to advertise to the rest of the cluster.")
        var advertisePeerURLs: String = "http://localhost:2380"

        static func render(_ s: ClusterRestore.Summary, dataDir: String, name: String) -> String {
            "Snapshot restored to \(dataDir) for \(name): revision \(s.revision), \(s.ranges) ranges, \(s.keys) keys, "
                + "\(s.leases) leases; new revisions start above \(s.oracleMark)\n"
        }

        func run() {
            do {
                let dir = dataDir.isEmpty ? "\(name).flotilla" : dataDir
                let urls = advertisePeerURLs.split(separator: ",").map(String.init)
                let summary = try ClusterRestore.restore(file: file, dataDir: dir, name: name, initialCluster: initialCluster,
                                                         advertisePeerURLs: urls)
                Console.out(Restore.render(summary, dataDir: dir, name: name))
            } catch {
                Console.fail(error)
            }
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "status", abstract: "Gets backend snapshot status of a given file.")
        @OptionGroup var global: GlobalOptions
        @Argument var file: String

        /// What etcdctl shows (hash, revision, total keys, total size) plus ranges and leases.
        struct Info: Equatable {
            var hash: UInt32
            var revision: Int64
            var keys: UInt64
            var size: UInt64
            var ranges: UInt32
            var leases: UInt32
        }

        /// Verifies the digest and reads the whole file. `hash` is the first 4 bytes of the SHA-256.
        static func info(_ file: String) throws -> Info {
            let (size, digest) = try ClusterBackupFile.verify(file)
            let reader = try ClusterBackupFile.Reader(path: file, size: size)
            while try reader.next() != nil {}
            let c = reader.counted
            let hash = digest.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            return Info(hash: hash, revision: reader.header.revision, keys: c.keys, size: size, ranges: c.ranges, leases: c.leases)
        }

        /// go-humanize's `Bytes` (SI units), as etcdctl prints sizes.
        static func humanBytes(_ n: UInt64) -> String {
            if n < 10 { return "\(n) B" }
            let units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"]
            let e = min(Int(log(Double(n)) / log(1000.0)), units.count - 1)
            let v = (Double(n) / pow(1000, Double(e)) * 10).rounded() / 10
            return String(format: v < 10 ? "%.1f" : "%.0f", v) + " " + units[e]
        }

        static func render(_ i: Info, _ format: OutputFormat) -> String {
            switch format {
            case .simple:
                return "\(String(i.hash, radix: 16)), \(i.revision), \(i.keys), \(humanBytes(i.size)), \(i.ranges) ranges, \(i.leases) leases\n"
            case .json:
                return "{\"hash\":\(i.hash),\"revision\":\(i.revision),\"totalKey\":\(i.keys),\"totalSize\":\(i.size),"
                    + "\"ranges\":\(i.ranges),\"leases\":\(i.leases)}\n"
            case .table:
                return TableFormat.render(
                    header: ["HASH", "REVISION", "TOTAL KEYS", "TOTAL SIZE", "RANGES", "LEASES"],
                    rows: [[String(i.hash, radix: 16), "\(i.revision)", "\(i.keys)", humanBytes(i.size), "\(i.ranges)", "\(i.leases)"]])
            }
        }

        func run() {
            do { Console.out(Status.render(try Status.info(file), global.writeOut)) } catch { Console.fail(error) }
        }
    }
}
