import API
import Base
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import NIOCore
import NIOHTTP2
import PeerTransport
import Proto
@testable import Server
import SwiftProtobuf
import Synchronization
import Testing

/// `LeanServerTransport` under `GRPCServer` with the etcd services over an in-memory store:
/// hot KV calls answered in the transport, every other stream bridged to `GRPCServer`. Frame
/// level tests use `RawHTTP2Client` (random DATA splits, RST_STREAM, a reader that stops);
/// the rest use grpc-swift-2's client.
/// A hang (one, unexplained, in session 9) fails a test after 2 minutes instead of stalling the suite.
@Suite(.timeLimit(.minutes(2))) struct LeanServerTransportTests {
    /// What the test streams saw.
    final class Probe: Sendable {
        let holdStarted = Atomic<Int>(0)
        let holdCancelled = Atomic<Int>(0)
        let floodWritten = Atomic<Int>(0)
    }

    /// `/t.S/Hold` (bidi): echoes every message; counts starts and fired cancellation handles.
    /// `/t.S/Flood` (server streaming): writes 1 KiB messages as fast as the writer lets it.
    struct TestStreams: RegistrableRPCService {
        let probe: Probe
        static let hold = MethodDescriptor(fullyQualifiedService: "t.S", method: "Hold")
        static let flood = MethodDescriptor(fullyQualifiedService: "t.S", method: "Flood")

        func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
            let probe = self.probe
            router.registerHandler(forMethod: Self.hold, deserializer: RawBytesDeserializer(),
                                   serializer: RawBytesSerializer()) { request, context in
                _ = probe.holdStarted.wrappingAdd(1, ordering: .relaxed)
                return StreamingServerResponse { writer in
                    try await withRPCCancellationHandler {
                        for try await m in request.messages { try await writer.write(m) }
                    } onCancelRPC: {
                        _ = probe.holdCancelled.wrappingAdd(1, ordering: .relaxed)
                    }
                    return [:]
                }
            }
            router.registerHandler(forMethod: Self.flood, deserializer: RawBytesDeserializer(),
                                   serializer: RawBytesSerializer()) { _, _ in
                StreamingServerResponse { writer in
                    let chunk = [UInt8](repeating: 0x42, count: 1024)
                    for _ in 0..<50_000 {
                        try await writer.write(chunk)
                        _ = probe.floodWritten.wrappingAdd(1, ordering: .relaxed)
                    }
                    return [:]
                }
            }
        }
    }

    static func withLean(_ probe: Probe = Probe(),
                         _ body: @Sendable (Int, ClientPort) async throws -> Void) async throws {
        let backend = try SingleStoreBackend.inMemory()
        let run = Task { await backend.run() }
        let services = EtcdServer.services(kv: backend, watch: backend, lease: backend, cluster: backend,
                                           maintenance: backend) + [TestStreams(probe: probe)]
        let clientPort = try ClientPort.make(transport: "lean", host: "127.0.0.1", port: 0, keepaliveMinTimeMs: 5_000,
                                             services: services)
        let serve = Task { try await clientPort.serve() }
        let port = try await clientPort.listeningPort()
        var failure: (any Error)?
        do { try await body(port, clientPort) } catch { failure = error }
        clientPort.beginGracefulShutdown()
        serve.cancel()
        _ = await serve.result
        run.cancel()
        if let failure { throw failure }
    }

    static func withClient(_ port: Int, _ body: @Sendable (GRPCClient<HTTP2ClientTransport.Posix>) async throws -> Void) async throws {
        let client = GRPCClient(transport: try HTTP2ClientTransport.Posix(
            target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext))
        let run = Task { try? await client.runConnections() }
        var failure: (any Error)?
        do { try await body(client) } catch { failure = error }
        client.beginGracefulShutdown()
        await run.value
        if let failure { throw failure }
    }

    static func watchCreate(_ key: String) -> [UInt8] {
        var r = Etcdserverpb_WatchRequest()
        r.createRequest.key = Data(key.utf8)
        return try! r.serializedBytes()
    }

    static func put(_ key: String, _ value: String) -> [UInt8] {
        var p = Etcdserverpb_PutRequest()
        p.key = Data(key.utf8)
        p.value = Data(value.utf8)
        return try! p.serializedBytes()
    }

    static func watchResponses(_ client: RawHTTP2Client, _ id: HTTP2StreamID) -> [Etcdserverpb_WatchResponse] {
        client.messages(on: id).compactMap { try? Etcdserverpb_WatchResponse(serializedBytes: $0) }
    }

    /// Watches (bridged, bidi) and puts (hot path) on one connection, every request cut into
    /// DATA frames at random points, many streams open at once: each watch reports its key's
    /// put. Seeds are printed; rerun one with LEAN_SPLIT_SEED=N.
    @Test func randomFrameSplitsAndManyStreams() async throws {
        let seeds: [UInt64] = ProcessInfo.processInfo.environment["LEAN_SPLIT_SEED"].flatMap(UInt64.init).map { [$0] }
            ?? [UInt64(UInt32.random(in: 1...UInt32.max)), 1, 2]
        for seed in seeds {
            print("LeanServerTransportTests.randomFrameSplitsAndManyStreams seed \(seed)")
            try await Self.withLean { port, _ in
                var rng = SeededGenerator(seed: seed)
                let client = try await RawHTTP2Client.connect(port: port)
                defer { Task { await client.close() } }
                let watches = 40
                var frames: [HTTP2Frame] = []
                for i in 0..<watches {
                    let id = HTTP2StreamID(1 + 2 * i)
                    frames.append(RawHTTP2Client.requestHeaders(id, path: "/etcdserverpb.Watch/Watch"))
                    frames += RawHTTP2Client.dataFrames(id, [Self.watchCreate("k\(i)")], endStream: false, using: &rng)
                }
                frames.shuffleStreams(using: &rng)
                try await client.send(frames)
                let created = try await client.wait {  _ in
                    (0..<watches).allSatisfy { i in Self.watchResponses(client, HTTP2StreamID(1 + 2 * i)).contains { $0.created } }
                }
                #expect(created, "seed \(seed): not every watch was created")
                var puts: [HTTP2Frame] = []
                for i in 0..<watches {
                    let id = HTTP2StreamID(1 + 2 * (watches + i))
                    puts.append(RawHTTP2Client.requestHeaders(id, path: "/etcdserverpb.KV/Put"))
                    puts += RawHTTP2Client.dataFrames(id, [Self.put("k\(i)", "v\(i)")], endStream: true, using: &rng)
                }
                puts.shuffleStreams(using: &rng)
                try await client.send(puts)
                let delivered = try await client.wait { _ in
                    (0..<watches).allSatisfy { i in
                        Self.watchResponses(client, HTTP2StreamID(1 + 2 * i)).flatMap(\.events).contains {
                            String(decoding: $0.kv.key, as: UTF8.self) == "k\(i)" && String(decoding: $0.kv.value, as: UTF8.self) == "v\(i)"
                        }
                    }
                }
                #expect(delivered, "seed \(seed): a watch missed its put")
                // A put's answer and its watch event travel on different streams: either may
                // reach the client first (answers are flushed once per loop tick).
                let answered = try await client.wait { _ in
                    (0..<watches).allSatisfy { i in client.status(on: HTTP2StreamID(1 + 2 * (watches + i))) != nil }
                }
                #expect(answered, "seed \(seed): a put was not answered")
                for i in 0..<watches {
                    let id = HTTP2StreamID(1 + 2 * (watches + i))
                    #expect(client.status(on: id) == 0, "seed \(seed): put \(i) status \(String(describing: client.status(on: id)))")
                    let events = Self.watchResponses(client, HTTP2StreamID(1 + 2 * i)).flatMap(\.events)
                    #expect(events.count == 1, "seed \(seed): watch \(i) saw \(events.count) events")
                }
            }
        }
    }

    /// A client RST_STREAM on an open bidi stream fires the RPC's cancellation handle and ends
    /// it; a reset Watch leaves the connection serving.
    @Test func resetMidStreamCancelsTheRPC() async throws {
        let probe = Probe()
        try await Self.withLean(probe) { port, _ in
            let client = try await RawHTTP2Client.connect(port: port)
            defer { Task { await client.close() } }
            var rng = SeededGenerator(seed: 11)
            let hold = HTTP2StreamID(1), watch = HTTP2StreamID(3)
            try await client.send([RawHTTP2Client.requestHeaders(hold, path: "/t.S/Hold")]
                                  + RawHTTP2Client.dataFrames(hold, [[1, 2, 3]], endStream: false, using: &rng)
                                  + [RawHTTP2Client.requestHeaders(watch, path: "/etcdserverpb.Watch/Watch")]
                                  + RawHTTP2Client.dataFrames(watch, [Self.watchCreate("r")], endStream: false, using: &rng))
            #expect(try await client.wait { _ in client.messages(on: hold) == [[1, 2, 3]] })
            #expect(try await client.wait { _ in Self.watchResponses(client, watch).contains { $0.created } })
            try await client.send([HTTP2Frame(streamID: hold, payload: .rstStream(.cancel)),
                                   HTTP2Frame(streamID: watch, payload: .rstStream(.cancel))])
            let cancelled = try await client.wait { _ in probe.holdCancelled.load(ordering: .relaxed) == 1 }
            #expect(cancelled, "the Hold RPC's cancellation handle did not fire after RST_STREAM")
            // The connection still serves: a put on the hot path and a new bridged stream.
            let put = HTTP2StreamID(5), hold2 = HTTP2StreamID(7)
            try await client.send([RawHTTP2Client.requestHeaders(put, path: "/etcdserverpb.KV/Put")]
                                  + RawHTTP2Client.dataFrames(put, [Self.put("r", "1")], endStream: true, using: &rng)
                                  + [RawHTTP2Client.requestHeaders(hold2, path: "/t.S/Hold")]
                                  + RawHTTP2Client.dataFrames(hold2, [[9]], endStream: true, using: &rng))
            #expect(try await client.wait { _ in client.status(on: put) == 0 && client.status(on: hold2) == 0 })
            #expect(client.messages(on: hold2) == [[9]])
            #expect(Self.watchResponses(client, watch).flatMap(\.events).isEmpty, "a reset watch still delivered")
        }
    }

    /// A client that stops reading (never credits the stream window) must not make the server
    /// buffer without bound: the flood's writer waits. Fails if writes never wait.
    @Test func slowReaderBoundsOutboundBuffering() async throws {
        let probe = Probe()
        try await Self.withLean(probe) { port, _ in
            let client = try await RawHTTP2Client.connect(port: port, initialWindow: 65_535)
            defer { Task { await client.close() } }
            var rng = SeededGenerator(seed: 5)
            let id = HTTP2StreamID(1)
            try await client.send([RawHTTP2Client.requestHeaders(id, path: "/t.S/Flood")]
                                  + RawHTTP2Client.dataFrames(id, [[0]], endStream: true, using: &rng))
            _ = try await client.wait(timeout: .seconds(3)) { _ in false }
            let written = probe.floodWritten.load(ordering: .relaxed)
            // One window (64 KiB) on the wire plus the 256 KiB budget: ~320 messages of 1 KiB.
            let bound = (65_535 + LeanBridgedStream.outboundBudgetBytes) / 1029 + 8
            print("slow reader: \(written) messages written (bound \(bound))")
            #expect(written > 10, "the flood did not start")
            #expect(written <= bound, "a stopped reader let the server buffer \(written) messages")
            // Credit the stream: the flood resumes.
            try await client.send([HTTP2Frame(streamID: id, payload: .windowUpdate(windowSizeIncrement: 4 << 20))])
            let resumed = try await client.wait { _ in probe.floodWritten.load(ordering: .relaxed) > written + 100 }
            #expect(resumed, "the flood did not resume after WINDOW_UPDATE")
            try await client.send([HTTP2Frame(streamID: id, payload: .rstStream(.cancel))])
        }
    }

    /// Graceful shutdown with a bidi stream open: GOAWAY, the open stream keeps working and
    /// finishes, new connections are refused; serve() returns once it has finished.
    @Test func gracefulShutdownLetsOpenStreamsFinish() async throws {
        let backend = try SingleStoreBackend.inMemory()
        let run = Task { await backend.run() }
        defer { run.cancel() }
        let probe = Probe()
        let clientPort = try ClientPort.make(
            transport: "lean", host: "127.0.0.1", port: 0, keepaliveMinTimeMs: 5_000,
            services: EtcdServer.services(kv: backend, watch: backend, lease: backend, cluster: backend, maintenance: backend)
                + [TestStreams(probe: probe)])
        let serve = Task { try await clientPort.serve() }
        let port = try await clientPort.listeningPort()
        let client = try await RawHTTP2Client.connect(port: port)
        var rng = SeededGenerator(seed: 3)
        let hold = HTTP2StreamID(1), watch = HTTP2StreamID(3)
        try await client.send([RawHTTP2Client.requestHeaders(hold, path: "/t.S/Hold")]
                              + RawHTTP2Client.dataFrames(hold, [[1]], endStream: false, using: &rng)
                              + [RawHTTP2Client.requestHeaders(watch, path: "/etcdserverpb.Watch/Watch")]
                              + RawHTTP2Client.dataFrames(watch, [Self.watchCreate("g")], endStream: false, using: &rng))
        #expect(try await client.wait { _ in client.messages(on: hold) == [[1]] && Self.watchResponses(client, watch).contains { $0.created } })
        clientPort.beginGracefulShutdown()
        #expect(try await client.wait { _ in client.sawGoAway() }, "no GOAWAY")
        // New connections are refused once the listener is closed.
        try await Task.sleep(for: .milliseconds(200))
        var refused = false
        do {
            let late = try await RawHTTP2Client.connect(port: port)
            await late.close()
        } catch {
            refused = true
        }
        #expect(refused, "a new connection was accepted after graceful shutdown began")
        // The open streams still work and finish.
        try await client.send(RawHTTP2Client.dataFrames(hold, [[2]], endStream: true, using: &rng))
        #expect(try await client.wait { _ in client.status(on: hold) == 0 })
        #expect(client.messages(on: hold) == [[1], [2]])
        try await client.send([HTTP2Frame(streamID: watch, payload: .rstStream(.cancel))])
        // With both streams done the connection closes and serve() returns.
        let done = Task { _ = await serve.result }
        let finished = try await client.wait(timeout: .seconds(30)) { _ in !client.channel.isActive }
        #expect(finished, "the connection stayed open after its streams finished")
        let timeout = Task { try await Task.sleep(for: .seconds(30)); serve.cancel() }
        await done.value
        timeout.cancel()
        await client.close()
    }

    /// Losing the connection fires the open RPC's cancellation handle; cancelling serve()
    /// (what FlotillaServer's grace timer does) closes every other connection and returns.
    @Test func connectionLossAndCancelledServeEndOpenStreams() async throws {
        let probe = Probe()
        let backend = try SingleStoreBackend.inMemory()
        let clientPort = try ClientPort.make(transport: "lean", host: "127.0.0.1", port: 0, keepaliveMinTimeMs: 5_000,
                                             services: [TestStreams(probe: probe), KVService(backend: backend, cluster: backend)])
        let serve = Task { try await clientPort.serve() }
        let port = try await clientPort.listeningPort()
        let lost = try await RawHTTP2Client.connect(port: port)
        let kept = try await RawHTTP2Client.connect(port: port)
        var rng = SeededGenerator(seed: 4)
        for client in [lost, kept] {
            try await client.send([RawHTTP2Client.requestHeaders(HTTP2StreamID(1), path: "/t.S/Hold")]
                                  + RawHTTP2Client.dataFrames(HTTP2StreamID(1), [[1]], endStream: false, using: &rng))
            #expect(try await client.wait { _ in client.messages(on: HTTP2StreamID(1)) == [[1]] })
        }
        await lost.close()
        let cancelled = try await lost.wait { _ in probe.holdCancelled.load(ordering: .relaxed) == 1 }
        #expect(cancelled, "the RPC of a lost connection was not cancelled")
        serve.cancel()
        _ = await serve.result
        #expect(try await kept.wait { _ in !kept.channel.isActive }, "a connection outlived serve()")
    }

    /// A `grpc-timeout` on a bridged stream reaches `GRPCServer` (in the request metadata),
    /// which enforces it as on grpc-swift's transport: it fires the RPC's cancellation handle
    /// when the deadline passes (the raw client has no deadline of its own). A stream without
    /// a timeout is not cancelled.
    @Test func grpcTimeoutHoldsOnBridgedStreams() async throws {
        let probe = Probe()
        try await Self.withLean(probe) { port, _ in try await Self.timedAndUntimed(port: port, probe: probe) }
    }

    static func timedAndUntimed(port: Int, probe: Probe) async throws {
        let client = try await RawHTTP2Client.connect(port: port)
        var rng = SeededGenerator(seed: 9)
        let timed = HTTP2StreamID(1), untimed = HTTP2StreamID(3)
        var open = [RawHTTP2Client.requestHeaders(timed, path: "/t.S/Hold", extra: [("grpc-timeout", "300m")])]
        open += RawHTTP2Client.dataFrames(timed, [[1]], endStream: false, using: &rng)
        open.append(RawHTTP2Client.requestHeaders(untimed, path: "/t.S/Hold"))
        open += RawHTTP2Client.dataFrames(untimed, [[2]], endStream: false, using: &rng)
        try await client.send(open)
        let echoed = try await client.wait { _ in client.messages(on: timed) == [[1]] && client.messages(on: untimed) == [[2]] }
        #expect(echoed)
        let cancelled = try await client.wait { _ in probe.holdCancelled.load(ordering: .relaxed) >= 1 }
        #expect(cancelled, "the deadline of the bridged stream never fired its cancellation")
        try await Task.sleep(for: .milliseconds(500))
        #expect(probe.holdCancelled.load(ordering: .relaxed) == 1, "the stream without a timeout was cancelled too")
        var end = RawHTTP2Client.dataFrames(timed, [], endStream: true, using: &rng)
        end += RawHTTP2Client.dataFrames(untimed, [], endStream: true, using: &rng)
        try await client.send(end)
        let ended = try await client.wait { _ in client.status(on: timed) != nil && client.status(on: untimed) == 0 }
        #expect(ended)
        await client.close()
    }

    /// Bridged unary calls and an unknown method through grpc-swift's client; errors keep
    /// etcd's codes and messages on both paths.
    @Test func bridgedUnaryDeadlinesAndErrors() async throws {
        try await Self.withLean { port, _ in
            try await Self.withClient(port) { client in
                let lease = Etcdserverpb_Lease.Client(wrapping: client)
                var grant = Etcdserverpb_LeaseGrantRequest()
                grant.ttl = 60
                let granted = try await lease.leaseGrant(grant)
                #expect(granted.id != 0 && granted.ttl == 60)
                var revoke = Etcdserverpb_LeaseRevokeRequest()
                revoke.id = 12_345
                await #expect { _ = try await lease.leaseRevoke(revoke) } throws: {
                    ($0 as? RPCError)?.code == .notFound && ($0 as? RPCError)?.message == "etcdserver: requested lease not found"
                }
                _ = try await Etcdserverpb_Cluster.Client(wrapping: client).memberList(.init())
                await #expect {
                    _ = try await client.unary(request: ClientRequest(message: [UInt8]()),
                                               descriptor: MethodDescriptor(fullyQualifiedService: "no.Such", method: "Method"),
                                               serializer: RawBytesSerializer(), deserializer: RawBytesDeserializer(),
                                               options: .defaults) { try $0.message }
                } throws: { ($0 as? RPCError)?.code == .unimplemented }
                var put = Etcdserverpb_PutRequest()
                put.key = Data("x".utf8)
                let kv = Etcdserverpb_KV.Client(wrapping: client)
                let p = try await kv.put(put)
                #expect(p.header.revision > 0)
                put.key = Data()
                await #expect { _ = try await kv.put(put) } throws: {
                    ($0 as? RPCError)?.code == .invalidArgument && ($0 as? RPCError)?.message == "etcdserver: key is not provided"
                }
            }
        }
    }
}

extension [HTTP2Frame] {
    /// Interleaves the frames of different streams at random, keeping each stream's order.
    mutating func shuffleStreams<R: RandomNumberGenerator>(using rng: inout R) {
        var queues: [HTTP2StreamID: [HTTP2Frame]] = [:]
        var order: [HTTP2StreamID] = []
        for f in self {
            if queues[f.streamID] == nil { order.append(f.streamID) }
            queues[f.streamID, default: []].append(f)
        }
        var out: [HTTP2Frame] = []
        // Streams must open in increasing ID order: a stream's first frame (its HEADERS) goes
        // out only after every lower stream's HEADERS.
        var opened = 0
        while out.count < count {
            var candidates = order.prefix(opened).filter { !(queues[$0]?.isEmpty ?? true) }
            if opened < order.count { candidates.append(order[opened]) }
            let pick = candidates[Int.random(in: 0..<candidates.count, using: &rng)]
            if opened < order.count, pick == order[opened] { opened += 1 }
            out.append(queues[pick]!.removeFirst())
        }
        self = out
    }
}
