import Proto
import SwiftProtobuf

/// Splits a batch of one watcher's events into watch responses. Without `fragment` a batch
/// is one response (a revision is never split: the feed hands whole revisions). With
/// `fragment`, a response larger than `maxBytes` is cut into several, each as large as fits
/// (at least one event), all but the last marked `fragment = true` — etcd's `sendFragments`.
enum WatchFragmenter {
    static func responses(
        watchID: Int64, events: [Mvccpb_Event], header: Etcdserverpb_ResponseHeader, fragment: Bool, maxBytes: Int
    ) -> [Etcdserverpb_WatchResponse] {
        func response(_ evs: ArraySlice<Mvccpb_Event>, fragmented: Bool) -> Etcdserverpb_WatchResponse {
            var r = Etcdserverpb_WatchResponse()
            r.header = header
            r.watchID = watchID
            r.events = Array(evs)
            r.fragment = fragmented
            return r
        }
        guard fragment else { return [response(events[...], fragmented: false)] }
        let overhead = 64
        let sizes = events.map { ((try? $0.serializedBytes() as [UInt8])?.count ?? 0) + 6 }
        if sizes.reduce(overhead, +) < maxBytes { return [response(events[...], fragmented: false)] }
        var out: [Etcdserverpb_WatchResponse] = []
        var start = 0
        var bytes = overhead
        for i in events.indices {
            if i > start && bytes + sizes[i] > maxBytes {
                out.append(response(events[start..<i], fragmented: true))
                start = i
                bytes = overhead
            }
            bytes += sizes[i]
        }
        out.append(response(events[start...], fragmented: false))
        return out
    }
}
