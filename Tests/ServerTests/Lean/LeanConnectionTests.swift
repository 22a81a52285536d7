import Base
import NIOCore
import NIOHPACK
import NIOHTTP2
@testable import Server
import Testing

/// The frame-level state machine of the lean HTTP/2 path, fed `HTTP2Frame`s directly.
@Suite struct LeanConnectionTests {
    static let path = "/etcdserverpb.KV/Range"
    static let limits = LeanConnection.Limits(maxRequestMessageBytes: 1000, connectionWindow: 4096, streamWindow: 1024)

    static func connection() -> LeanConnection {
        LeanConnection(limits: limits) { $0 == LeanConnectionTests.path }
    }

    static func requestHeaders(_ id: Int, path: String = LeanConnectionTests.path, extra: [(String, String)] = [],
                               endStream: Bool = false) -> HTTP2Frame {
        var h: HPACKHeaders = [":method": "POST", ":scheme": "http", ":path": path, ":authority": "x",
                               "content-type": "application/grpc", "te": "trailers"]
        for (n, v) in extra { h.add(name: n, value: v) }
        return HTTP2Frame(streamID: HTTP2StreamID(id), payload: .headers(.init(headers: h, endStream: endStream)))
    }

    static func data(_ id: Int, _ bytes: ByteBuffer, endStream: Bool) -> HTTP2Frame {
        HTTP2Frame(streamID: HTTP2StreamID(id), payload: .data(.init(data: .byteBuffer(bytes), endStream: endStream)))
    }

    static func framed(_ message: [UInt8]) -> ByteBuffer {
        var b = ByteBuffer()
        GRPCMessageReader.write(ByteBuffer(bytes: message), into: &b)
        return b
    }

    /// (calls dispatched, frames written) after feeding `frames`.
    static func feed(_ c: inout LeanConnection, _ frames: [HTTP2Frame], now: Int64 = 0) -> ([LeanCall], [HTTP2Frame]) {
        var actions: [LeanConnection.Action] = []
        for f in frames { c.receive(f, nowNanos: now, into: &actions) }
        var calls: [LeanCall] = [], writes: [HTTP2Frame] = []
        for a in actions {
            switch a {
            case .dispatch(let call): calls.append(call)
            case .write(let f): writes.append(f)
            case .open, .bridgedData: Issue.record("a stream was bridged with bridging off")
            }
        }
        return (calls, writes)
    }

    static func status(of frame: HTTP2Frame) -> (Int?, String?, endStream: Bool)? {
        guard case .headers(let h) = frame.payload else { return nil }
        return (h.headers.first(name: "grpc-status").flatMap { Int($0) }, h.headers.first(name: "grpc-message"), h.endStream)
    }

