import Base

/// Applying committed membership changes to the tracker.
extension Raft {
    /// Applies a committed conf change. Changes are validated when proposed, so this
    /// cannot fail for entries this core proposed; an invalid change (e.g. one written
    /// by a foreign proposer) is ignored deterministically on every replica and the
    /// unchanged membership is returned.
    mutating func applyConfChange(_ cc: ConfChange) -> ConfState {
        guard let result = try? Changer(tracker: tracker, lastIndex: log.lastIndex).apply(change: cc) else {
            return tracker.confState
        }
        return switchToConfig(result.config, result.progress)
    }

    /// Installs a new configuration and reacts to it: a removed (or demoted) leader steps
    /// down; a leader commits what the new quorum allows and probes new members.
    mutating func switchToConfig(_ config: TrackerConfig, _ progress: ProgressMap) -> ConfState {
        tracker.config = config
        tracker.progress = progress
        let cs = tracker.confState
        let me = tracker.progress[id]
        isLearner = me?.isLearner ?? false
        if (me == nil || isLearner) && state == .leader {
            // Removed or demoted: step down (etcd's stepDownOnRemoval) so that the rest
            // of the group elects a leader without waiting for an election timeout of
            // silence from a leader that no longer counts itself.
            becomeFollower(term: term, lead: 0)
            return cs
        }
        guard state == .leader, !cs.voters.isEmpty else { return cs }
        if maybeCommit() {
            bcastAppend()
        } else {
            for peer in tracker.progress.ids where peer != id { _ = maybeSendAppend(to: peer, sendIfEmpty: false) }
        }
        if leadTransferee != 0 && !tracker.config.voters.contains(leadTransferee) { abortLeaderTransfer() }
        return cs
    }
}
