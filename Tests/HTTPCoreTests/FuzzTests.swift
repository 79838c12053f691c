import XCTest
@testable import HTTPCore

/// Deterministic xorshift generator so failures reproduce.
struct XorShift: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }
    mutating func next() -> UInt64 {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return state
    }
}

enum Outcome<H: Equatable>: Equatable {
    case ok([Rec<H>], leftover: [UInt8])
    case error(HTTPParseError)
}

/// Feeds with random piece sizes.
func driveRandomly<H: Equatable>(_ input: [UInt8], rng: inout XorShift,
                                 _ parse: (UnsafeRawBufferPointer) throws -> HTTPParseEvent<H>) -> Outcome<H> {
    var pending: [UInt8] = []
    var records: [Rec<H>] = []
    var offset = 0
    do {
        repeat {
            let n = min(Int(rng.next() % 40) + 1, input.count - offset)
            pending.append(contentsOf: input[offset..<(offset + n)])
            offset += n
            inner: while true {
                let ev = try pending.withUnsafeBytes { try parse($0) }
                switch ev {
                case .needMore(let c): pending.removeFirst(c); break inner
                case .head(let h, let c): records.append(.head(h)); pending.removeFirst(c)
                case .body(let r, let c):
                    let chunk = Array(pending[r])
                    if case .body(let prev)? = records.last { records[records.count - 1] = .body(prev + chunk) } else { records.append(.body(chunk)) }
                    pending.removeFirst(c)
                case .end(let t, let c): records.append(.end(t)); pending.removeFirst(c)
                }
            }
        } while offset < input.count
    } catch {
        return .error(error as! HTTPParseError)
    }
    return .ok(records, leftover: pending)
}

func outcome<H: Equatable>(_ f: () throws -> DriveResult<H>) -> Outcome<H> {
    do { let r = try f(); return .ok(r.records, leftover: r.leftover) } catch { return .error(error as! HTTPParseError) }
}

final class FuzzTests: XCTestCase {
    func testValueValidationEveryPosition() throws {
        // Long values exercise the 8-byte-at-a-time path; every position must be checked.
        for len in [1, 7, 8, 9, 16, 23, 40] {
            for pos in 0..<len {
                for bad: UInt8 in [0x00, 0x01, 0x0D, 0x1F, 0x7F] {
                    var v = [UInt8](repeating: 0x61, count: len)
                    v[pos] = bad
                    var p = HTTPRequestParser()
                    XCTAssertThrowsError(try p.parse(bytes("GET / HTTP/1.1\r\nHost: h\r\nX: ") + v + bytes("\r\n\r\n")),
                                         "len \(len) pos \(pos) byte \(bad)") {
                        XCTAssertEqual($0 as? HTTPParseError, .invalidFieldValue)
                    }
                }
                for good: UInt8 in [0x09, 0x20, 0x21, 0x7E, 0x80, 0xFF] {
                    var v = [UInt8](repeating: 0x61, count: len)
                    v[pos] = good
                    var p = HTTPRequestParser()
                    let ev = try p.parse(bytes("GET / HTTP/1.1\r\nHost: h\r\nX: ") + v + bytes("\r\n\r\n"))
                    guard case .head(let h, _) = ev else { return XCTFail() }
                    let value = h.fields["X"]!
                    // Whitespace at the edges is trimmed; otherwise lossless (ASCII / ISO-8859-1).
                    let expected = v.drop { $0 == 0x09 || $0 == 0x20 }.reversed().drop { $0 == 0x09 || $0 == 0x20 }.reversed()
                    XCTAssertEqual(value.unicodeScalars.map { UInt32($0.value) }, expected.map { UInt32($0) },
                                   "len \(len) pos \(pos) byte \(good)")
                }
            }
        }
    }

    func testSegmentationIndependenceRequests() throws {
        let (input, _, _) = RequestParserTests.pipelinedInput(count: 40)
        var rng = XorShift(seed: 42)
        let reference = outcome { try driveRequests(input) }
        for _ in 0..<50 {
            var p = HTTPRequestParser()
            XCTAssertEqual(driveRandomly(input, rng: &rng) { try p.parse($0) }, reference)
        }
    }

    /// Random byte mutations: never crash, and the outcome never depends on how the bytes were split.
    func testMutationsSegmentationIndependent() throws {
        let (base, _, _) = RequestParserTests.pipelinedInput(count: 8)
        var rng = XorShift(seed: 7)
        let interesting: [UInt8] = [0x0D, 0x0A, 0x20, 0x09, 0x3A, 0x3B, 0x2C, 0x30, 0x61, 0x00, 0x7F, 0xFF, 0x46]
        var errors = 0
        for _ in 0..<600 {
            var input = base
            for _ in 0..<Int(rng.next() % 3 + 1) {
                let i = Int(rng.next() % UInt64(input.count))
                switch rng.next() % 3 {
                case 0: input[i] = interesting[Int(rng.next() % UInt64(interesting.count))]
                case 1: input.remove(at: i)
                default: input.insert(interesting[Int(rng.next() % UInt64(interesting.count))], at: i)
                }
            }
            let limits = HTTPParserLimits(maxHeaderBytes: 200, maxFieldCount: 10, maxTrailerBytes: 64)
            let one = outcome { try driveRequests(input, limits: limits) }
            let drip = outcome { try driveRequests(input, step: 1, limits: limits) }
            XCTAssertEqual(one, drip)
            var p = HTTPRequestParser(limits: limits)
            XCTAssertEqual(driveRandomly(input, rng: &rng) { try p.parse($0) }, one)
            if case .error = one { errors += 1 }
        }
        XCTAssertGreaterThan(errors, 100)   // the mutations do hit reject paths
    }

    func testResponseMutationsSegmentationIndependent() throws {
        let base = bytes("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd"
            + "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x\r\nabc\r\n0\r\nT: 1\r\n\r\n"
            + "HTTP/1.1 304 Not Modified\r\n\r\nHTTP/1.0 200 OK\r\n\r\ntail")
        var rng = XorShift(seed: 99)
        let interesting: [UInt8] = [0x0D, 0x0A, 0x20, 0x09, 0x3A, 0x3B, 0x31, 0x00, 0x7F, 0xFF]
        for _ in 0..<400 {
            var input = base
            let i = Int(rng.next() % UInt64(input.count))
            input[i] = interesting[Int(rng.next() % UInt64(interesting.count))]
            let one = outcome { try driveResponses(input) }
            let drip = outcome { try driveResponses(input, step: 1) }
            XCTAssertEqual(one, drip)
        }
    }
}
