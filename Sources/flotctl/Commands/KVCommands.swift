import ArgumentParser
import Foundation
import Proto

/// etcd's key-range conventions shared by get, del and watch.
enum KeyRange {
    /// The smallest key greater than every key with `prefix` (clientv3's GetPrefixRangeEnd):
    /// the prefix with its last non-0xff byte incremented; `[0]` ("to the end") when none.
    static func prefixEnd(_ prefix: Data) -> Data {
        var bytes = [UInt8](prefix)
        while let last = bytes.last {
            if last < 0xff {
                bytes[bytes.count - 1] = last + 1
                return Data(bytes)
            }
            bytes.removeLast()
        }
        return Data([0])
    }

    /// `(key, rangeEnd)` for etcdctl's positional key/range_end and --prefix / --from-key.
    static func resolve(key: String, rangeEnd: String?, prefix: Bool, fromKey: Bool) throws -> (Data, Data) {
        if prefix && fromKey { throw CLIError("`--prefix` and `--from-key` cannot be set at the same time, choose one", code: .invalidInput) }
        if (prefix || fromKey), rangeEnd != nil {
            throw CLIError("too many arguments, only accept one argument when `--prefix` or `--from-key` is set", code: .invalidInput)
        }
        var k = Data(key.utf8)
        if prefix {
            if k.isEmpty { return (Data([0]), Data([0])) }
            return (k, prefixEnd(k))
        }
        if fromKey {
            if k.isEmpty { k = Data([0]) }
            return (k, Data([0]))
        }
        return (k, Data((rangeEnd ?? "").utf8))
    }
}

/// `flotctl get key [range_end]`: KV.Range with etcdctl's flags.
struct GetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "get", abstract: "Gets the key or a range of keys.")

    @OptionGroup var global: GlobalOptions
    @Argument var key: String
    @Argument var rangeEnd: String?
    @Option(help: "Linearizable(l) or Serializable(s).") var consistency: String = "l"
    @Flag(help: "Get keys with matching prefix.") var prefix = false
    @Flag(name: .customLong("from-key"), help: "Get keys that are greater than or equal to the given key.") var fromKey = false
    @Option(help: "Maximum number of results.") var limit: Int64 = 0
    @Option(help: "Order of results; ASCEND or DESCEND.") var order: String = ""
    @Option(name: .customLong("sort-by"), help: "Sort target; CREATE, KEY, MODIFY, VALUE, or VERSION.") var sortBy: String = ""
    @Option(help: "Specify the kv revision.") var rev: Int64 = 0
    @Flag(name: .customLong("keys-only"), help: "Get only the keys.") var keysOnly = false
    @Flag(name: .customLong("count-only"), help: "Get only the count.") var countOnly = false
    @Flag(name: .customLong("print-value-only"), help: "Only write values when using the simple output format.")
    var printValueOnly = false

    func request() throws -> Etcdserverpb_RangeRequest {
        var r = Etcdserverpb_RangeRequest()
        (r.key, r.rangeEnd) = try KeyRange.resolve(key: key, rangeEnd: rangeEnd, prefix: prefix, fromKey: fromKey)
        r.limit = limit
        r.revision = rev
        r.keysOnly = keysOnly
        r.countOnly = countOnly
        switch consistency.lowercased() {
        case "l": r.serializable = false
        case "s": r.serializable = true
        default: throw CLIError("unknown consistency flag \"\(consistency)\"", code: .invalidInput)
        }
        switch order.uppercased() {
        case "": r.sortOrder = .none
        case "ASCEND": r.sortOrder = .ascend
        case "DESCEND": r.sortOrder = .descend
        default: throw CLIError("bad sort order \(order)", code: .invalidInput)
        }
        switch sortBy.uppercased() {
        case "", "KEY": r.sortTarget = .key
        case "CREATE": r.sortTarget = .create
        case "MODIFY": r.sortTarget = .mod
        case "VALUE": r.sortTarget = .value
        case "VERSION": r.sortTarget = .version
        default: throw CLIError("bad sort target \(sortBy)", code: .invalidInput)
        }
        // etcdctl: a sort target without an order sorts ascending.
        if !sortBy.isEmpty && r.sortOrder == .none { r.sortOrder = .ascend }
        return r
    }

    func render(_ r: Etcdserverpb_RangeResponse, _ format: OutputFormat) throws -> String {
        switch format {
        case .simple: return SimpleFormat.range(r, valueOnly: printValueOnly, countOnly: countOnly)
        case .json: return EtcdJSON.range(r).serialized + "\n"
        case .table: throw CLIError.tableUnsupported
        }
    }

    func execute(_ s: EtcdSession, _ format: OutputFormat) async throws -> String {
        let req = try request()
        return try render(try await s.kv.range(req), format)
    }

    func run() async throws {
        let cmd = self
        do { Console.out(try await global.withSession { try await cmd.execute($0, cmd.global.writeOut) }) } catch { Console.fail(error) }
    }
}

