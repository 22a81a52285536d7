import Base
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import NIOCore
import PeerTransport
@testable import Server
import Synchronization
import Testing
import TestSupport

/// The lean HTTP/2 server over loopback, called by grpc-swift-2's client: echo, gRPC errors,
/// deadlines, oversize requests, malformed bytes on the socket, GOAWAY on stop.
/// A hang (one, unexplained, in session 9) fails a test after 2 minutes instead of stalling the suite.
@Suite(.timeLimit(.minutes(2))) struct LeanHTTP2ServerTests {
    /// Echoes; `/t.T/Slow` answers after 2 s (off the event loop); `/t.T/Fail` answers an etcd error.
    struct TestService: LeanUnaryService {
        /// Calls of `/t.T/Held` that reached the service (they answer like `Slow`).
        static let heldCalls = Atomic<Int>(0)
        func serves(_ path: Substring) -> Bool { path.hasPrefix("/t.T/") || path == LeanEchoService.path }
        func handle(_ call: LeanCall, respond: @escaping @Sendable (Result<ByteBuffer, LeanStatus>) -> Void) {
            switch call.path {
            case "/t.T/Slow", "/t.T/Held":
                if call.path == "/t.T/Held" { _ = Self.heldCalls.wrappingAdd(1, ordering: .relaxed) }
                let message = call.message
                Task { try? await Task.sleep(for: .seconds(2)); respond(.success(message)) }
            case "/t.T/Fail":
                respond(.failure(LeanStatus(code: 5, message: "etcdserver: requested lease not found")))
            default:
                respond(.success(call.message))
            }
        }
    }

    static func withServer(maxRequest: Int = 1 << 20,
                           _ body: @Sendable (GRPCClient<HTTP2ClientTransport.Posix>, Int) async throws -> Void) async throws {
        var limits = LeanConnection.Limits()
        limits.maxRequestMessageBytes = maxRequest
        let server = LeanHTTP2Server(service: TestService(), limits: limits)
        let port = try await server.start(host: "127.0.0.1", port: 0)
        let client = GRPCClient(transport: try HTTP2ClientTransport.Posix(
            target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext))
        let run = Task { try? await client.runConnections() }
        do {
            try await body(client, port)
        } catch {
            client.beginGracefulShutdown(); await run.value; await server.stop()
            throw error
        }
        client.beginGracefulShutdown()
        await run.value
        await server.stop()
    }

    static func call(_ client: GRPCClient<HTTP2ClientTransport.Posix>, _ path: String, _ message: [UInt8],
                     timeout: Duration? = nil) async throws -> [UInt8] {
        let parts = path.dropFirst().split(separator: "/")
        var options = CallOptions.defaults
        options.timeout = timeout
        return try await client.unary(
            request: ClientRequest(message: message),
            descriptor: MethodDescriptor(fullyQualifiedService: String(parts[0]), method: String(parts[1])),
            serializer: RawBytesSerializer(), deserializer: RawBytesDeserializer(), options: options) { try $0.message }
    }

    @Test func echoesManyConcurrentCalls() async throws {
        try await Self.withServer { client, _ in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<64 {
                    group.addTask {
                        for j in 0..<20 {
                            let m = [UInt8](repeating: UInt8(truncatingIfNeeded: i &+ j), count: (i * 37 + j * 11) % 3000)
                            let answer = try await Self.call(client, LeanEchoService.path, m)
                            #expect(answer == m)
                        }
                    }
                }
                try await group.waitForAll()
            }
            // A request far above the 64 KiB stream and connection windows: flow control works.
            let big = (0..<(700 * 1024)).map { UInt8(truncatingIfNeeded: $0) }
            let answer1 = try await Self.call(client, LeanEchoService.path, big)
            #expect(answer1 == big)
        }
    }

    @Test func errorsKeepTheirCodesAndMessages() async throws {
        try await Self.withServer(maxRequest: 1000) { client, _ in
            await #expect { try await Self.call(client, "/t.T/Fail", [1]) } throws: {
                ($0 as? RPCError)?.code == .notFound && ($0 as? RPCError)?.message == "etcdserver: requested lease not found"
            }
            await #expect { try await Self.call(client, "/etcdserverpb.Lease/LeaseGrant", [1]) } throws: {
                ($0 as? RPCError)?.code == .unimplemented
            }
            await #expect { try await Self.call(client, LeanEchoService.path, [UInt8](repeating: 1, count: 1001)) } throws: {
                ($0 as? RPCError)?.code == .resourceExhausted
            }
            // The connection still serves after errors.
            let answer2 = try await Self.call(client, LeanEchoService.path, [9, 9])
            #expect(answer2 == [9, 9])
        }
    }

    @Test func grpcTimeoutAnswersDeadlineExceeded() async throws {
        try await Self.withServer { client, _ in
            let start = ContinuousClock.now
            await #expect { try await Self.call(client, "/t.T/Slow", [1], timeout: .milliseconds(200)) } throws: {
                ($0 as? RPCError)?.code == .deadlineExceeded
            }
            #expect(ContinuousClock.now - start < .seconds(10))  // hang bound
            let answer3 = try await Self.call(client, "/t.T/Slow", [4], timeout: .seconds(20))
            #expect(answer3 == [4])
        }
    }

    /// Garbage instead of an HTTP/2 preface, and a valid preface followed by garbage frames:
    /// the server closes those connections and keeps serving.
    @Test func malformedBytesCloseTheConnectionOnly() async throws {
        try await Self.withServer { client, port in
            let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
            for seed in UInt64(1)...20 {
                var rng = SeededGenerator(seed: seed)
                let garbage = (0..<Int.random(in: 30...300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                let bytes = seed % 2 == 0 ? preface + [0, 0, 0, 4, 0, 0, 0, 0, 0] + garbage : garbage
                let closed = try await onOwnThread(cpuBound: false) { rawExchange(port: port, bytes: bytes) }
                #expect(closed, "seed \(seed): the server kept a garbage connection open")
            }
            let answer4 = try await Self.call(client, LeanEchoService.path, [5])
            #expect(answer4 == [5])
        }
    }

    @Test func stopSendsGoAwayAndClosesConnections() async throws {
        let server = LeanHTTP2Server(service: TestService())
        let port = try await server.start(host: "127.0.0.1", port: 0)
        let client = GRPCClient(transport: try HTTP2ClientTransport.Posix(
            target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext))
        let run = Task { try? await client.runConnections() }
        let answer5 = try await Self.call(client, LeanEchoService.path, [1])
        #expect(answer5 == [1])
        // A call in flight when the server stops is still answered.
        let held = TestService.heldCalls.load(ordering: .relaxed)
        let slow = Task { try await Self.call(client, "/t.T/Held", [2]) }
        let start = ContinuousClock.now
        while TestService.heldCalls.load(ordering: .relaxed) == held, ContinuousClock.now - start < .seconds(30) {
            try await Task.sleep(for: .milliseconds(20))
        }
        await server.stop(grace: .seconds(10))
        let answer6 = try await slow.value
        #expect(answer6 == [2])
        await #expect(throws: RPCError.self) {
            try await Self.call(client, LeanEchoService.path, [3], timeout: .seconds(2))
        }
        client.beginGracefulShutdown()
        await run.value
    }
}

/// Writes `bytes` to 127.0.0.1:`port` and reads until the server closes (true) or 5 s pass
/// (false). Blocking: call it on a thread of its own.
func rawExchange(port: Int, bytes: [UInt8]) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { return false }
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n == 0 { return true }  // orderly close
        if n < 0 { return errno == ECONNRESET }  // reset counts as closed; timeout does not
    }
}
