import Synchronization

/// A value shared between tasks or threads behind a mutex. A class, so escaping closures can
/// capture it (a `Mutex` itself is non-copyable). Owns only its value.
public final class Shared<Value: Sendable>: Sendable {
    let mutex: Mutex<Value>

    public init(_ value: Value) { mutex = Mutex(value) }

    public var value: Value { mutex.withLock { $0 } }

    @discardableResult
    public func withLock<R: Sendable>(_ body: (inout Value) -> R) -> R { mutex.withLock { body(&$0) } }
}
