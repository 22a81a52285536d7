#!/usr/bin/env python3
"""Splits a Tools/bench-profile recording of the watch workload by part of the serving path.

Each sample goes to the innermost frame of its stack that names one of the parts below (checked
in this order per frame): protobuf, the watch API, the watch hub / feeds, the lean client
transport, the peer transport, GRPCCore, the put path, NIOHTTP2 (left over: the lean client
connections, which use no stream multiplexer). Samples with none of them are split by what the
stack shows (sleeping/waking, Swift concurrency, malloc). Pattern matching on mangled names:
shares are approximate, good for comparing two recordings.

    perf script -i perf.data -F comm,tid,ip,sym | Tools/bench-profile-watch-split.py
"""
import sys, collections
CATS = [
  ('protobuf encode/decode', ['SwiftProtobuf']),
  ('watch API (WatchSession/Service, EncodedEvents, BoundedQueue)', ['WatchSession','WatchService','EncodedEvents','BoundedQueue','WatchFragmenter','KVConversion']),
  ('watch hub / feeds (Router, Node feeds)', ['FeedHub','MergedWatchFeed','SharedRangeFeeds','RangeFeed','WatchFeed','Feed']),
  ('lean transport (Lean*, bridge)', ['4Lean','LeanGRPCHandler','LeanBridged','LeanStreamWriter','LeanInbound','LeanMessageWriter','LeanBidi','GRPCMessageReader']),
  ('peer transport (grpc-swift-nio-transport, PeerTransport)', ['GRPCNIOTransport','PeerTransport','HTTP2StreamChannel','StreamMultiplexer','InboundStreamMultiplexer']),
  ('GRPCServer / GRPCCore (bridged executor)', ['7GRPCCore','GRPCCore']),
  ('put path: Node/Raft/WAL/MVCC/PageStore/Router KV', ['4Node','NodeHost','8RaftCore','3WAL','4MVCC','8PageStore','6Router','3LZ4','Raft','Range']),
  ('API other', ['3API']),
  ('NIOHTTP2 (lean connection, no multiplexer)', ['NIOHTTP2']),
]
def classify(stack):
    for sym in stack:
        for name, pats in CATS:
            for p in pats:
                if p in sym: return name
    s = ' '.join(stack)
    if 'futex' in s or 'schedule' in s or 'epoll' in s or 'finish_task_switch' in s: return 'sleep/wake (context switches)'
    if 'swift_task' in s or 'swift_job' in s or 'Dispatch' in s or 'dispatch' in s: return 'Swift concurrency scheduling'
    if 'malloc' in s or 'free' in s: return 'malloc/free'
    return 'other'
cnt = collections.Counter(); total = 0
stack = []
def flush():
    global total, stack
    if stack:
        cnt[classify(stack)] += 1; total += 1
    stack = []
for line in sys.stdin:
    if not line.strip(): flush(); continue
    if not line.startswith('\t') and not line.startswith(' '):
        flush(); continue
    parts = line.strip().split(None, 1)
    stack.append(parts[1] if len(parts) > 1 else '')
flush()
print('| part (innermost matching frame) | share |\n|---|---:|')
for k, v in cnt.most_common(): print(f'| {k} | {100*v/total:.1f}% |')
print(f'(samples {total})')
