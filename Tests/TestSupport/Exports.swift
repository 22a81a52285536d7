// TestSupport's users also get `onOwnThread` (it lives in TestThreads so the storage, WAL,
// LZ4 and Raft test targets can use it without depending on the API module).
@_exported public import TestThreads
