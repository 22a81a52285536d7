import Dispatch
import Foundation

/// Ends the process with status 0 on SIGINT (and SIGTERM), for the verbs that run until
/// interrupted (watch, lease keep-alive). Output is written unbuffered (`Console`), so
/// nothing is lost. Owns the signal sources for the process's lifetime.
enum Interrupt {
    /// `nonisolated(unsafe)`: written once at start-up from the main task before any other
    /// task reads it; only keeps the sources alive.
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []

    static func exitOnSignal() {
        sources = [SIGINT, SIGTERM].map { sig in
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler { exit(0) }
            s.resume()
            return s
        }
    }
}
