import NIOCore
import Synchronization

/// The node call answers of ONE inbound call connection waiting to be written. Answers
/// arrive from the call tasks on any thread; the first one of a round schedules one job on
/// the connection's event loop, which writes every answer queued by then (chunked like the
/// gRPC stream) with one flush. Owns the queued answers.
final class AnswerOutbox: Sendable {
    struct State {
        var items: [CallFrame.Item] = []
        var scheduled = false
    }

    let channel: any Channel
    let stats: StatsBox
    let state = Mutex(State())

    init(channel: any Channel, stats: StatsBox) {
        self.channel = channel
        self.stats = stats
    }

    func push(_ item: CallFrame.Item) {
        let schedule = state.withLock { s -> Bool in
            s.items.append(item)
            defer { s.scheduled = true }
            return !s.scheduled
        }
        if schedule { channel.eventLoop.execute { self.flush() } }
    }

    func flush() {
        let items = state.withLock { s -> [CallFrame.Item] in
            s.scheduled = false
            defer { s.items = [] }
            return s.items
        }
        guard !items.isEmpty else { return }
        let chunks = CallFrame.chunks(items)
        // Counted before the write: a caller that got its answer sees it counted.
        stats.withLock {
            $0.callsAnswered += UInt64(items.count)
            $0.callAnswerMessagesSent += UInt64(chunks.count)
        }
        channel.writeFrames(chunks.map { LeanFrame(.answers, CallFrame.encodeAnswers($0)) })
    }
}
