import Foundation
import Testing

/// Runs every script in `testdata/` (see `ScenarioScript` for the format and
/// `ScenarioEnv` for the commands). `REWRITE=1 swift test --filter ScenarioTests`
/// regenerates the expected outputs; review the diff before committing.
@Suite struct ScenarioTests {
    static let directory: String = {
        var path = #filePath
        while let last = path.last, last != "/" { path.removeLast() }
        return path + "testdata"
    }()

    static let files: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".txt") }.sorted()
    }()

    @Test func scriptsExist() {
        #expect(Self.files.count >= 10, "no scenario scripts found in \(Self.directory)")
    }

    @Test(arguments: files) func scenario(_ file: String) throws {
        let path = Self.directory + "/" + file
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let script = ScenarioScript(parsing: text)
        let env = ScenarioEnv()
        var actual: [Int: [String]] = [:]
        let rewrite = ProcessInfo.processInfo.environment["REWRITE"] == "1"
        for item in script.items {
            guard case .testCase(let c) = item else { continue }
            let out = env.run(c.command)
            actual[c.line] = out
            if !rewrite {
                let firstDiff = zip(out, c.expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
                    ?? min(out.count, c.expected.count)
                #expect(out == c.expected, """
                    \(file):\(c.line): \(c.command)
                    first difference at output line \(firstDiff + 1):
                    expected: \(firstDiff < c.expected.count ? c.expected[firstDiff] : "<end>")
                    actual:   \(firstDiff < out.count ? out[firstDiff] : "<end>")
                    """)
            }
        }
        if rewrite {
            try script.rendered(actual: actual).write(toFile: path, atomically: true, encoding: .utf8)
        }
    }
}
