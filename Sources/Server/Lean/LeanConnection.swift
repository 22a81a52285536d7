import NIOCore
import NIOHPACK
import NIOHTTP2

/// A gRPC status: the code (gRPC's numbering) and message sent in `grpc-status` /
/// `grpc-message` trailers.
struct LeanStatus: Sendable, Equatable, Error {
    var code: Int
    var message: String

    static let ok = LeanStatus(code: 0, message: "")
    static func cancelled(_ m: String) -> LeanStatus { .init(code: 1, message: m) }
    static func deadlineExceeded(_ m: String) -> LeanStatus { .init(code: 4, message: m) }
    static func resourceExhausted(_ m: String) -> LeanStatus { .init(code: 8, message: m) }
    static func unimplemented(_ m: String) -> LeanStatus { .init(code: 12, message: m) }
    static func `internal`(_ m: String) -> LeanStatus { .init(code: 13, message: m) }
}

/// One complete unary request handed to a service: the stream it answers on, the method path
/// (`/package.Service/Method`), the one request message and the deadline from `grpc-timeout`
/// (nanoseconds on the caller's clock, nil without a timeout).
struct LeanCall: Sendable {
    var streamID: HTTP2StreamID
    var path: String
    var message: ByteBuffer
    var deadlineNanos: Int64?
}

/// The frame-level state of one HTTP/2 connection serving unary gRPC calls: it owns the
/// per-stream request state (path, deadline, partial message bytes), the inbound flow-control
/// credit not yet returned, and GOAWAY bookkeeping. It consumes `HTTP2Frame`s as decoded by
/// `NIOHTTP2Handler` (which has already done HPACK, SETTINGS/PING answers and outbound flow
/// control) and returns actions; it does no I/O. One per connection, used on its event loop.
struct LeanConnection {
    /// Sizes the connection works with.
    struct Limits: Sendable {
        /// The largest request message accepted (gRPC's max receive size); larger ones answer
        /// RESOURCE_EXHAUSTED like grpc-go.
        var maxRequestMessageBytes: Int = 4 * 1024 * 1024
        /// The inbound connection window the server keeps open (raised from 65,535 at start).
        var connectionWindow: Int = 8 * 1024 * 1024
        /// The initial stream window the server advertises in SETTINGS.
        var streamWindow: Int = 1024 * 1024
    }

    /// What the owner of the connection must do.
    enum Action {
        /// Write this frame (the owner flushes at the end of the read batch).
        case write(HTTP2Frame)
        /// Run this call; answer with `respond(to:with:)`.
        case dispatch(LeanCall)
        /// A stream for a path the service does not serve, with `bridges` on: hand it to the
        /// general gRPC server (its request headers; `endStream` when they ended the request).
        case open(HTTP2StreamID, path: String, headers: HPACKHeaders, endStream: Bool)
        /// Request bytes of a bridged stream (`flowControlledBytes` includes padding; the
        /// connection window is already credited, the stream window is the owner's).
        case bridgedData(HTTP2StreamID, ByteBuffer, flowControlledBytes: Int, endStream: Bool)
    }

    /// Which paths are served (`nil` path → UNIMPLEMENTED).
    let serves: @Sendable (Substring) -> Bool
    let limits: Limits
    /// Streams of paths not served are handed on (`.open` / `.bridgedData`) instead of being
    /// answered UNIMPLEMENTED.
    let bridges: Bool

    private enum StreamState {
        /// Request headers seen, waiting for the whole message and END_STREAM.
        case receiving(path: String, deadlineNanos: Int64?, reader: GRPCMessageReader, message: ByteBuffer?,
                       uncreditedBytes: Int)
        /// Dispatched; the response has not been written yet.
        case dispatched
        /// Handed to the general gRPC server; open until the stream closes.
        case bridged
    }

    private var streams: [HTTP2StreamID: StreamState] = [:]
    private var uncreditedConnectionBytes = 0
    private var raisedConnectionWindow = false
    private(set) var lastStreamID = HTTP2StreamID.rootStream
    /// GOAWAY sent: new streams are refused.
    private(set) var goingAway = false

    init(limits: Limits = .init(), bridges: Bool = false, serves: @escaping @Sendable (Substring) -> Bool) {
        self.limits = limits
        self.bridges = bridges
        self.serves = serves
    }

    /// Streams with a request or response in progress.
    var activeStreams: Int { streams.count }

