import Base
import Foundation
import Testing

@testable import flotctl

@Suite struct LatencyHistogramTests {
    @Test func smallValuesAreExact() {
        var h = LatencyHistogram()
        for v in 1...10 { h.record(UInt64(v)) }
        #expect(h.percentile(0.5) == 5)
        #expect(h.percentile(0.9) == 9)
        #expect(h.percentile(1.0) == 10)
        #expect(h.percentile(0.0) == 1)
        #expect(h.count == 10 && h.min == 1 && h.max == 10)
        #expect(h.mean == 5.5)
    }

    @Test func emptyHistogramReportsZero() {
        let h = LatencyHistogram()
        #expect(h.percentile(0.99) == 0)
        #expect(h.mean == 0)
    }

    @Test func bucketsTileTheValueSpace() {
        // Every bucket starts right after the previous one ends, and values map into the
        // bucket whose bounds contain them.
        for i in 1..<LatencyHistogram.bucketCount {
            #expect(LatencyHistogram.lowerBound(of: i) == LatencyHistogram.upperBound(of: i - 1) + 1, "bucket \(i)")
        }
        var rng = SeededGenerator(seed: 7)
        for _ in 0..<10_000 {
            let v = rng.next() >> (rng.next() % 64)
            let i = LatencyHistogram.index(of: v)
            #expect(LatencyHistogram.lowerBound(of: i) <= v && v <= LatencyHistogram.upperBound(of: i), "value \(v), seed 7")
        }
        #expect(LatencyHistogram.index(of: .max) == LatencyHistogram.bucketCount - 1)
    }

    @Test func percentilesWithinThreePercentOfExact() {
        let seed = UInt64.random(in: 1...UInt64.max)
        var rng = SeededGenerator(seed: seed)
        var h = LatencyHistogram()
        var samples: [UInt64] = []
        for _ in 0..<20_000 {
            // Log-uniform between 10 µs and 1 s, like latencies.
            let v = UInt64(exp(Double.random(in: log(1e4)...log(1e9), using: &rng)))
            samples.append(v)
            h.record(v)
        }
        samples.sort()
        for q in [0.5, 0.9, 0.99, 0.999] {
            let exact = Double(samples[Int((q * Double(samples.count)).rounded(.up)) - 1])
            let got = Double(h.percentile(q))
            #expect(abs(got - exact) / exact <= 1.0 / 32 + 1e-9, "q=\(q) exact=\(exact) got=\(got) seed=\(seed)")
        }
    }

    @Test func mergeEqualsRecordingEverythingInOne() {
        let seed = UInt64.random(in: 1...UInt64.max)
        var rng = SeededGenerator(seed: seed)
        var a = LatencyHistogram()
        var b = LatencyHistogram()
        var all = LatencyHistogram()
        for i in 0..<5_000 {
            let v = rng.next() % 50_000_000
            if i % 3 == 0 { a.record(v) } else { b.record(v) }
            all.record(v)
        }
        a.merge(b)
        #expect(a == all, "seed=\(seed)")
    }

    @Test func durationsRecordInNanoseconds() {
        var h = LatencyHistogram()
        h.record(Duration.milliseconds(2))
        #expect(h.max == 2_000_000)
    }
}
