public import GRPCCore
public import Proto
import Foundation

/// etcd's `Maintenance` service: Status, Alarm, HashKV (and Hash as HashKV at the current
/// revision), Snapshot as a server stream of chunks in etcd's framing (`SnapshotFraming`), Defragment (the backend decides; a
/// no-op is fine). MoveLeader and Downgrade answer Unimplemented.
public struct MaintenanceService: Etcdserverpb_Maintenance.SimpleServiceProtocol {
    let backend: any EtcdMaintenanceBackend
    let headers: ResponseHeaders

    public init(backend: any EtcdMaintenanceBackend, cluster: any EtcdClusterBackend) {
        self.backend = backend
        self.headers = ResponseHeaders(cluster: cluster)
    }

    public func alarm(request: Etcdserverpb_AlarmRequest, context: ServerContext) async throws -> Etcdserverpb_AlarmResponse {
        try await ErrorMapping.mapping {
            let action: AlarmAction
            switch request.action {
            case .get: action = .get
            case .activate: action = .activate
            case .deactivate: action = .deactivate
            case .UNRECOGNIZED: throw RPCError(code: .invalidArgument, message: "etcdserver: unknown alarm action")
            }
            let kind = AlarmKind(rawValue: request.alarm.rawValue) ?? .none
            let (alarms, revision) = try await backend.alarm(action, memberID: request.memberID, alarm: kind)
            var out = Etcdserverpb_AlarmResponse()
            out.header = headers.make(revision: revision)
            out.alarms = alarms.map { a in
                var m = Etcdserverpb_AlarmMember()
                m.memberID = a.memberID
                m.alarm = Etcdserverpb_AlarmType(rawValue: a.alarm.rawValue) ?? .none
                return m
            }
            return out
        }
    }

    public func status(request: Etcdserverpb_StatusRequest, context: ServerContext) async throws -> Etcdserverpb_StatusResponse {
        try await ErrorMapping.mapping {
            let s = try await backend.status()
            var out = Etcdserverpb_StatusResponse()
            var header = headers.make(revision: s.revision)
            header.raftTerm = s.raftTerm
            out.header = header
            out.version = s.version
            out.dbSize = s.dbSize
            out.dbSizeInUse = s.dbSizeInUse
            out.leader = s.leader
            out.raftIndex = s.raftIndex
            out.raftTerm = s.raftTerm
            out.raftAppliedIndex = s.raftAppliedIndex
            out.errors = s.errors
            out.isLearner = s.isLearner
            return out
        }
    }

    public func defragment(
        request: Etcdserverpb_DefragmentRequest, context: ServerContext
    ) async throws -> Etcdserverpb_DefragmentResponse {
        try await ErrorMapping.mapping {
            try await backend.defragment()
            var out = Etcdserverpb_DefragmentResponse()
            out.header = headers.make(revision: 0)
            return out
        }
    }

    public func hash(request: Etcdserverpb_HashRequest, context: ServerContext) async throws -> Etcdserverpb_HashResponse {
        try await ErrorMapping.mapping {
            let r = try await backend.hashKV(revision: 0)
            var out = Etcdserverpb_HashResponse()
            out.header = headers.make(revision: r.revision)
            out.hash = r.hash
            return out
        }
    }

    public func hashKV(request: Etcdserverpb_HashKVRequest, context: ServerContext) async throws -> Etcdserverpb_HashKVResponse {
        try await ErrorMapping.mapping {
            let r = try await backend.hashKV(revision: request.revision)
            var out = Etcdserverpb_HashKVResponse()
            out.header = headers.make(revision: r.revision)
            out.hash = r.hash
            out.compactRevision = r.compactRevision
            out.hashRevision = request.revision > 0 ? request.revision : r.revision
            return out
        }
    }

    public func snapshot(
        request: Etcdserverpb_SnapshotRequest, response: RPCWriter<Etcdserverpb_SnapshotResponse>,
        context: ServerContext
    ) async throws {
        try await ErrorMapping.mapping {
            let s = try await backend.snapshot()
            let header = headers.make(revision: s.revision)
            // remaining_bytes: exact for sized streams; for self-delimiting ones (size known
            // only at the end) 1 until the last message, which carries 0 (etcd's clients only
            // use it for progress).
            var remaining = s.totalBytes.map { SnapshotFraming.framedSize(contentBytes: $0) } ?? UInt64.max
            var digest = SHA256()
            var sent: UInt64 = 0
            func send(_ bytes: [UInt8]) async throws {
                digest.update(bytes)
                sent += UInt64(bytes.count)
                remaining -= min(remaining, UInt64(bytes.count))
                var out = Etcdserverpb_SnapshotResponse()
                out.header = header
                out.blob = Data(bytes)
                out.remainingBytes = s.totalBytes == nil ? 1 : remaining
                try await response.write(out)
            }
            if let total = s.totalBytes { try await send(SnapshotFraming.prefix(contentBytes: total)) }
            var streamed: UInt64 = 0
            for try await chunk in s.chunks {
                streamed += UInt64(chunk.count)
                try await send(chunk)
            }
            if let total = s.totalBytes, streamed != total {
                throw RPCError(code: .internalError, message: "flotilla: snapshot stream length changed")
            }
            try await send(SnapshotFraming.padding(afterBytes: sent))
            let sum = digest.finalize()
            var last = Etcdserverpb_SnapshotResponse()
            last.header = header
            last.blob = Data(sum)
            last.remainingBytes = 0
            try await response.write(last)
        }
    }

    public func moveLeader(
        request: Etcdserverpb_MoveLeaderRequest, context: ServerContext
    ) async throws -> Etcdserverpb_MoveLeaderResponse {
        throw ErrorMapping.rpcError(EtcdError.unimplemented("MoveLeader (use flotctl range transfer-leader)"))
    }

    public func downgrade(
        request: Etcdserverpb_DowngradeRequest, context: ServerContext
    ) async throws -> Etcdserverpb_DowngradeResponse {
        throw ErrorMapping.rpcError(EtcdError.unimplemented("Downgrade"))
    }
}
