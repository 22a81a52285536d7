public import Base

/// The traffic mix and shape of a run (etcd's robustness "traffic" profile, adapted).
public struct WorkloadConfig: Sendable {
    public var clients: Int = 8
    public var keys: Int = 10
    public var keyPrefix: String = "key/"
    public var requestTimeout: Duration = .milliseconds(500)
    /// Pause after an error (unknown outcome or refusal) before the next request, so a client
    /// of a dead node does not spin on refused connections.
    public var backoffAfterError: Duration = .milliseconds(50)
    public var leaseTTL: Int64 = 3600
    /// Compaction keeps this many revisions behind the latest seen.
    public var compactionLag: Int64 = 200
    /// Relative weights of the operation kinds.
    public var weights: [OpKind: Int] = [
        .get: 20, .list: 8, .put: 25, .delete: 5, .compareAndSet: 15, .putWithLease: 6, .leaseGrant: 3,
        .leaseRevoke: 3, .compact: 2,
    ]

    /// Key names; by default `keyPrefix` + index. `spread(overRanges:)` names them so they
    /// land in different ranges of a Flotilla cluster.
    public var keyNames: [String]?

    public init() {}

    public func key(_ i: Int) -> String { keyNames?[i % keyNames!.count] ?? keyPrefix + String(i) }

    /// Keys the harness itself writes (the clusters' start-up probe `robustness/ready`): never
    /// part of the workload, left out of reads and watch logs when the workload covers the
    /// whole keyspace.
    public static func isHarnessKey(_ key: String) -> Bool { key.hasPrefix("robustness/") }

    /// Spreads the keys over the user ranges of a Flotilla cluster whose keyspace is pre-split
    /// evenly by first byte into `ranges` ranges (BootstrapConfig): key i starts with a
    /// character whose UTF-8 lead byte lies in the i-th reachable range (ranges holding only
    /// continuation bytes 0x80–0xBF cannot start a valid UTF-8 key and are skipped). Lists and
    /// watches then cover the whole keyspace (`keyPrefix` ""), so they span every range.
    public mutating func spread(overRanges ranges: Int) {
        let leads = Self.rangeLeads(ranges: ranges)
        guard !leads.isEmpty else { return }
        keyPrefix = ""
        keyNames = (0..<keys).map { i in leads[i % leads.count] + "k\(i)" }
    }

    /// One leading character per range (pre-split by first byte) that a UTF-8 key can start in.
    static func rangeLeads(ranges: Int) -> [String] {
        guard ranges >= 1, ranges <= 256 else { return [] }
        var leads: [String] = []
        for r in 0..<ranges {
            let lo = r * 256 / ranges, hi = (r + 1) * 256 / ranges
            guard let byte = (max(lo, 1)..<hi).first(where: { (0x01...0x7F).contains($0) || (0xC2...0xF4).contains($0) }),
                let scalar = Unicode.Scalar(Self.smallestScalar(leadByte: byte))
            else { continue }
            leads.append(String(Character(scalar)))
        }
        return leads
    }

    /// The smallest code point whose UTF-8 encoding starts with `b` (a valid lead byte).
    static func smallestScalar(leadByte b: Int) -> UInt32 {
        switch b {
        case 0x01...0x7F: UInt32(b)
        case 0xC2...0xDF: UInt32(b & 0x1F) << 6
        case 0xE0: 0x800
        case 0xE1...0xEF: UInt32(b & 0x0F) << 12
        case 0xF0: 0x10000
        default: UInt32(b & 0x07) << 18
        }
    }
}

/// The kinds of operation a workload client draws from.
public enum OpKind: String, Sendable, CaseIterable {
    case get, list, put, delete, compareAndSet, putWithLease, leaseGrant, leaseRevoke, compact
}

/// What one sequential client knows and draws its next request from: the mod revisions it
/// last saw, its acknowledged leases, a counter for unique values. A plain value: the
/// client loop owns it.
public struct ClientPlanner: Sendable {
    public let client: Int
    let config: WorkloadConfig
    var rng: SeededGenerator
    var sequence = 0
    var modRevisions: [String: Int64] = [:]
    var leases: [Int64] = []
    var latestRevision: Int64 = 1
    var compacted: Int64 = 0
    let cumulative: [(OpKind, Int)]
    let total: Int

    public init(client: Int, config: WorkloadConfig, seed: UInt64) {
        self.client = client
        self.config = config
        rng = SeededGenerator(seed: seed &+ UInt64(client) &* 0x9E37_79B9)
        var acc = 0
        var c: [(OpKind, Int)] = []
        for k in OpKind.allCases {
            acc += config.weights[k] ?? 0
            c.append((k, acc))
        }
        cumulative = c
        total = acc
    }

    mutating func uniqueValue() -> String {
        sequence += 1
        return "c\(client)-\(sequence)"
    }

    /// The next request.
    public mutating func next() -> OpInput {
        let draw = Int.random(in: 0..<max(total, 1), using: &rng)
        let kind = cumulative.first { draw < $0.1 }?.0 ?? .get
        let key = config.key(Int.random(in: 0..<config.keys, using: &rng))
        switch kind {
        case .get: return .get(key: key)
        case .list: return .list(prefix: config.keyPrefix)
        case .put: return .put(key: key, value: uniqueValue(), lease: 0)
        case .delete: return .delete(key: key)
        case .compareAndSet:
            return .compareAndSet(key: key, expectedModRevision: modRevisions[key] ?? 0, value: uniqueValue())
        case .putWithLease:
            guard let lease = leases.randomElement(using: &rng) else { return .leaseGrant(ttl: config.leaseTTL) }
            return .put(key: key, value: uniqueValue(), lease: lease)
        case .leaseGrant: return .leaseGrant(ttl: config.leaseTTL)
        case .leaseRevoke:
            guard !leases.isEmpty else { return .leaseGrant(ttl: config.leaseTTL) }
            return .leaseRevoke(id: leases.remove(at: Int.random(in: 0..<leases.count, using: &rng)))
        case .compact:
            let target = latestRevision - config.compactionLag
            guard target > compacted else { return .get(key: key) }
            return .compact(revision: target)
        }
    }

    /// Learns from a result (mod revisions for the next compare-and-set, leases, revisions).
    public mutating func observe(_ input: OpInput, _ output: OpOutput) {
        if let r = output.headerRevision { latestRevision = max(latestRevision, r) }
        switch (input, output) {
        case (_, .range(_, let kvs)):
            if case .get(let k) = input { modRevisions[k] = kvs.first?.modRevision ?? 0 }
            if case .list = input {
                for i in 0..<config.keys { modRevisions[config.key(i)] = 0 }
                for kv in kvs { modRevisions[kv.key] = kv.modRevision }
            }
        case (.put(let k, _, _), .put(let r)): modRevisions[k] = r
        case (.compareAndSet(let k, _, _), .compareAndSet(let r, let ok, let kvs)):
            modRevisions[k] = ok ? r : (kvs.first?.modRevision ?? 0)
        case (.delete(let k), .delete): modRevisions[k] = 0
        case (.leaseGrant, .leaseGrant(_, let id)): leases.append(id)
        case (.compact(let r), .compact): compacted = max(compacted, r)
        case (.compact(let r), .failed): compacted = max(compacted, r)
        default: break
        }
    }
}
