import Foundation
import Robustness
import Testing

/// Real-process runs against etcd 3.4 (the reference: a correct harness passes against it).
/// Gated by FLOTILLA_ROBUSTNESS=1 because they start clusters and take several seconds.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["FLOTILLA_ROBUSTNESS"] == "1"))
struct EtcdRunTests {
    func options(_ fault: FaultClass, seed: UInt64) -> RunOptions {
        var o = RunOptions()
        o.target = "etcd"
        o.fault = fault
        o.seed = seed
        o.basePort = 24790
        o.workDirectory = NSTemporaryDirectory() + "flotilla-robustness-tests"
        return o
    }

    @Test(arguments: [FaultClass.none, .killLeader, .partitionLeader])
    func etcdPassesTheHarness(fault: FaultClass) async {
        let report = await RobustnessRun(options: options(fault, seed: 7)).run()
        print(report.summary)
        #expect(report.passed, "seed 7 fault \(fault.rawValue): \(report.problems)")
    }
}
