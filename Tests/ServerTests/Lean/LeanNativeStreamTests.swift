import API
import Base
import Foundation
import GRPCCore
import NIOCore
import NIOHTTP2
import Proto
@testable import Server
import SwiftProtobuf
import Synchronization
import Testing

/// Watch and LeaseKeepAlive served natively by the lean transport (`LeanBidiMethod`): the
/// streams really take that path, a native watch keeps outbound back-pressure towards a reader
/// that stops, and many watchers on streams whose requests arrive in random DATA splits all get
/// their events. Seeds are printed; rerun one with LEAN_NATIVE_SEED=N.
@Suite(.timeLimit(.minutes(2))) struct LeanNativeStreamTests {
    /// Records the streams a native service ran (and still runs them through `inner`).
    final class Recorder: Sendable {
        let streams = Mutex<[String: [LeanBridgedStream]]>([:])
        func wrap(_ services: [any LeanStreamService]) -> [any LeanStreamService] {
            services.map { Recording(inner: $0, recorder: self) }
        }
        func runs(_ method: String) -> [LeanBridgedStream] { streams.withLock { $0[method] ?? [] } }
    }

    struct Recording: LeanStreamService {
        let inner: any LeanStreamService
        let recorder: Recorder
        var descriptor: MethodDescriptor { inner.descriptor }
        func run(_ stream: LeanBridgedStream, context: ServerContext) async {
            recorder.streams.withLock { $0[descriptor.fullyQualifiedMethod, default: []].append(stream) }
            await inner.run(stream, context: context)
        }
    }

    /// A lean client port as `ClientPort.make` builds it, with the native services recorded.
    static func withLean(_ recorder: Recorder, environment: [String: String] = [:],
                         _ body: @Sendable (Int) async throws -> Void) async throws {
        let backend = try SingleStoreBackend.inMemory()
        let run = Task { await backend.run() }
        defer { run.cancel() }
        let services = EtcdServer.services(kv: backend, watch: backend, lease: backend, cluster: backend, maintenance: backend)
        let kv = try #require(services.lazy.compactMap { $0 as? KVService }.first)
        let transport = LeanServerTransport(
            host: "127.0.0.1", port: 0, hot: LeanKVService(kv: kv),
            native: recorder.wrap(ClientPort.nativeStreams(services, environment: environment)), limits: LeanConnection.Limits())
        let server = GRPCServer(transport: transport, services: services)
        let serve = Task { try await server.serve() }
        let port = try await transport.listeningPort
        var failure: (any Error)?
        do { try await body(port) } catch { failure = error }
        server.beginGracefulShutdown()
        serve.cancel()
        _ = await serve.result
        if let failure { throw failure }
    }

    static func watchCreate(_ key: String, id: Int64 = 0) -> [UInt8] {
        var r = Etcdserverpb_WatchRequest()
        r.createRequest.key = Data(key.utf8)
        r.createRequest.watchID = id
        return try! r.serializedBytes()
    }

    static func put(_ key: String, _ value: [UInt8]) -> [UInt8] {
        var p = Etcdserverpb_PutRequest()
        p.key = Data(key.utf8)
        p.value = Data(value)
        return try! p.serializedBytes()
    }

    static func watchResponses(_ client: RawHTTP2Client, _ id: HTTP2StreamID) -> [Etcdserverpb_WatchResponse] {
        client.messages(on: id).compactMap { try? Etcdserverpb_WatchResponse(serializedBytes: $0) }
    }

    /// Watch and LeaseKeepAlive go to the native services (and only those two methods);
    /// `FLOTILLA_LEAN_NATIVE_STREAMS=0` bridges them. Fails if the transport looks methods up
    /// in a way that misses the generated descriptors (the first version keyed them by
    /// `MethodDescriptor`, whose generated values also carry the method type: nothing matched).
    @Test func watchAndLeaseKeepAliveRunNatively() async throws {
        #expect(ClientPort.nativeStreams(EtcdServer.services(
            kv: try SingleStoreBackend.inMemory(), watch: try SingleStoreBackend.inMemory(), lease: try SingleStoreBackend.inMemory(),
            cluster: try SingleStoreBackend.inMemory(), maintenance: try SingleStoreBackend.inMemory()),
                                        environment: ["FLOTILLA_LEAN_NATIVE_STREAMS": "0"]).isEmpty)
        let recorder = Recorder()
        try await Self.withLean(recorder) { port in
            let client = try await RawHTTP2Client.connect(port: port)
            defer { Task { await client.close() } }
            var rng = SeededGenerator(seed: 1)
            let watch = HTTP2StreamID(1), keepAlive = HTTP2StreamID(3), grant = HTTP2StreamID(5)
            var ka = Etcdserverpb_LeaseKeepAliveRequest()
            ka.id = 77
            var g = Etcdserverpb_LeaseGrantRequest()
            g.ttl = 10
            try await client.send([RawHTTP2Client.requestHeaders(watch, path: "/etcdserverpb.Watch/Watch")]
                                  + RawHTTP2Client.dataFrames(watch, [Self.watchCreate("n")], endStream: false, using: &rng)
                                  + [RawHTTP2Client.requestHeaders(keepAlive, path: "/etcdserverpb.Lease/LeaseKeepAlive")]
                                  + RawHTTP2Client.dataFrames(keepAlive, [try ka.serializedBytes()], endStream: true, using: &rng)
                                  + [RawHTTP2Client.requestHeaders(grant, path: "/etcdserverpb.Lease/LeaseGrant")]
                                  + RawHTTP2Client.dataFrames(grant, [try g.serializedBytes()], endStream: true, using: &rng))
            #expect(try await client.wait { _ in
                Self.watchResponses(client, watch).contains { $0.created } && client.status(on: keepAlive) != nil
                    && client.status(on: grant) != nil
            })
            #expect(client.status(on: grant) == 0)
            #expect(recorder.runs("etcdserverpb.Watch/Watch").count == 1, "the Watch stream was not served natively")
            #expect(recorder.runs("etcdserverpb.Lease/LeaseKeepAlive").count == 1, "LeaseKeepAlive was not served natively")
            #expect(recorder.streams.withLock { $0.count } == 2, "a unary Lease method went to a native service")
        }
    }

    /// A watch client that stops reading (never credits its stream window) while large events
    /// keep coming: the native writer waits for the outbound budget, so the server holds at
    /// most the budget or one write batch in flight, not every event; crediting the window
    /// then delivers every event, in order. Also run with the streams bridged (the same bound
    /// must hold there).
    @Test(arguments: ["1", "0"]) func slowWatchReaderBoundsOutboundBuffering(native: String) async throws {
        let recorder = Recorder()
        try await Self.withLean(recorder, environment: ["FLOTILLA_LEAN_NATIVE_STREAMS": native]) { port in
            try await Self.slowReader(port: port, recorder: recorder, native: native == "1")
        }
    }

    static func slowReader(port: Int, recorder: Recorder, native: Bool) async throws {
        let reader = try await RawHTTP2Client.connect(port: port, initialWindow: 65_535)
        let writer = try await RawHTTP2Client.connect(port: port)
        defer { Task { await reader.close(); await writer.close() } }
        var rng = SeededGenerator(seed: 21)
        let watch = HTTP2StreamID(1)
        try await reader.send([RawHTTP2Client.requestHeaders(watch, path: "/etcdserverpb.Watch/Watch")]
                              + RawHTTP2Client.dataFrames(watch, [Self.watchCreate("s")], endStream: false, using: &rng))
        #expect(try await reader.wait { _ in Self.watchResponses(reader, watch).contains { $0.created } })
        let puts = 300, valueBytes = 8 * 1024
        for chunk in stride(from: 0, to: puts, by: 50) {  // below the server's concurrent-stream limit
            var frames: [HTTP2Frame] = []
            for i in chunk..<min(puts, chunk + 50) {
                let id = HTTP2StreamID(1 + 2 * i)
                var value = [UInt8](repeating: UInt8(i % 251), count: valueBytes)
                value[0] = UInt8(i >> 8)
                value[1] = UInt8(i & 0xFF)
                frames.append(RawHTTP2Client.requestHeaders(id, path: "/etcdserverpb.KV/Put"))
                frames += RawHTTP2Client.dataFrames(id, [Self.put("s", value)], endStream: true, using: &rng)
            }
            try await writer.send(frames)
            let ids = (chunk..<min(puts, chunk + 50)).map { HTTP2StreamID(1 + 2 * $0) }
            let done = try await writer.wait { _ in ids.allSatisfy { writer.status(on: $0) == 0 } }
            #expect(done, "the puts did not all succeed")
        }
        _ = try await reader.wait(timeout: .seconds(2)) { _ in false }
        let total = puts * (valueBytes + 64)
        if native {
            let runs = recorder.runs("etcdserverpb.Watch/Watch")
            #expect(runs.count == 1)
            let peak = runs.first?.peakOutstandingBytes ?? 0
            // At most the budget, or one batch when the budget was empty (64 responses).
            let bound = max(LeanBridgedStream.outboundBudgetBytes, 64 * (valueBytes + 128))  // 64: WatchService.maxResponsesPerWrite
            print("slow native watch reader: peak \(peak) bytes in flight (bound \(bound), events \(total) bytes)")
            #expect(peak > 0, "nothing was written")
            #expect(peak <= bound, "a stopped watch reader let the server hold \(peak) bytes")
        } else {
            #expect(recorder.runs("etcdserverpb.Watch/Watch").isEmpty)
        }
        let received = Self.watchResponses(reader, watch).flatMap(\.events).count
        #expect(received < puts, "every event arrived although the reader never credited its window")
        try await reader.send([HTTP2Frame(streamID: watch, payload: .windowUpdate(windowSizeIncrement: 64 << 20))])
        let all = try await reader.wait { _ in Self.watchResponses(reader, watch).flatMap(\.events).count >= puts }
        let events = Self.watchResponses(reader, watch).flatMap(\.events)
        #expect(all, "after WINDOW_UPDATE only \(events.count) of \(puts) events arrived")
        #expect(events.map { Int($0.kv.value[0]) << 8 | Int($0.kv.value[1]) }.sorted() == Array(0..<puts), "events lost or repeated")
        #expect(zip(events, events.dropFirst()).allSatisfy { $0.kv.modRevision < $1.kv.modRevision }, "events out of revision order")
    }

    /// Many watchers on a few native streams, requests (creates, a cancel, a progress request)
    /// cut into DATA frames at random points and interleaved across streams: every watcher gets
    /// exactly its key's events, the cancelled one none after its cancel, and the progress
    /// request its answer.
    @Test func manyWatchersRandomSplits() async throws {
        let seeds: [UInt64] = ProcessInfo.processInfo.environment["LEAN_NATIVE_SEED"].flatMap(UInt64.init).map { [$0] }
            ?? [UInt64(UInt32.random(in: 1...UInt32.max)), 7]
        for seed in seeds {
            print("LeanNativeStreamTests.manyWatchersRandomSplits seed \(seed)")
            let recorder = Recorder()
            try await Self.withLean(recorder) { port in
                var rng = SeededGenerator(seed: seed)
                let client = try await RawHTTP2Client.connect(port: port)
                defer { Task { await client.close() } }
                let streams = 4, perStream = 25, keys = 10
                var frames: [HTTP2Frame] = []
                for s in 0..<streams {
                    let id = HTTP2StreamID(1 + 2 * s)
                    frames.append(RawHTTP2Client.requestHeaders(id, path: "/etcdserverpb.Watch/Watch"))
                    let creates = (0..<perStream).map { w in Self.watchCreate("m\((s * perStream + w) % keys)", id: Int64(w + 1)) }
                    frames += RawHTTP2Client.dataFrames(id, creates, endStream: false, using: &rng)
                }
                frames.shuffleStreams(using: &rng)
                try await client.send(frames)
                let created = try await client.wait { _ in
                    (0..<streams).allSatisfy { s in Self.watchResponses(client, HTTP2StreamID(1 + 2 * s)).filter(\.created).count == perStream }
                }
                #expect(created, "seed \(seed): not every watcher was created")
                // Stream 0 cancels its watcher 1 and asks for progress.
                var cancel = Etcdserverpb_WatchRequest()
                cancel.cancelRequest.watchID = 1
                var progress = Etcdserverpb_WatchRequest()
                progress.progressRequest = .init()
                try await client.send(RawHTTP2Client.dataFrames(HTTP2StreamID(1), [try cancel.serializedBytes(), try progress.serializedBytes()],
                                                                endStream: false, using: &rng))
                #expect(try await client.wait { _ in
                    let r = Self.watchResponses(client, HTTP2StreamID(1))
                    return r.contains { $0.canceled && $0.watchID == 1 } && r.contains { $0.watchID == -1 && !$0.created }
                }, "seed \(seed): no cancel or progress answer")
                var puts: [HTTP2Frame] = []
                for k in 0..<keys {
                    let id = HTTP2StreamID(1 + 2 * (streams + k))
                    puts.append(RawHTTP2Client.requestHeaders(id, path: "/etcdserverpb.KV/Put"))
                    puts += RawHTTP2Client.dataFrames(id, [Self.put("m\(k)", Array("v\(k)".utf8))], endStream: true, using: &rng)
                }
                puts.shuffleStreams(using: &rng)
                try await client.send(puts)
                // Every live watcher: one event of its key.
                let delivered = try await client.wait { _ in
                    (0..<streams).allSatisfy { s in
                        Self.watchResponses(client, HTTP2StreamID(1 + 2 * s)).filter { !$0.events.isEmpty }.count == perStream - (s == 0 ? 1 : 0)
                    }
                }
                #expect(delivered, "seed \(seed): events missing")
                for s in 0..<streams {
                    let responses = Self.watchResponses(client, HTTP2StreamID(1 + 2 * s))
                    for w in 0..<perStream {
                        let events = responses.filter { $0.watchID == Int64(w + 1) }.flatMap(\.events)
                        let key = "m\((s * perStream + w) % keys)"
                        if s == 0 && w == 0 {
                            #expect(events.isEmpty, "seed \(seed): the cancelled watcher got events")
                        } else {
                            #expect(events.map { String(decoding: $0.kv.key, as: UTF8.self) } == [key],
                                    "seed \(seed): stream \(s) watcher \(w + 1) got \(events.count) events")
                        }
                    }
                }
                #expect(recorder.runs("etcdserverpb.Watch/Watch").count == streams)
            }
        }
    }
}
