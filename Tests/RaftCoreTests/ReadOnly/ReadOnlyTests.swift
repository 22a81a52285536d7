import Base
import Testing
@testable import RaftCore

@Suite struct ReadOnlyTests {
    static func request(_ ctx: String) -> Message {
        Message(type: .readIndex, from: 1, context: Array(ctx.utf8))
    }

    @Test func acksAccumulatePerRequest() {
        var ro = ReadOnly(option: .safe)
        ro.addRequest(index: 5, Self.request("a"))
        #expect(ro.recvAck(from: 1, context: Array("a".utf8)) == [1])
        #expect(ro.recvAck(from: 2, context: Array("a".utf8)) == [1, 2])
        #expect(ro.recvAck(from: 2, context: Array("unknown".utf8)) == nil)
        #expect(ro.lastPendingRequestContext == Array("a".utf8))
    }

    @Test func advanceReleasesEverythingUpToTheConfirmedRequest() {
        var ro = ReadOnly(option: .safe)
        ro.addRequest(index: 5, Self.request("a"))
        ro.addRequest(index: 6, Self.request("b"))
        ro.addRequest(index: 7, Self.request("c"))
        ro.addRequest(index: 9, Self.request("b"))  // duplicate context: ignored
        let done = ro.advance(context: Array("b".utf8))
        #expect(done.map(\.index) == [5, 6], "a quorum for b also confirms the older a")
        #expect(ro.lastPendingRequestContext == Array("c".utf8))
        #expect(ro.advance(context: Array("a".utf8)).isEmpty, "already released")
        #expect(ro.advance(context: Array("c".utf8)).map(\.index) == [7])
        #expect(ro.isEmpty)
    }
}
