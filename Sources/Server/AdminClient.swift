public import Base
import GRPCCore
import GRPCNIOTransportHTTP2
public import PeerTransport
import Synchronization

/// A client of one node's Admin stream: one long-lived bidirectional stream; concurrent
/// callers' requests are batched onto it and matched to replies by ID. Reconnects when
/// the stream breaks (callers waiting at that moment get `AdminClientError.streamBroken`,
/// i.e. an unknown outcome). Owns the gRPC client, the pending calls and the send queue.
public final class AdminClient: Sendable {
    public let address: PeerTransportConfig.Address
    let client: GRPCClient<HTTP2ClientTransport.Posix>
    let outbound = SendQueue<AdminProtocol.Request>(capacity: 1 << 20)
    let pending = Mutex<[UInt64: CheckedContinuation<AdminProtocol.Reply, any Error>]>([:])
    let nextID = Atomic<UInt64>(1)
    let runner = Mutex<Task<Void, Never>?>(nil)
    /// Whether the stream is open (the server greets each stream with an empty batch).
    let connected = Atomic<Bool>(false)

    public init(address: PeerTransportConfig.Address) throws {
        self.address = address
        let transport = try HTTP2ClientTransport.Posix(
            target: .ipv4(address: address.host, port: address.port), transportSecurity: .plaintext,
            config: .defaults { c in
                c.backoff = .init(initial: .milliseconds(50), max: .milliseconds(500), multiplier: 2, jitter: 0.2)
            })
        client = GRPCClient(transport: transport)
        let task = Task { [self] in await run() }
        runner.withLock { $0 = task }
    }

    /// Closes the stream; pending calls fail.
    public func close() {
        let t = runner.withLock { $0 }
        t?.cancel()
        outbound.close()
        client.beginGracefulShutdown()
        failAll(AdminClientError.closed)
    }

