import Testing

/// The parent of every suite that starts real `flotilla` clusters (3–5 debug processes each).
/// `.serialized` here runs those suites one after another: on the 2-core CI machine several
/// clusters at once starved the in-process tests' cooperative pool for over a minute (watch
/// tests then timed out waiting for their first response).
@Suite(.serialized) enum ClusterProcessSuites {}
