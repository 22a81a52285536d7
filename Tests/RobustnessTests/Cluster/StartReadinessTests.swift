import Testing
#if canImport(Glibc)
import Glibc
#endif

@testable import Robustness

/// The start-up gate of a Flotilla cluster under test: traffic starts only once every range
/// replica on every node names a leader in the node's /status.
@Suite struct StartReadinessTests {
    @Test func allLedStatusHasNothingPending() {
        let body = """
            {"node":1,"leaderCount":2,"rangeCount":3,"quiescedCount":0,"walDiskBytes":0,"peers":[],
             "ranges":[{"rangeID":1,"leader":1,"isLeader":true,"quiesced":false,"appliedIndex":4},
                       {"rangeID":2,"leader":3,"isLeader":false,"quiesced":false,"appliedIndex":2}]}
            """
        #expect(FlotillaCluster.leaderlessRanges(status: body, node: 1).isEmpty)
    }

    @Test func leaderlessRangesAreNamed() {
        let body = """
            HTTP/1.0 200 OK\r\n\r\n{"node":2,"ranges":[{"rangeID":1,"leader":1},{"rangeID":7,"leader":0},{"rangeID":9,"leader":0}]}
            """
        #expect(FlotillaCluster.leaderlessRanges(status: body, node: 2) == ["node 2 range 7", "node 2 range 9"])
    }

    @Test func missingOrGarbledStatusCountsAsNotReady() {
        #expect(FlotillaCluster.leaderlessRanges(status: nil, node: 3) == ["node 3: no status"])
        #expect(FlotillaCluster.leaderlessRanges(status: "{\"node\":3", node: 3) == ["node 3: no status"])
    }
}

/// A node's exit is seen from the kernel's process table even before Foundation's own
/// bookkeeping catches up (a starved dispatch thread delayed it for 30 s in CI).
@Suite struct NodeExitDetectionTests {
    @Test func runningProcessIsNotExitedAndAZombieIs() throws {
        #expect(!NodeProcess.kernelSaysExited(getpid()))
        let child = fork()
        if child == 0 { _exit(0) }
        #expect(child > 0)
        var zombie = false
        for _ in 0..<200 where !zombie {  // the child exits at once; wait up to 2 s for state Z
            zombie = NodeProcess.kernelSaysExited(child)
            if !zombie { usleep(10_000) }
        }
        #expect(zombie, "child \(child) never showed as exited")
        var status: Int32 = 0
        _ = waitpid(child, &status, 0)
        #expect(NodeProcess.kernelSaysExited(child))  // reaped: gone from /proc
    }
}
