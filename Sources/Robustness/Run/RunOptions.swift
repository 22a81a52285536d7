import Foundation

/// Everything one run needs: which cluster, which fault, traffic shape, thresholds.
public struct RunOptions: Sendable {
    public var target: String = "etcd"
    public var fault: FaultClass = .killRandom
    public var seed: UInt64 = 1
    public var basePort: Int = 27790
    /// Where run directories go; a passing run's directory is removed. tmpfs when there is
    /// one: fsync is then cheap, which keeps throughput up on a loaded machine, and kill -9
    /// (a process crash, not a machine crash) loses nothing the page cache holds either way.
    public var workDirectory: String = RunOptions.defaultWorkDirectory

    public static var defaultWorkDirectory: String {
        FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm/flotilla-robustness" : "/tmp/flotilla-robustness"
    }
    public var etcdExecutable: String = "/usr/bin/etcd"
    public var flotillaExecutable: String = ".build/debug/flotilla"
    public var flotillaRanges: Int = 8
    public var nodes: Int = 3
    public var workload = WorkloadConfig()
    public var watchers: Int = 3
    /// Request progress notifications on watch streams (bookmark checks).
    public var requestProgress: Bool = true
    /// Traffic before the fault, and after it healed.
    public var trafficBeforeFault: Duration = .seconds(2)
    public var trafficAfterFault: Duration = .seconds(2)
    /// A run with fewer successful operations per second before the fault is a failure
    /// (a vacuous pass proves nothing).
    public var minOpsPerSecond: Double = 100
    /// What the linearizability check may spend; running out is a failing verdict
    /// ("checker gave up"), the history kept.
    public var checkerBudget = CheckBudget()

    public init() {}
}
