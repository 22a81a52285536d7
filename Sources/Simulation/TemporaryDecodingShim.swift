public import RaftCore
// TEMPORARY until the raft branch (which defines ConfChange(decoding:)) is merged.
extension ConfChange {
    init(decoding data: [UInt8]) throws(RaftError) { throw .invalidConfChange("raft branch not merged") }
}
