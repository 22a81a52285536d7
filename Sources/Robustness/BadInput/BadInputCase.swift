import GRPCCore

/// What a server answered to one request: a response (summarised) or a gRPC error.
public enum BadInputAnswer: Sendable, CustomStringConvertible {
    case ok(String)
    case error(code: String, message: String)

    public var description: String {
        switch self {
        case .ok(let s): "OK(\(s))"
        case .error(let c, let m): "\(c): \(m)"
        }
    }

    public init(_ error: any Error) {
        if let e = error as? RPCError {
            self = .error(code: "\(e.code)", message: e.message)
        } else {
            self = .error(code: "client", message: "\(error)")
        }
    }
}

/// The answer etcd gives (etcd-behaviour.md, checked against etcd 3.4).
public enum ExpectedAnswer: Sendable, CustomStringConvertible {
    /// Success whose summary contains `detail`.
    case ok(String)
    /// This gRPC code and exact message.
    case error(code: String, message: String)
    /// Any of these codes (where etcd and grpc-swift transports differ).
    case anyCode([String])
    /// Success, or any of these codes (a transport-level difference that changes nothing).
    case okOrAnyCode([String])

    public func matches(_ a: BadInputAnswer) -> Bool {
        switch (self, a) {
        case (.ok(let d), .ok(let s)): d.isEmpty || s.contains(d)
        case (.error(let c, let m), .error(let c2, let m2)): c == c2 && m == m2
        case (.anyCode(let cs), .error(let c, _)), (.okOrAnyCode(let cs), .error(let c, _)): cs.contains(c)
        case (.okOrAnyCode, .ok): true
        default: false
        }
    }

    public var description: String {
        switch self {
        case .ok(let d): "OK(…\(d)…)"
        case .error(let c, let m): "\(c): \(m)"
        case .anyCode(let cs): "one of \(cs)"
        case .okOrAnyCode(let cs): "OK or one of \(cs)"
        }
    }
}

/// One malformed or edge-case request of the catalogue: its name, etcd's answer, and how to
/// send it (with any setup it needs, on keys of its own).
public struct BadInputCase: Sendable {
    public var name: String
    public var expected: ExpectedAnswer
    public var send: @Sendable (EtcdEndpoint) async -> BadInputAnswer

    public init(_ name: String, _ expected: ExpectedAnswer, _ send: @escaping @Sendable (EtcdEndpoint) async -> BadInputAnswer) {
        self.name = name
        self.expected = expected
        self.send = send
    }
}
