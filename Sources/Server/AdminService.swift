import Base
import GRPCCore
import Logging
import MVCC
import Node
import PeerTransport

/// Serves `AdminProtocol` on the client port: decodes request batches from each stream,
/// runs every request concurrently against the `NodeHost` (put → Raft proposal on this
/// node's leader replica; getLocal/status → this node's replicas), and writes the replies
/// back in batches as they complete. Owns nothing but the routing table snapshot.
struct AdminService: RegistrableRPCService {
    let host: NodeHost
    let router: RangeRouter
    let logger: Logger

    func registerMethods<Transport: ServerTransport>(with r: inout RPCRouter<Transport>) {
        r.registerHandler(
            forMethod: AdminProtocol.propose, deserializer: RawBytesDeserializer(), serializer: RawBytesSerializer()
        ) { request, _ in
            StreamingServerResponse<[UInt8]> { writer in
                try await serve(request.messages, writer)
                return [:]
            }
        }
    }

    func serve(_ inbound: RPCAsyncSequence<[UInt8], any Error>, _ writer: RPCWriter<[UInt8]>) async throws {
        let replies = SendQueue<AdminProtocol.Reply>(capacity: 1 << 20)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await writer.write(AdminProtocol.encode(replies: []))  // greeting: the stream is open
                while let batch = await replies.next() {
                    try await writer.write(AdminProtocol.encode(replies: batch))
                }
            }
            try await withThrowingTaskGroup(of: Void.self) { work in
                for try await frame in inbound {
                    for req in try AdminProtocol.decodeRequests(frame) {
                        work.addTask { replies.push(await handle(req)) }
                    }
                }
                try await work.waitForAll()
            }
            // Let the writer drain what is queued, then end it.
            while replies.count > 0 { try await Task.sleep(for: .milliseconds(1)) }
            replies.close()
            try await group.waitForAll()
        }
    }

    func handle(_ req: AdminProtocol.Request) async -> AdminProtocol.Reply {
        switch req.op {
        case .status:
            let status = host.rangeIDs.map { id in
                AdminProtocol.RangeStatus(rangeID: id, leader: host.leaderHint(of: id),
                                          appliedIndex: host.raftStatus(of: id)?.applied ?? 0,
                                          isLeader: host.isLeader(of: id), quiesced: host.isQuiesced(id))
            }
            return .init(id: req.id, code: .ok, payload: AdminProtocol.encode(status: status))
        case .transferLeader:
            guard req.key.count == 8, req.value.count == 8 else {
                return .init(id: req.id, code: .failed, payload: Array("transferLeader: expected u64 range and node".utf8))
            }
            let range = RangeID(req.key.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }.littleEndian)
            let node = NodeID(req.value.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }.littleEndian)
            guard host.descriptor(of: range) != nil else { return .init(id: req.id, code: .rangeNotFound) }
            guard host.isLeader(of: range) else {
                return .init(id: req.id, code: .notLeader, number: host.leaderHint(of: range).rawValue)
            }
            host.transferLeadership(of: range, to: node)
            return .init(id: req.id, code: .ok)
        case .ranges:
            return .init(id: req.id, code: .ok, payload: AdminProtocol.encode(ranges: rangeInfos()))
        case .getLocal:
            guard let range = router.range(for: req.key), let store = host.store(for: range) else {
                return .init(id: req.id, code: .rangeNotFound)
            }
            do {
                let r = try store.range(RangeRequest(key: req.key))
                guard let kv = r.kvs.first else { return .init(id: req.id, code: .notFound) }
                return .init(id: req.id, code: .ok, number: UInt64(kv.modRevision), payload: kv.value)
            } catch {
                return .init(id: req.id, code: .failed, payload: Array("\(error)".utf8))
            }
        case .put:
            guard let range = router.range(for: req.key) else { return .init(id: req.id, code: .rangeNotFound) }
            do {
                let result = try await host.propose(.put(PutRequest(key: req.key, value: req.value)), to: range)
                guard case .put(let p) = result else { return .init(id: req.id, code: .failed) }
                return .init(id: req.id, code: .ok, number: UInt64(p.revision))
            } catch {
                switch error {
                case .notLeader(let hint): return .init(id: req.id, code: .notLeader, number: hint.rawValue)
                case .rangeNotFound: return .init(id: req.id, code: .rangeNotFound)
                case .timeout: return .init(id: req.id, code: .unknownOutcome, payload: Array("\(error)".utf8))
                case .proposalDropped: return .init(id: req.id, code: .unknownOutcome, payload: Array("\(error)".utf8))
                default: return .init(id: req.id, code: .failed, payload: Array("\(error)".utf8))
                }
            }
        }
    }
}

/// Key → range lookup over this node's range descriptors (static for issue #4: ranges come
/// from the bootstrap). Sorted by start key; binary search. Immutable value.
struct RangeRouter: Sendable {
    let starts: [[UInt8]]
    let ids: [RangeID]
    let ends: [[UInt8]?]

    init(_ descriptors: [RangeDescriptor]) {
        let sorted = descriptors.sorted { $0.startKey.lexicographicallyPrecedes($1.startKey) }
        starts = sorted.map(\.startKey)
        ids = sorted.map(\.rangeID)
        ends = sorted.map(\.endKey)
    }

    func range(for key: [UInt8]) -> RangeID? {
        var lo = 0
        var hi = starts.count
        while lo < hi {  // first start > key
            let mid = (lo + hi) / 2
            if key.lexicographicallyPrecedes(starts[mid]) { hi = mid } else { lo = mid + 1 }
        }
        let i = lo - 1
        guard i >= 0 else { return nil }
        if let end = ends[i], !key.lexicographicallyPrecedes(end) { return nil }
        return ids[i]
    }
}
