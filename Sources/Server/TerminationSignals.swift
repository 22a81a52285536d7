import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SIGTERM and SIGINT as an async wait, for a process's graceful shutdown. Creating it turns
/// off the signals' default action (which would end the process at once) and routes both to
/// `next()`. Owns the two dispatch sources; `cancel()` releases them.
struct TerminationSignals {
    private let stream: AsyncStream<Int32>
    private let sources: [any DispatchSourceSignal]

    init() {
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        let (stream, continuation) = AsyncStream.makeStream(of: Int32.self)
        self.stream = stream
        sources = [SIGTERM, SIGINT].map { sig in
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { continuation.yield(sig) }
            source.resume()
            return source
        }
    }

    /// Waits for the next SIGTERM or SIGINT and returns its number.
    func next() async -> Int32? {
        for await sig in stream { return sig }
        return nil
    }

    func cancel() { sources.forEach { $0.cancel() } }
}
