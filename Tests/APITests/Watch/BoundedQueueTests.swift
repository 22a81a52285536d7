@testable import API
import Testing

/// The watch stream's response queue: batches come out oldest first, at most the asked
/// number, and taking a batch makes room for as many waiting producers.
@Suite struct BoundedQueueTests {
    @Test func popBatchTakesAtMostMaxInOrderAndEndsAfterFinish() async {
        let q = BoundedQueue<Int>(capacity: 8)
        for i in 0..<5 { #expect(await q.push(i)) }
        #expect(await q.popBatch(max: 3) == [0, 1, 2])
        #expect(await q.popBatch(max: 10) == [3, 4])
        #expect(await q.push(5))
        #expect(await q.pop() == 5)
        q.finish()
        #expect(await q.popBatch(max: 4) == nil)
        #expect(await q.push(6) == false)
    }

    @Test func popBatchReleasesProducersWaitingOnAFullQueue() async {
        let q = BoundedQueue<Int>(capacity: 2)
        #expect(await q.push(0))
        #expect(await q.push(1))
        // Both wait: the queue is full.
        let producers = Task {
            async let a = q.push(2)
            async let b = q.push(3)
            return await (a, b)
        }
        var seen: [Int] = []
        while seen.count < 4 {
            guard let batch = await q.popBatch(max: 2) else { break }
            #expect(!batch.isEmpty && batch.count <= 2)
            seen += batch
        }
        let (a, b) = await producers.value
        #expect(a && b)
        #expect(seen.sorted() == [0, 1, 2, 3] && Array(seen.prefix(2)) == [0, 1], "seen \(seen)")
    }

    @Test func pushNowQueuesAllOrNothingAndWaitForRoomWakesWhenTheyFit() async {
        let q = BoundedQueue<Int>(capacity: 3)
        #expect(q.pushNow(contentsOf: [0, 1]) == .pushed)
        #expect(q.pushNow(contentsOf: [2, 3]) == .full, "2 + 2 > 3: none queued")
        #expect(q.count == 2)
        #expect(q.pushNow(contentsOf: [9], force: true) == .pushed)
        let waiter = Task {
            await q.waitForRoom(for: 2)
            return q.pushNow(contentsOf: [2, 3])
        }
        #expect(await q.popBatch(max: 2) == [0, 1])
        #expect(await waiter.value == .pushed)
        #expect(await q.popBatch(max: 10) == [9, 2, 3])
        // Empty: a burst larger than the capacity still goes.
        #expect(q.pushNow(contentsOf: [4, 5, 6, 7]) == .pushed)
        q.finish()
        #expect(q.pushNow(contentsOf: [8]) == .finished)
        await q.waitForRoom(for: 100)  // finished: returns at once
    }
}
