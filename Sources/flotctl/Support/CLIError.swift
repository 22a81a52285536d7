import Foundation
import GRPCCore

/// A failure to report the way etcdctl does: `Error: <message>` on stderr and a non-zero
/// exit status (etcdctl's codes: 1 general error, 2 bad connection, 3 invalid input,
/// 4 unsupported feature).
struct CLIError: Error, CustomStringConvertible, Sendable {
    enum Code: Int32, Sendable {
        case error = 1
        case badConnection = 2
        case invalidInput = 3
        case badFeature = 4
    }

    var code: Code
    var message: String

    init(_ message: String, code: Code = .error) {
        self.message = message
        self.code = code
    }

    var description: String { message }

    /// etcd's message for an RPC failure (the server sends rpctypes' text, e.g.
    /// "etcdserver: mvcc: required revision has been compacted").
    static func from(_ error: any Error) -> CLIError {
        switch error {
        case let e as CLIError:
            return e
        case let e as RPCError:
            switch e.code {
            case .unavailable: return CLIError(e.message, code: .badConnection)
            case .deadlineExceeded: return CLIError("context deadline exceeded")
            default: return CLIError(e.message)
            }
        default:
            return CLIError("\(error)")
        }
    }
}

/// Writes to stdout and stderr without stdio buffering, so output reaches a pipe or file
/// at once and survives a signal that ends the process (watch, keep-alive).
enum Console {
    static func out(_ text: String) {
        guard !text.isEmpty else { return }
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    static func err(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// Prints `Error: message` and ends the process with the error's code.
    static func fail(_ error: any Error) -> Never {
        let e = CLIError.from(error)
        err("Error: \(e.message)\n")
        exit(e.code.rawValue)
    }
}
