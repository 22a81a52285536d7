import ArgumentParser
import Foundation

/// The load shape every `flotctl bench` workload takes (etcd's `benchmark` tool spells
/// most of these the same way). Owns only the values.
struct BenchOptions: ParsableArguments, Sendable {
    @OptionGroup var global: GlobalOptions
    @Option(help: "Number of gRPC connections (spread over --endpoints).") var conns: Int = 1
    @Option(help: "Number of concurrent clients (requests in flight).") var clients: Int = 1
    @Option(help: "Total number of requests (ignored when --duration is set).") var total: Int = 10_000
    @Option(help: "Run for this many seconds instead of --total requests.") var duration: Double = 0
    @Option(name: .customLong("key-size"), help: "Key size in bytes.") var keySize: Int = 8
    @Option(name: .customLong("val-size"), help: "Value size in bytes.") var valSize: Int = 8
    @Option(name: .customLong("key-space"), help: "Keys are drawn uniformly from this many distinct keys.") var keySpace: Int = 100_000
    @Option(help: "Seed of the key choice (0: random).") var seed: UInt64 = 0
    @Flag(name: .customLong("key-spread"),
          help: "Start each key with a byte scrambled from its number, so keys spread over every range of a keyspace split by first byte (flotilla dev's ranges); without it all decimal keys share one range.")
    var keySpread = false

    func validate() throws {
        guard conns >= 1, clients >= 1 else { throw ValidationError("--conns and --clients must be >= 1") }
        guard duration > 0 || total >= 1 else { throw ValidationError("--total must be >= 1 (or set --duration)") }
        guard keySize >= 1, valSize >= 0, keySpace >= 1 else { throw ValidationError("--key-size and --key-space must be >= 1") }
    }

    /// The seed actually used (a fresh one when --seed is 0); printed in the report.
    func effectiveSeed() -> UInt64 { seed != 0 ? seed : UInt64.random(in: 1...UInt64.max) }

    /// Key number `n` as `keySize` bytes: zero-padded decimal (wider when keySize is too
    /// small); with `--key-spread` the first byte is instead a scramble of `n` (any value
    /// 0...255, uniform over the key space) followed by the decimal in `keySize - 1` bytes.
    func key(_ n: Int) -> Data {
        let digits = String(n)
        let width = keySpread ? keySize - 1 : keySize
        let decimal = Data((String(repeating: "0", count: Swift.max(0, width - digits.count)) + digits).utf8)
        guard keySpread else { return decimal }
        return Data([BenchOptions.spreadByte(n)]) + decimal
    }

    /// The leading byte of a spread key: the top byte of n times the golden-ratio constant.
    static func spreadByte(_ n: Int) -> UInt8 { UInt8(truncatingIfNeeded: (UInt64(n) &* 0x9E37_79B9_7F4A_7C15) >> 56) }
}
