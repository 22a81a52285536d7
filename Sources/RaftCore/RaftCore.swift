// RaftCore — one replica's Raft consensus core, pure and deterministic.
//
// Shape (after etcd-io/raft): `RawNode` (public) wraps the internal `Raft` state
// machine (Raft/: roles, term and vote handling in Raft+Step, the leader in
// Raft+Leader, membership in Raft+ConfChange), `RaftLog` (Log/: storage + unstable
// tail), `ProgressTracker` / `Progress` / `Inflights` (Tracker/), majority and joint
// quorums (Quorum/), the conf-change `Changer` (Confchange/) and the ReadIndex queue
// (ReadOnly/). Inputs: `tick()`, `step(_:)`, proposals; output: `Ready`, handed back
// through `advance(_:)`. No I/O, clock, threads or global randomness: a replica's
// randomness is a `SeededGenerator` seeded from `RaftConfig.randomSeed`, and
// everything it iterates is kept sorted, so one seed reproduces a run exactly.
//
// Deliberate differences from etcd raft:
// - The core is not generic: `Raft` holds `any RaftStorage`, so it is compiled and
//   optimised once and the hot path pays no generic-metadata lookups; only the thin
//   `RawNode<Storage>` wrapper is generic (the public contract).
// - A leader builds its appends once per `Ready` (`Raft.pendingBroadcast`) instead of
//   once per proposal or acknowledgement. Messages only leave through `Ready`, so this
//   changes nothing observable except that fewer, larger messages are sent.
// - Log probes past the end never throw (`RaftLog.termIfAvailable`): throwing is not
//   free, least of all under Swift Testing, which records a backtrace per throw.
// - Errors are typed (`RaftError`) and proposals are never dropped silently on the
//   proposing replica: it throws. Proposals forwarded by a follower and refused by the
//   leader, and responses from non-members, are dropped silently in `RawNode.step`.
// - A committed conf change that fails validation is ignored on every replica
//   (deterministically) instead of crashing; the leader validates each change when it
//   is proposed, so entries it wrote always apply.
// - A follower in StateSnapshot that acknowledges the snapshot's index moves to probe
//   even when the leader's log was compacted further meanwhile (it then gets a newer
//   snapshot), so a snapshot overtaken by compaction cannot stall it forever.
// - The leader lease (`ReadOnlyOption.leaseBased`) is bounded by when a quorum last
//   answered (`Raft.leaseValid`), not by check-quorum's step-down, which can lag two
//   election timeouts behind the followers electing someone else (see LeaseTests,
//   which an etcd-style lease fails), and it is void during a leadership transfer.
// - Optionally (`RaftConfig.holdVotesAfterRestart`) a restarted replica ignores vote
//   requests for an election timeout, as a follower that just heard its leader does: an
//   application lease resting on the voters' stickiness survives their restarts (etcd
//   raft forgets stickiness on restart). `RawNode.transferStartTerm` lets such a lease
//   stay void for the rest of a term in which a transfer began.
//
// Caller's duties: see `Ready`. Call `advance(_:)` before the next `ready()`; report
// snapshot sends with `reportSnapshot` and transport failures with `reportUnreachable`.
