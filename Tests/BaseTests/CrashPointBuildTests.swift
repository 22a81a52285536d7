import Foundation
import Testing

/// The crash-point test build (`Tools/build-crash-points`: release with
/// `-DFLOTILLA_CRASH_POINTS`) only reaches a crash point whose guard names that flag: a bare
/// `#if DEBUG` around a fault hook silently turns the point into a plain kill -9 there (the
/// s6-fsync merge did this to the WAL's hooks, caught by batch A of session 7). Every
/// `#if DEBUG` in the server's sources must therefore also admit the flag.
@Suite struct CrashPointBuildTests {
    @Test func everyDebugGuardAlsoAdmitsTheCrashPointBuild() throws {
        let sources = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources")
        let files = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)?
            .compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" } ?? []
        #expect(files.count > 100, "found only \(files.count) source files under \(sources.path)")
        var bare: [String] = []
        for file in files {
            let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            for (i, line) in lines.enumerated() {
                let t = line.trimmingCharacters(in: .whitespaces)
                if t.hasPrefix("#if DEBUG") && !t.contains("FLOTILLA_CRASH_POINTS") {
                    bare.append("\(file.lastPathComponent):\(i + 1): \(t)")
                }
            }
        }
        #expect(bare.isEmpty, "guards the crash-point build skips: \(bare)")
    }
}