/// `flotctl put key value`: KV.Put (value from stdin when omitted, as etcdctl does).
struct PutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "put", abstract: "Puts the given key into the store.")

    @OptionGroup var global: GlobalOptions
    @Argument var key: String
    @Argument var value: String?
    @Option(help: "Lease ID (in hexadecimal) to attach to the key.") var lease: String = "0"
    @Flag(name: .customLong("prev-kv"), help: "Return the previous key-value pair before modification.") var prevKV = false
    @Flag(name: .customLong("ignore-value"), help: "Update the key using its current value.") var ignoreValue = false
    @Flag(name: .customLong("ignore-lease"), help: "Update the key using its current lease.") var ignoreLease = false

    func request(stdinValue: () -> String? = { nil }) throws -> Etcdserverpb_PutRequest {
        var r = Etcdserverpb_PutRequest()
        r.key = Data(key.utf8)
        if let value {
            r.value = Data(value.utf8)
        } else if !ignoreValue {
            guard let v = stdinValue() else {
                throw CLIError("put command needs 1 argument and input from stdin or 2 arguments", code: .invalidInput)
            }
            r.value = Data(v.utf8)
        }
        r.lease = try LeaseCommand.parseID(lease)
        r.prevKv = prevKV
        r.ignoreValue = ignoreValue
        r.ignoreLease = ignoreLease
        return r
    }

    func render(_ r: Etcdserverpb_PutResponse, _ format: OutputFormat) throws -> String {
        switch format {
        case .simple: return SimpleFormat.put(r)
        case .json: return EtcdJSON.put(r).serialized + "\n"
        case .table: throw CLIError.tableUnsupported
        }
    }

    func execute(_ s: EtcdSession, _ format: OutputFormat) async throws -> String {
        let req = try request(stdinValue: { readLine(strippingNewline: true) })
        return try render(try await s.kv.put(req), format)
    }

    func run() async throws {
        let cmd = self
        do { Console.out(try await global.withSession { try await cmd.execute($0, cmd.global.writeOut) }) } catch { Console.fail(error) }
    }
}

/// `flotctl del key [range_end]`: KV.DeleteRange.
struct DelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "del", abstract: "Removes the specified key or range of keys [key, range_end).")

    @OptionGroup var global: GlobalOptions
    @Argument var key: String
    @Argument var rangeEnd: String?
    @Flag(help: "Delete keys with matching prefix.") var prefix = false
    @Flag(name: .customLong("from-key"), help: "Delete keys that are greater than or equal to the given key.") var fromKey = false
    @Flag(name: .customLong("prev-kv"), help: "Return deleted key-value pairs.") var prevKV = false

    func request() throws -> Etcdserverpb_DeleteRangeRequest {
        var r = Etcdserverpb_DeleteRangeRequest()
        (r.key, r.rangeEnd) = try KeyRange.resolve(key: key, rangeEnd: rangeEnd, prefix: prefix, fromKey: fromKey)
        r.prevKv = prevKV
        return r
    }

    func render(_ r: Etcdserverpb_DeleteRangeResponse, _ format: OutputFormat) throws -> String {
        switch format {
        case .simple: return SimpleFormat.delete(r)
        case .json: return EtcdJSON.delete(r).serialized + "\n"
        case .table: throw CLIError.tableUnsupported
        }
    }

    func execute(_ s: EtcdSession, _ format: OutputFormat) async throws -> String {
        let req = try request()
        return try render(try await s.kv.deleteRange(req), format)
    }

    func run() async throws {
        let cmd = self
        do { Console.out(try await global.withSession { try await cmd.execute($0, cmd.global.writeOut) }) } catch { Console.fail(error) }
    }
}

extension CLIError {
    /// etcdctl prints this for verbs without a table form.
    static let tableUnsupported = CLIError("table not supported as output format", code: .badFeature)
}
