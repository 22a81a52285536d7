import Base
import Foundation
import MVCC
@testable import Node
import RaftCore
import Synchronization
import Testing

extension NodeClusterTests {
    /// Linearizable reads that reach a range's leader in one poll round share one ReadIndex
    /// (one heartbeat round), and a batched read still sees every write acknowledged before
    /// it began.
    @Suite struct ReadBatchingTests {
        /// Starts `count` reads of `request` at `revision` on `host` in one mailbox operation,
        /// so one poll round takes them all; their outcomes in completion order.
        static func readTogether(_ host: NodeHost, _ request: RangeRequest, at revision: Int64, in range: RangeID,
                                 count: Int) async -> [Result<RangeResponse, ProposalError>] {
            let gathered = Shared<[ReadRequest]>([])
            return await withTaskGroup(of: Result<RangeResponse, ProposalError>.self) { group in
                for _ in 0..<count {
                    group.addTask {
                        await withCheckedContinuation { (c: CheckedContinuation<Result<RangeResponse, ProposalError>, Never>) in
                            let q = ReadRequest(requestID: host.nextRequestID(), rangeID: range, epoch: nil, revision: revision,
                                                deadlineNs: NodeHost.nowNs() + 10_000_000_000, purpose: .read(request, { c.resume(returning: $0) }))
                            let all = gathered.value.withLock { g -> [ReadRequest]? in
                                g.append(q)
                                return g.count == count ? g : nil
                            }
                            guard let all else { return }
                            let accepted = host.enqueue { m in
                                guard !m.stopping else { return false }
                                m.reads += all
                                return true
                            }
                            if !accepted { for r in all { r.fail(.proposalDropped("node stopped")) } }
                        }
                    }
                }
                var out: [Result<RangeResponse, ProposalError>] = []
                for await r in group { out.append(r) }
                return out
            }
        }

        @Test func concurrentReadsOfOneRoundShareOneHeartbeatRound() async throws {
            let recorder = HeartbeatRecorder()
            let c = try TestCluster(ranges: 2, wrap: { node, t in RecordingTransport(inner: t, node: node, recorder: recorder) })
            defer { c.shutdown() }
            let range = c.rangeIDs[1]
            #expect(await c.eventually { c.leader(of: range) != nil })
            let key = c.key(range: 1, "k")
            try await c.put(key, Array("v".utf8))
            let leader = try #require(c.leader(of: range))
            let host = try #require(c.hosts[leader])
            recorder.reset()
            let n = 32
            let revision = try await host.freshRevision()
            let answers = await Self.readTogether(host, RangeRequest(key: key), at: revision, in: range, count: n)
            let values = answers.compactMap { try? $0.get().kvs.first?.value }
            #expect(values.count == n, "every read answered: \(answers)")
            #expect(values.allSatisfy { $0 == Array("v".utf8) })
            // One ReadIndex for the round: its heartbeats (and the tick heartbeats while it is
            // pending) all carry the same context. One ReadIndex per read gave n contexts.
            let contexts = recorder.contexts(from: leader, range: range)
            #expect(contexts.count == 1, "\(n) reads of one round used \(contexts.count) ReadIndex heartbeat rounds")
        }

        @Test func readFreshTakesTheReadPointOnTheLeaderAfterTheRequestArrived() async throws {
            let c = try TestCluster(ranges: 2)
            defer { c.shutdown() }
            let range = c.rangeIDs[1]
            #expect(await c.eventually { c.leader(of: range) != nil })
            let key = c.key(range: 1, "f")
            var last: Int64 = 0
            for i in 1...5 { last = try await c.put(key, Array("\(i)".utf8)).revision }
            let leader = try #require(c.leader(of: range))
            let resp = try await c.hosts[leader]!.readFresh(RangeRequest(key: key), in: range, epoch: nil)
            #expect(resp.kvs.first?.value == Array("5".utf8))
            #expect(resp.revision > last, "read point \(resp.revision) above the last acknowledged write \(last)")
            #expect(resp.revision <= c.oracle.lastIssued)
            // A follower refuses at once, naming the leader (no revision is fetched for it).
            let follower = try #require(c.hosts.keys.sorted().first { $0 != leader })
            let fetches = c.oracle.fetches
            await #expect(throws: ProposalError.notLeader(leaderHint: leader)) {
                _ = try await c.hosts[follower]!.readFresh(RangeRequest(key: key), in: range, epoch: nil)
            }
            #expect(c.oracle.fetches == fetches)
        }