    func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { try? await self.client.runConnections() }
            group.addTask {
                while !Task.isCancelled {
                    do { try await self.stream() } catch {}
                    self.connected.store(false, ordering: .releasing)
                    self.failAll(AdminClientError.streamBroken)
                    if Task.isCancelled { break }
                    try? await Task.sleep(for: .milliseconds(50))
                }
                self.client.beginGracefulShutdown()
            }
        }
    }

    func stream() async throws {
        var options = CallOptions.defaults
        options.waitForReady = true
        let request = StreamingClientRequest<[UInt8]> { writer in
            while let batch = await self.outbound.next() {
                try await writer.write(AdminProtocol.encode(requests: batch))
            }
        }
        try await client.bidirectionalStreaming(
            request: request, descriptor: AdminProtocol.propose, serializer: RawBytesSerializer(),
            deserializer: RawBytesDeserializer(), options: options
        ) { response in
            for try await frame in response.messages {
                self.connected.store(true, ordering: .releasing)
                for reply in try AdminProtocol.decodeReplies(frame) {
                    let c = self.pending.withLock { $0.removeValue(forKey: reply.id) }
                    c?.resume(returning: reply)
                }
            }
        }
    }

    func failAll(_ error: AdminClientError) {
        let all = pending.withLock { p in
            defer { p = [:] }
            return p
        }
        for c in all.values { c.resume(throwing: error) }
    }

    /// Sends one request and waits for its reply (or `timeout`).
    public func call(_ op: AdminProtocol.Op, key: [UInt8] = [], value: [UInt8] = [],
                     timeout: Duration = .seconds(10)) async throws -> AdminProtocol.Reply {
        // Never queue on a dead stream: the caller must know the request was not sent.
        var waited = 0
        while !connected.load(ordering: .acquiring) {
            guard waited < 500 else { throw AdminClientError.unavailable }
            try await Task.sleep(for: .milliseconds(10))
            waited += 10
        }
        let id = nextID.add(1, ordering: .relaxed).newValue
        return try await withThrowingTaskGroup(of: AdminProtocol.Reply.self) { group in
            group.addTask {
                try await withCheckedThrowingContinuation { c in
                    self.pending.withLock { $0[id] = c }
                    self.outbound.push(AdminProtocol.Request(id: id, op: op, key: key, value: value))
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                let c = self.pending.withLock { $0.removeValue(forKey: id) }
                c?.resume(throwing: AdminClientError.timeout)
                throw AdminClientError.timeout
            }
            let first = try await group.next()!
            group.cancelAll()
            return first
        }
    }

    /// This node's ranges.
    /// Asks this node (the leader of `range`) to hand its leadership to `node`.
    public func transferLeader(of range: RangeID, to node: NodeID, timeout: Duration = .seconds(5)) async throws
        -> AdminProtocol.Reply
    {
        func le(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        return try await call(.transferLeader, key: le(range.rawValue), value: le(node.rawValue), timeout: timeout)
    }

    public func status(timeout: Duration = .seconds(5)) async throws -> [AdminProtocol.RangeStatus] {
        let r = try await call(.status, timeout: timeout)
        return try AdminProtocol.decodeStatus(r.payload)
    }
}

extension AdminClient {
    /// This node's replicas with span, replicas, leader, live keys and bytes.
    public func ranges(timeout: Duration = .seconds(10)) async throws -> [AdminProtocol.RangeInfo] {
        let r = try await call(.ranges, timeout: timeout)
        return try AdminProtocol.decodeRanges(r.payload)
    }
}

public enum AdminClientError: Error, Sendable, Equatable {
    case timeout
    case streamBroken
    case closed
    /// Not connected: the request was not sent.
    case unavailable
    case failed(AdminProtocol.Code, String)
}

/// Puts through whichever node leads the key's range: starts at a cached guess (per first
/// key byte), follows `notLeader` hints, and tries other nodes when a node is down. Owns
/// one `AdminClient` per node and the leader cache.
public final class ClusterClient: Sendable {
    public let clients: [NodeID: AdminClient]
    let leaderCache = Mutex<[UInt8: NodeID]>([:])

    public init(addresses: [NodeID: PeerTransportConfig.Address]) throws {
        var c: [NodeID: AdminClient] = [:]
        for (n, a) in addresses { c[n] = try AdminClient(address: a) }
        clients = c
    }

    public func close() { for c in clients.values { c.close() } }

    /// Puts and returns the revision; throws if the write is not acknowledged in time
    /// (its outcome may then be unknown).
    public func put(_ key: [UInt8], _ value: [UInt8], deadline: Duration = .seconds(15)) async throws -> UInt64 {
        let nodes = clients.keys.sorted()
        let bucket = key.first ?? 0
        var target = leaderCache.withLock { $0[bucket] } ?? nodes[Int(bucket) % nodes.count]
        let end = ContinuousClock.now + deadline
        var attempt = 0
        while ContinuousClock.now < end {
            attempt += 1
            do {
                let r = try await clients[target]!.call(.put, key: key, value: value, timeout: .seconds(6))
                switch r.code {
                case .ok:
                    leaderCache.withLock { $0[bucket] = target }
                    return r.number
                case .notLeader where r.number != 0 && clients[NodeID(r.number)] != nil && NodeID(r.number) != target:
                    target = NodeID(r.number)
                    continue
                case .unknownOutcome:
                    throw AdminClientError.failed(r.code, String(decoding: r.payload, as: UTF8.self))
                default:
                    break  // no leader known yet, or not found: back off and try the next node
                }
            } catch AdminClientError.unavailable {
                // Not sent: safe to try another node.
            } catch AdminClientError.timeout {
                throw AdminClientError.timeout
            } catch AdminClientError.streamBroken {
                // The node died mid-call: outcome unknown.
                throw AdminClientError.streamBroken
            } catch let e as AdminClientError {
                throw e
            }
            target = nodes[(nodes.firstIndex(of: target)! + 1) % nodes.count]
            try await Task.sleep(for: .milliseconds(min(20 * attempt, 200)))
        }
        throw AdminClientError.timeout
    }
}