    /// The SETTINGS the server advertises.
    static func initialSettings(_ limits: Limits) -> HTTP2Settings {
        [HTTP2Setting(parameter: .maxConcurrentStreams, value: 4096),
         HTTP2Setting(parameter: .initialWindowSize, value: limits.streamWindow),
         HTTP2Setting(parameter: .maxHeaderListSize, value: 16 * 1024)]
    }

    /// Consumes one inbound frame; `now` is the monotonic clock in nanoseconds (for deadlines).
    mutating func receive(_ frame: HTTP2Frame, nowNanos: Int64, into actions: inout [Action]) {
        if !raisedConnectionWindow {
            raisedConnectionWindow = true
            let raise = limits.connectionWindow - 65_535
            if raise > 0 { actions.append(.write(HTTP2Frame(streamID: .rootStream, payload: .windowUpdate(windowSizeIncrement: raise)))) }
        }
        switch frame.payload {
        case .headers(let headers):
            receiveHeaders(frame.streamID, headers, nowNanos: nowNanos, into: &actions)
        case .data(let data):
            receiveData(frame.streamID, data, into: &actions)
        case .rstStream:
            streams[frame.streamID] = nil
        default:
            break  // SETTINGS, PING, PRIORITY, WINDOW_UPDATE, GOAWAY: NIOHTTP2Handler handles them
        }
    }

    private mutating func receiveHeaders(_ id: HTTP2StreamID, _ frame: HTTP2Frame.FramePayload.Headers,
                                         nowNanos: Int64, into actions: inout [Action]) {
        if let state = streams[id] {
            // Request trailers: END_STREAM on a HEADERS frame after the message.
            if case .bridged = state {
                if frame.endStream { actions.append(.bridgedData(id, ByteBuffer(), flowControlledBytes: 0, endStream: true)) }
                return
            }
            guard case .receiving = state else { return }
            if frame.endStream { endOfRequest(id, into: &actions) }
            return
        }
        guard id > lastStreamID else { return }  // frames of a stream already answered
        lastStreamID = id
        if goingAway {
            actions.append(.write(HTTP2Frame(streamID: id, payload: .rstStream(.refusedStream))))
            return
        }
        let headers = frame.headers
        guard headers.first(name: ":method") == "POST",
              let contentType = headers.first(name: "content-type"), contentType.hasPrefix("application/grpc")
        else {
            var h = HPACKHeaders()
            h.add(name: ":status", value: "415")
            actions.append(.write(HTTP2Frame(streamID: id, payload: .headers(.init(headers: h, endStream: true)))))
            return
        }
        let path = headers.first(name: ":path") ?? ""
        var deadline: Int64?
        if let timeout = headers.first(name: "grpc-timeout") {
            guard let nanos = GRPCTimeout.parse(timeout) else {
                actions.append(.write(Self.trailersOnly(id, .internal("malformed grpc-timeout: \(timeout)"))))
                return
            }
            deadline = nowNanos.addingReportingOverflow(nanos).overflow ? Int64.max : nowNanos + nanos
        }
        if let encoding = headers.first(name: "grpc-encoding"), encoding != "identity" {
            actions.append(.write(Self.trailersOnly(id, .unimplemented("compression \(encoding) is not supported"))))
            return
        }
        guard serves(path[...]) else {
            if bridges {
                streams[id] = .bridged
                actions.append(.open(id, path: path, headers: headers, endStream: frame.endStream))
                return
            }
            actions.append(.write(Self.trailersOnly(id, .unimplemented("unknown method \(path)"))))
            return
        }
        streams[id] = .receiving(path: path, deadlineNanos: deadline,
                                 reader: GRPCMessageReader(maxMessageBytes: limits.maxRequestMessageBytes),
                                 message: nil, uncreditedBytes: 0)
        if frame.endStream { endOfRequest(id, into: &actions) }
    }

