/// etcdctl's `-w table` (olekukonko/tablewriter's default look): a ruled box, headers
/// centered, cells right-aligned, one space of padding. Pure function of the rows.
enum TableFormat {
    static func render(header: [String], rows: [[String]]) -> String {
        var widths = header.map(\.count)
        for r in rows {
            for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) }
        }
        let rule = "+" + widths.map { String(repeating: "-", count: $0 + 2) + "+" }.joined() + "\n"
        func line(_ cells: [String], center: Bool) -> String {
            var s = "|"
            for (i, w) in widths.enumerated() {
                let c = i < cells.count ? cells[i] : ""
                let pad = w - c.count
                if center {
                    let left = pad / 2
                    s += " " + String(repeating: " ", count: left) + c + String(repeating: " ", count: pad - left) + " |"
                } else {
                    s += " " + String(repeating: " ", count: pad) + c + " |"
                }
            }
            return s + "\n"
        }
        var out = rule + line(header, center: true) + rule
        for r in rows { out += line(r, center: false) }
        return out + rule
    }

    static let memberHeader = ["ID", "STATUS", "NAME", "PEER ADDRS", "CLIENT ADDRS", "IS LEARNER"]
    static let statusHeader = [
        "ENDPOINT", "ID", "VERSION", "DB SIZE", "IS LEADER", "IS LEARNER", "RAFT TERM", "RAFT INDEX",
        "RAFT APPLIED INDEX", "ERRORS",
    ]
}
