public import Base
public import RaftCore

/// Moving messages between replicas through the seeded network, and the transport's
/// local reports (unreachable peer, snapshot sent or failed) back to the senders.
extension Simulator {
    /// Hands a Ready's messages to the network, grouped by destination (keeping each
    /// destination's messages in order), so the order of random draws does not depend
    /// on how the core happened to order different peers.
    mutating func send(_ messages: [Message]) {
        if messages.isEmpty { return }
        var ordered = messages
        if messages.count > 1 {
            ordered = messages.enumerated()
                .sorted { $0.element.to != $1.element.to ? $0.element.to < $1.element.to : $0.offset < $1.offset }
                .map(\.element)
        }
        for m in ordered {
            switch network.send(m, now: clock.now, rng: &rng) {
            case .lost:
                stats.messagesDropped += 1
                trace.record(.drop(MessageSummary(m), .lost), step: clock.now)
                noteUndelivered(m)
            case .queued(let copies):
                if copies > 1 { trace.record(.duplicate(MessageSummary(m)), step: clock.now) }
            }
        }
    }

    /// Delivers one message that left the network (or drops it).
    mutating func deliver(_ d: Delivery) throws(SafetyViolation) {
        let m = d.message
        let reason: DropReason?
        if d.blocked {
            reason = .partitioned
        } else if let j = indexOf[m.to] {
            reason = replicas[j].retired ? .targetRetired : (replicas[j].isRunning ? nil : .targetDown)
        } else {
            reason = .targetDown
        }
        if let reason {
            stats.messagesDropped += 1
            trace.record(.drop(MessageSummary(m), reason), step: clock.now)
            noteUndelivered(m)
            return
        }
        let j = indexOf[m.to]!
        stats.messagesDelivered += 1
        trace.record(.deliver(MessageSummary(m)), step: clock.now)
        do {
            try replicas[j].node!.step(m)
        } catch {
            trace.record(.note("step r\(m.to) rejected \(m.type): \(error)"), step: clock.now)
        }
        try drain(j)
        if m.type == .snapshot { reports.append((m.from, .snapshot(m.to, succeeded: true))) }
    }

    /// The transport noticed a message did not get through.
    mutating func noteUndelivered(_ m: Message) {
        if m.type == .snapshot {
            reports.append((m.from, .snapshot(m.to, succeeded: false)))
        } else if options.reportUnreachableRate > 0 && rng.chance(options.reportUnreachableRate) {
            reports.append((m.from, .unreachable(m.to)))
        }
    }

    /// Hands queued transport reports to their (running) replicas.
    mutating func processReports() throws(SafetyViolation) {
        while !reports.isEmpty {
            let (to, report) = reports.removeFirst()
            guard let i = indexOf[to], replicas[i].isRunning else { continue }
            switch report {
            case .unreachable(let peer):
                replicas[i].node!.reportUnreachable(peer)
            case .snapshot(let peer, let ok):
                replicas[i].node!.reportSnapshot(peer, succeeded: ok)
            }
            try drain(i)
        }
    }
}