        @Test func batchedReadsSeeEveryWriteAcknowledgedBeforeTheyBegan() async throws {
            let seed = UInt64.random(in: 0..<1_000_000)
            var rng = SeededGenerator(seed: seed)
            let c = try TestCluster(ranges: 2)
            defer { c.shutdown() }
            let range = c.rangeIDs[1]
            #expect(await c.eventually { c.leader(of: range) != nil })
            let keys = (0..<4).map { c.key(range: 1, "g\($0)") }
            // The last acknowledged counter per key (each key has one sequential writer).
            let acked = Shared<[Int]>(Array(repeating: 0, count: keys.count))
            let stop = Shared<Bool>(false)
            let writers = Task {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for (k, key) in keys.enumerated() {
                        group.addTask {
                            var i = 0
                            while !stop.value.withLock({ $0 }) {
                                i += 1
                                try await c.propose(.put(PutRequest(key: key, value: Array("\(i)".utf8))), range: range,
                                                    requestID: UInt64(k + 1) << 32 | UInt64(i))
                                acked.value.withLock { $0[k] = i }
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            defer { stop.value.withLock { $0 = true } }
            let bursts = 24
            let transferAt = Int(rng.next() % UInt64(bursts - 4)) + 2
            var served = 0
            let prefix = c.key(range: 1, "g")
            let request = RangeRequest(key: prefix, rangeEnd: prefixEnd(prefix))
            for burst in 0..<bursts {
                if burst == transferAt, let from = c.leader(of: range) {
                    let others = c.hosts.keys.sorted().filter { $0 != from }
                    c.hosts[from]?.transferLeadership(of: range, to: others[Int(rng.next() % UInt64(others.count))])
                }
                guard let leader = c.leader(of: range), let host = c.hosts[leader] else {
                    try? await Task.sleep(for: .milliseconds(20))
                    continue
                }
                let before = acked.value.withLock { $0 }
                // A fresh read point (as the router takes), or none (the latest state).
                var revision: Int64 = 0
                if rng.next() % 4 != 0 {
                    guard let fresh = try? await host.freshRevision() else { continue }
                    revision = fresh
                }
                let count = Int(rng.next() % 12) + 1
                for answer in await Self.readTogether(host, request, at: revision, in: range, count: count) {
                    guard case .success(let resp) = answer else { continue }
                    served += 1
                    for (k, key) in keys.enumerated() {
                        let seen = resp.kvs.first { $0.key == key }.flatMap { Int(String(decoding: $0.value, as: UTF8.self)) } ?? 0
                        #expect(seen >= before[k],
                                "seed \(seed) burst \(burst): read saw \(seen) of key \(k), \(before[k]) was acknowledged before it began")
                    }
                }
                try? await Task.sleep(for: .milliseconds(Int(rng.next() % 15)))
            }
            stop.value.withLock { $0 = true }
            try await writers.value
            #expect(served > bursts, "seed \(seed): only \(served) reads served")
            #expect(acked.value.withLock { $0.allSatisfy { $0 > 0 } }, "seed \(seed): every writer wrote")
        }
    }
}

/// Collects the ReadIndex contexts carried by the heartbeats each node sends, per range.
final class HeartbeatRecorder: Sendable {
    struct Key: Hashable {
        var node: NodeID
        var range: RangeID
    }

    let seen = Mutex<[Key: Set<[UInt8]>]>([:])

    func record(from node: NodeID, _ batches: [NodeID: [RangeMessage]]) {
        var found: [Key: Set<[UInt8]>] = [:]
        for batch in batches.values {
            for m in batch where m.message.type == .heartbeat && !m.message.context.isEmpty {
                found[Key(node: node, range: m.rangeID), default: []].insert(m.message.context)
            }
        }
        guard !found.isEmpty else { return }
        seen.withLock { s in for (k, v) in found { s[k, default: []].formUnion(v) } }
    }

    func reset() { seen.withLock { $0 = [:] } }

    func contexts(from node: NodeID, range: RangeID) -> Set<[UInt8]> {
        seen.withLock { $0[Key(node: node, range: range)] ?? [] }
    }
}

/// A `LocalTransport` that reports what it sends to a `HeartbeatRecorder`.
struct RecordingTransport: RaftTransport {
    let inner: LocalTransport
    let node: NodeID
    let recorder: HeartbeatRecorder

    func send(_ batches: [NodeID: [RangeMessage]]) {
        recorder.record(from: node, batches)
        inner.send(batches)
    }

    func sendSnapshot(to node: NodeID, header: SnapshotHeader, chunks: AsyncThrowingStream<[UInt8], any Error>) async throws {
        try await inner.sendSnapshot(to: node, header: header, chunks: chunks)
    }
}

/// A `Mutex` that closures can share (a class holding it).
final class Shared<T: Sendable>: Sendable {
    let value: Mutex<T>
    init(_ initial: T) { value = Mutex(initial) }
}
