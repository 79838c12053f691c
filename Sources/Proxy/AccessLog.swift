import EventLoop
import Glibc

/// One access-log record (DESIGN.md §4). Never holds a token.
struct AccessRecord {
    var time: Double
    var route: String
    var method: String
    var path: String          // already redacted
    var status: Int
    var bytesSent: UInt64
    var durationMs: Double
    var upstream: String
    var auth: String
    var subject: String?
    var peer: String
}

/// Per-loop buffered JSON-lines writer on stdout, flushed once per batch of events.
/// Thread-safety: confined to its loop's queue.
final class AccessLog {
    private var buffer: [UInt8] = []
    private unowned(unsafe) let loop: EventLoop
    private var flushScheduled = false

    init(loop: EventLoop) { self.loop = loop; buffer.reserveCapacity(16384) }

    func write(_ r: AccessRecord) {
        buffer.append(contentsOf: "{\"time\":\"".utf8)
        appendTimestamp(r.time, into: &buffer)
        buffer.append(contentsOf: "\",\"route\":".utf8); JSONText.appendString(r.route, into: &buffer)
        buffer.append(contentsOf: ",\"method\":".utf8); JSONText.appendString(r.method, into: &buffer)
        buffer.append(contentsOf: ",\"path\":".utf8); JSONText.appendString(r.path, into: &buffer)
        buffer.append(contentsOf: ",\"status\":".utf8); Rewrite.appendDecimal(r.status, into: &buffer)
        buffer.append(contentsOf: ",\"bytes\":".utf8); Rewrite.appendDecimal(r.bytesSent, into: &buffer)
        buffer.append(contentsOf: ",\"duration_ms\":".utf8)
        let micros = Int((r.durationMs * 1000).rounded())
        Rewrite.appendDecimal(micros / 1000, into: &buffer); buffer.append(0x2E)
        let frac = micros % 1000
        if frac < 100 { buffer.append(0x30) }; if frac < 10 { buffer.append(0x30) }
        Rewrite.appendDecimal(frac, into: &buffer)
        buffer.append(contentsOf: ",\"upstream\":".utf8); JSONText.appendString(r.upstream, into: &buffer)
        buffer.append(contentsOf: ",\"auth\":".utf8); JSONText.appendString(r.auth, into: &buffer)
        if let s = r.subject { buffer.append(contentsOf: ",\"subject\":".utf8); JSONText.appendString(s, into: &buffer) }
        buffer.append(contentsOf: ",\"peer\":".utf8); JSONText.appendString(r.peer, into: &buffer)
        buffer.append(contentsOf: "}\n".utf8)
        if buffer.count > 60000 { flush() }
        if !flushScheduled {
            flushScheduled = true
            loop.deferUntilIdle { [self] in flushScheduled = false; flush() }
        }
    }

    func flush() {
        guard !buffer.isEmpty else { return }
        buffer.withUnsafeBytes { p in
            var off = 0
            while off < p.count {
                let n = Glibc.write(1, p.baseAddress! + off, p.count - off)
                if n <= 0 { if errno == EINTR { continue }; break }
                off += n
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }
}

/// RFC 3339 UTC timestamp with milliseconds, without Foundation.
func appendTimestamp(_ t: Double, into out: inout [UInt8]) {
    let secs = Int(t.rounded(.down))
    let ms = Int((t - Double(secs)) * 1000)
    var days = secs / 86400
    let rem = secs % 86400
    // Civil from days (Howard Hinnant).
    days += 719468
    let era = days / 146097
    let doe = days - era * 146097
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
    var y = yoe + era * 400
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let d = doy - (153 * mp + 2) / 5 + 1
    let m = mp < 10 ? mp + 3 : mp - 9
    if m <= 2 { y += 1 }
    func two(_ v: Int) { out.append(UInt8(0x30 + v / 10)); out.append(UInt8(0x30 + v % 10)) }
    Rewrite.appendDecimal(y, into: &out); out.append(0x2D); two(m); out.append(0x2D); two(d)
    out.append(0x54); two(rem / 3600); out.append(0x3A); two(rem % 3600 / 60); out.append(0x3A); two(rem % 60)
    out.append(0x2E); out.append(UInt8(0x30 + ms / 100)); two(ms % 100); out.append(0x5A)
}