    /// Several streams interleaved, each request cut into random DATA frames: each is
    /// dispatched once with its whole message; the answer is HEADERS, DATA, trailers.
    @Test func interleavedStreamsWithRandomSplits() throws {
        for seed in UInt64(1)...100 {
            var rng = SeededGenerator(seed: seed)
            var c = Self.connection()
            let n = Int.random(in: 1...5, using: &rng)
            var pending: [Int: ByteBuffer] = [:]
            var expected: [Int: [UInt8]] = [:]
            var frames: [HTTP2Frame] = []
            for i in 0..<n {
                let id = 1 + 2 * i
                let m = (0..<Int.random(in: 0...900, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                expected[id] = m
                pending[id] = Self.framed(m)
                frames.append(Self.requestHeaders(id))
            }
            while let id = pending.keys.randomElement(using: &rng) {
                var rest = pending[id]!
                let piece = rest.readSlice(length: Int.random(in: 0...rest.readableBytes, using: &rng))!
                let last = rest.readableBytes == 0
                frames.append(Self.data(id, piece, endStream: last))
                pending[id] = last ? nil : rest
            }
            let (calls, writes) = Self.feed(&c, frames)
            #expect(calls.count == n, "seed \(seed)")
            for call in calls {
                #expect(Array(call.message.readableBytesView) == expected[Int(Int32(call.streamID))], "seed \(seed)")
                #expect(call.path == Self.path)
            }
            // Only flow-control frames were written while receiving.
            for w in writes {
                guard case .windowUpdate = w.payload else { Issue.record("seed \(seed): unexpected \(w.payload)"); continue }
            }
            #expect(c.activeStreams == n)
            var out: [HTTP2Frame] = []
            c.respond(to: calls[0].streamID, with: .success(ByteBuffer(bytes: [1, 2, 3])), allocator: .init(), into: &out)
            #expect(out.count == 3)
            #expect(Self.status(of: out[2])?.0 == 0 && Self.status(of: out[2])?.endStream == true)
            if case .data(let d) = out[1].payload, case .byteBuffer(var b) = d.data {
                #expect(b.readBytes(length: b.readableBytes) == [0, 0, 0, 0, 3, 1, 2, 3])
            } else {
                Issue.record("second response frame is not DATA")
            }
            #expect(c.activeStreams == n - 1)
        }
    }

    @Test func unknownMethodIsUnimplemented() {
        var c = Self.connection()
        let (calls, writes) = Self.feed(&c, [Self.requestHeaders(1, path: "/etcdserverpb.Lease/LeaseGrant"),
                                             Self.data(1, Self.framed([1]), endStream: true)])
        #expect(calls.isEmpty)
        let statuses = writes.compactMap { Self.status(of: $0) }
        #expect(statuses.count == 1 && statuses[0].0 == 12 && statuses[0].endStream)
        #expect(c.activeStreams == 0)
    }

    /// With bridging on, a path the service does not serve is handed on: `.open` with its
    /// headers, then its DATA (connection credit only) and the END_STREAM of request trailers;
    /// the stream counts as active until it closes; the served path is still dispatched.
    @Test func unservedPathsAreBridgedWhenBridgingIsOn() {
        var c = LeanConnection(limits: Self.limits, bridges: true) { $0 == LeanConnectionTests.path }
        var actions: [LeanConnection.Action] = []
        for f in [Self.requestHeaders(1, path: "/etcdserverpb.Watch/Watch"), Self.data(1, Self.framed([1, 2]), endStream: false),
                  Self.requestHeaders(3), Self.data(3, Self.framed([3]), endStream: true),
                  HTTP2Frame(streamID: 1, payload: .headers(.init(headers: [:], endStream: true)))] {
            c.receive(f, nowNanos: 0, into: &actions)
        }
        var opened: [String] = [], bridgedBytes = 0, ended = false, dispatched: [String] = []
        for a in actions {
            switch a {
            case .open(let id, let path, _, let endStream):
                #expect(id == 1 && !endStream)
                opened.append(path)
            case .bridgedData(let id, let bytes, _, let endStream):
                #expect(id == 1)
                bridgedBytes += bytes.readableBytes
                ended = ended || endStream
            case .dispatch(let call): dispatched.append(call.path)
            case .write(let f):
                if case .windowUpdate = f.payload { continue }
                Issue.record("unexpected write \(f)")
            }
        }
        #expect(opened == ["/etcdserverpb.Watch/Watch"])
        #expect(bridgedBytes == 7 && ended)
        #expect(dispatched == [Self.path])
        #expect(c.activeStreams == 2)
        c.streamClosed(1)
        #expect(c.activeStreams == 1)
    }

    @Test func oversizeMessageIsResourceExhausted() {
        var c = Self.connection()
        var header = ByteBuffer()
        header.writeInteger(UInt8(0)); header.writeInteger(UInt32(1001))
        let (calls, writes) = Self.feed(&c, [Self.requestHeaders(1), Self.data(1, header, endStream: false)])
        #expect(calls.isEmpty)
        let s = writes.compactMap { Self.status(of: $0) }
        #expect(s.count == 1 && s[0].0 == 8)
        #expect(s.first?.1 == "grpc: received message larger than max (1001 vs. 1000)")
        // The rest of the request is drained without another answer.
        let (calls2, writes2) = Self.feed(&c, [Self.data(1, ByteBuffer(bytes: [1, 2]), endStream: true)])
        #expect(calls2.isEmpty && writes2.compactMap { Self.status(of: $0) }.isEmpty)
    }

    @Test func zeroOrTwoMessagesOrTruncatedAreInternal() {
        for frames in [[Self.requestHeaders(1, endStream: true)],
                       [Self.requestHeaders(1), Self.data(1, ByteBuffer(bytes: [0, 0, 0, 0, 1, 9, 0, 0, 0, 0, 0]), endStream: true)],
                       [Self.requestHeaders(1), Self.data(1, ByteBuffer(bytes: [0, 0, 0, 0, 4, 9]), endStream: true)]] {
            var c = Self.connection()
            let (calls, writes) = Self.feed(&c, frames)
            #expect(calls.isEmpty)
            #expect(writes.compactMap { Self.status(of: $0) }.map(\.0) == [13])
            #expect(c.activeStreams == 0)
        }
    }

    @Test func grpcTimeoutBecomesADeadline() {
        var c = Self.connection()
        let (calls, _) = Self.feed(&c, [Self.requestHeaders(1, extra: [("grpc-timeout", "250m")]),
                                        Self.data(1, Self.framed([7]), endStream: true)], now: 1_000)
        let deadline: Int64? = calls.first?.deadlineNanos
        #expect(calls.count == 1)
        #expect(deadline == Int64(1_000 + 250_000_000))
        var c2 = Self.connection()
        let (calls2, writes2) = Self.feed(&c2, [Self.requestHeaders(1, extra: [("grpc-timeout", "soon")])])
        #expect(calls2.isEmpty && writes2.compactMap { Self.status(of: $0) }.map(\.0) == [13])
    }

    @Test func resetStreamIsForgottenAndItsAnswerDropped() {
        var c = Self.connection()
        let (calls, _) = Self.feed(&c, [Self.requestHeaders(1), Self.data(1, Self.framed([1]), endStream: true)])
        #expect(calls.count == 1)
        _ = Self.feed(&c, [HTTP2Frame(streamID: 1, payload: .rstStream(.cancel))])
        var out: [HTTP2Frame] = []
        c.respond(to: 1, with: .success(ByteBuffer(bytes: [1])), allocator: .init(), into: &out)
        #expect(out.isEmpty)
        #expect(c.activeStreams == 0)
    }

    /// Every consumed DATA byte is credited back: the connection window is raised once at the
    /// start, then WINDOW_UPDATEs on stream 0 return what was read; long requests get
    /// stream-level updates too.
    @Test func flowControlCreditsConsumedBytes() {
        var c = Self.connection()
        let (_, first) = Self.feed(&c, [HTTP2Frame(streamID: .rootStream, payload: .settings(.settings([])))])
        #expect(first.isEmpty)  // a window below HTTP/2's initial 65,535 is not raised
        var big = LeanConnection(limits: .init()) { _ in true }
        let (_, raised) = Self.feed(&big, [HTTP2Frame(streamID: .rootStream, payload: .settings(.settings([])))])
        if case .windowUpdate(let raise) = raised.first?.payload, raised.count == 1, raised[0].streamID == .rootStream {
            #expect(raise == LeanConnection.Limits().connectionWindow - 65_535)
        } else {
            Issue.record("no connection WINDOW_UPDATE at start: \(raised)")
        }
        var consumed = 0, credited = 0, streamCredited = 0
        for i in 0..<20 {
            let id = 1 + 2 * i
            let m = [UInt8](repeating: 1, count: 900)
            var frames = [Self.requestHeaders(id)]
            var body = Self.framed(m)
            consumed += body.readableBytes
            while body.readableBytes > 0 {
                let piece = body.readSlice(length: min(300, body.readableBytes))!
                frames.append(Self.data(id, piece, endStream: body.readableBytes == 0))
            }
            let (_, writes) = Self.feed(&c, frames)
            for w in writes {
                if case .windowUpdate(let n) = w.payload {
                    if w.streamID == .rootStream { credited += n } else { streamCredited += n }
                }
            }
        }
        #expect(credited > 0 && consumed - credited < 4096 / 4)
        #expect(streamCredited > 0)
    }

    @Test func goAwayRefusesNewStreams() {
        var c = Self.connection()
        _ = Self.feed(&c, [Self.requestHeaders(1), Self.data(1, Self.framed([1]), endStream: true)])
        let goAway = c.goAway()
        if case .goAway(let last, let code, _) = goAway.payload {
            #expect(last == 1 && code == .noError)
        } else {
            Issue.record("not a GOAWAY")
        }
        let (calls, writes) = Self.feed(&c, [Self.requestHeaders(3)])
        #expect(calls.isEmpty)
        if case .rstStream(let code) = writes.first?.payload { #expect(code == .refusedStream) } else { Issue.record("no RST_STREAM") }
        // The call in flight is still answered.
        var out: [HTTP2Frame] = []
        c.respond(to: 1, with: .failure(.internal("x")), allocator: .init(), into: &out)
        #expect(out.count == 1)
    }

    /// Random frames of every kind on random streams: no crash, and every answer written is
    /// for a stream that was opened.
    @Test func randomFramesNeverCrash() {
        for seed in UInt64(1)...300 {
            var rng = SeededGenerator(seed: seed)
            var c = Self.connection()
            var actions: [LeanConnection.Action] = []
            for _ in 0..<40 {
                let id = HTTP2StreamID(Int.random(in: 0...9, using: &rng))
                let frame: HTTP2Frame
                switch Int.random(in: 0...5, using: &rng) {
                case 0: frame = Self.requestHeaders(Int(Int32(id)), path: Bool.random(using: &rng) ? Self.path : "/x",
                                                    endStream: Bool.random(using: &rng))
                case 1, 2:
                    let bytes = (0..<Int.random(in: 0...40, using: &rng)).map { _ in
                        Bool.random(using: &rng) ? 0 : UInt8.random(in: 0...255, using: &rng)
                    }
                    frame = Self.data(Int(Int32(id)), ByteBuffer(bytes: bytes), endStream: Bool.random(using: &rng))
                case 3: frame = HTTP2Frame(streamID: id, payload: .rstStream(.cancel))
                case 4: frame = HTTP2Frame(streamID: id, payload: .headers(.init(headers: ["grpc-status": "0"], endStream: true)))
                default: frame = HTTP2Frame(streamID: .rootStream, payload: .ping(HTTP2PingData(withInteger: 1), ack: false))
                }
                c.receive(frame, nowNanos: 0, into: &actions)
            }
            var dispatched = Set<HTTP2StreamID>()
            for case .dispatch(let call) in actions {
                #expect(dispatched.insert(call.streamID).inserted, "seed \(seed): stream \(call.streamID) dispatched twice")
                var out: [HTTP2Frame] = []
                c.respond(to: call.streamID, with: .success(call.message), allocator: .init(), into: &out)
                #expect(out.isEmpty || out.count == 3, "seed \(seed)")
            }
        }
    }
}