    private mutating func receiveData(_ id: HTTP2StreamID, _ frame: HTTP2Frame.FramePayload.Data,
                                      into actions: inout [Action]) {
        let bytes: ByteBuffer
        switch frame.data {
        case .byteBuffer(let b): bytes = b
        case .fileRegion: bytes = ByteBuffer()  // never inbound
        }
        let flowControlled = bytes.readableBytes + (frame.paddingBytes.map { $0 + 1 } ?? 0)
        creditConnection(flowControlled, into: &actions)
        if case .bridged = streams[id] {
            actions.append(.bridgedData(id, bytes, flowControlledBytes: flowControlled, endStream: frame.endStream))
            return
        }
        guard case .receiving(let path, let deadline, var reader, var message, var uncredited) = streams[id] else {
            return  // answered already (error or unknown method): drain
        }
        streams[id] = .dispatched  // drop the reader's reference while we mutate it
        reader.append(bytes)
        do {
            while let next = try reader.next() {
                guard message == nil else {
                    fail(id, .internal("grpc: unary request carried more than one message"), into: &actions)
                    return
                }
                message = next
            }
        } catch GRPCMessageReader.Failure.tooLarge(let length, let limit) {
            fail(id, .resourceExhausted("grpc: received message larger than max (\(length) vs. \(limit))"), into: &actions)
            return
        } catch {
            fail(id, .internal("grpc: compressed message without grpc-encoding"), into: &actions)
            return
        }
        if !frame.endStream {
            uncredited += flowControlled
            if uncredited >= limits.streamWindow / 2 {
                actions.append(.write(HTTP2Frame(streamID: id, payload: .windowUpdate(windowSizeIncrement: uncredited))))
                uncredited = 0
            }
        }
        streams[id] = .receiving(path: path, deadlineNanos: deadline, reader: reader, message: message,
                                 uncreditedBytes: uncredited)
        if frame.endStream { endOfRequest(id, into: &actions) }
    }

    private mutating func creditConnection(_ bytes: Int, into actions: inout [Action]) {
        guard bytes > 0 else { return }
        uncreditedConnectionBytes += bytes
        if uncreditedConnectionBytes >= limits.connectionWindow / 4 {
            actions.append(.write(HTTP2Frame(streamID: .rootStream,
                                             payload: .windowUpdate(windowSizeIncrement: uncreditedConnectionBytes))))
            uncreditedConnectionBytes = 0
        }
    }

    private mutating func endOfRequest(_ id: HTTP2StreamID, into actions: inout [Action]) {
        guard case .receiving(let path, let deadline, let reader, let message, _) = streams[id] else { return }
        guard let message, reader.bufferedBytes == 0 else {
            fail(id, .internal(reader.bufferedBytes > 0 ? "grpc: request ended inside a message"
                                                        : "grpc: unary request carried no message"), into: &actions)
            return
        }
        streams[id] = .dispatched
        actions.append(.dispatch(LeanCall(streamID: id, path: path, message: message, deadlineNanos: deadline)))
    }

    private mutating func fail(_ id: HTTP2StreamID, _ status: LeanStatus, into actions: inout [Action]) {
        streams[id] = nil
        actions.append(.write(Self.trailersOnly(id, status)))
    }

    /// The frames answering a dispatched call; empty when the stream was reset meanwhile.
    mutating func respond(to id: HTTP2StreamID, with result: Result<ByteBuffer, LeanStatus>,
                          allocator: ByteBufferAllocator, into frames: inout [HTTP2Frame]) {
        guard case .dispatched = streams.removeValue(forKey: id) else { return }
        switch result {
        case .success(let message):
            frames.append(HTTP2Frame(streamID: id, payload: .headers(.init(headers: Self.responseHeaders))))
            var body = allocator.buffer(capacity: message.readableBytes + 5)
            GRPCMessageReader.write(message, into: &body)
            frames.append(HTTP2Frame(streamID: id, payload: .data(.init(data: .byteBuffer(body)))))
            frames.append(HTTP2Frame(streamID: id, payload: .headers(.init(headers: Self.okTrailers, endStream: true))))
        case .failure(let status):
            frames.append(Self.trailersOnly(id, status))
        }
    }

    /// The stream closed (reset by the peer, a stream error, or after our END_STREAM): forget it.
    mutating func streamClosed(_ id: HTTP2StreamID) {
        streams[id] = nil
    }

    /// Starts a graceful close: the GOAWAY frame to send (last stream = highest seen).
    mutating func goAway() -> HTTP2Frame {
        goingAway = true
        return HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: lastStreamID, errorCode: .noError, opaqueData: nil))
    }

    static let responseHeaders: HPACKHeaders = [":status": "200", "content-type": "application/grpc"]
    static let okTrailers: HPACKHeaders = ["grpc-status": "0"]

    static func trailersOnly(_ id: HTTP2StreamID, _ status: LeanStatus) -> HTTP2Frame {
        var h: HPACKHeaders = [":status": "200", "content-type": "application/grpc", "grpc-status": String(status.code)]
        if !status.message.isEmpty { h.add(name: "grpc-message", value: GRPCStatusMessage.percentEncoded(status.message)) }
        return HTTP2Frame(streamID: id, payload: .headers(.init(headers: h, endStream: true)))
    }
}
