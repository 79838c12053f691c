import XCTest
@testable import HTTPCore

/// A parse result with body bytes copied out (adjacent body events merged), so runs with different feeding
/// strategies can be compared for equality.
enum Rec<H: Equatable>: Equatable {
    case head(H)
    case body([UInt8])
    case end(HTTPFields)
}

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

struct DriveResult<H: Equatable> {
    var records: [Rec<H>]
    var leftover: [UInt8]
}

/// Feeds `input` in pieces of `step` bytes (0 = all at once) following the consumed/retain contract.
func drive<H: Equatable>(_ input: [UInt8], step: Int = 0,
                         file: StaticString = #filePath, line: UInt = #line,
                         _ parse: (UnsafeRawBufferPointer) throws -> HTTPParseEvent<H>) throws -> DriveResult<H> {
    var pending: [UInt8] = []
    var records: [Rec<H>] = []
    var offset = 0
    var guardCount = 0
    repeat {
        let n = step == 0 ? input.count : min(step, input.count - offset)
        pending.append(contentsOf: input[offset..<(offset + n)])
        offset += n
        inner: while true {
            guardCount += 1
            if guardCount > 10_000_000 { XCTFail("no progress", file: file, line: line); break }
            let ev = try pending.withUnsafeBytes { try parse($0) }
            switch ev {
            case .needMore(let c):
                XCTAssert(c >= 0 && c <= pending.count, "needMore consumed out of range", file: file, line: line)
                pending.removeFirst(c)
                break inner
            case .head(let h, let c):
                XCTAssert(c > 0 && c <= pending.count, file: file, line: line)
                records.append(.head(h))
                pending.removeFirst(c)
            case .body(let r, let c):
                XCTAssert(r.lowerBound >= 0 && r.upperBound <= c && c <= pending.count && !r.isEmpty,
                          "body range \(r) consumed \(c) of \(pending.count)", file: file, line: line)
                let chunk = Array(pending[r])
                if case .body(let prev)? = records.last {
                    records[records.count - 1] = .body(prev + chunk)
                } else {
                    records.append(.body(chunk))
                }
                pending.removeFirst(c)
            case .end(let t, let c):
                XCTAssert(c >= 0 && c <= pending.count, file: file, line: line)
                records.append(.end(t))
                pending.removeFirst(c)
            }
        }
    } while offset < input.count
    return DriveResult(records: records, leftover: pending)
}

func driveRequests(_ input: [UInt8], step: Int = 0, limits: HTTPParserLimits = .init(),
                   file: StaticString = #filePath, line: UInt = #line) throws -> DriveResult<HTTPRequestHead> {
    var p = HTTPRequestParser(limits: limits)
    return try drive(input, step: step, file: file, line: line) { try p.parse($0) }
}

func driveRequests(_ s: String, step: Int = 0, limits: HTTPParserLimits = .init(),
                   file: StaticString = #filePath, line: UInt = #line) throws -> DriveResult<HTTPRequestHead> {
    try driveRequests(bytes(s), step: step, limits: limits, file: file, line: line)
}

/// Parses a single request head (one-shot) and returns it.
func requestHead(_ s: String, limits: HTTPParserLimits = .init(),
                 file: StaticString = #filePath, line: UInt = #line) throws -> HTTPRequestHead {
    var p = HTTPRequestParser(limits: limits)
    let ev = try p.parse(bytes(s))
    guard case .head(let h, let c) = ev else {
        XCTFail("expected head, got \(ev)", file: file, line: line)
        throw HTTPParseError.invalidRequestLine
    }
    XCTAssertEqual(c, s.utf8.count, file: file, line: line)
    return h
}

/// Asserts that feeding `input` to a request parser throws exactly `expected`, both one-shot and drip-fed.
func assertRequestError(_ expected: HTTPParseError, _ input: String, limits: HTTPParserLimits = .init(),
                        file: StaticString = #filePath, line: UInt = #line) {
    assertRequestError(expected, bytes(input), limits: limits, file: file, line: line)
}

func assertRequestError(_ expected: HTTPParseError, _ input: [UInt8], limits: HTTPParserLimits = .init(),
                        file: StaticString = #filePath, line: UInt = #line) {
    for step in [0, 1, 7] {
        do {
            let r = try driveRequests(input, step: step, limits: limits, file: file, line: line)
            XCTFail("step \(step): expected \(expected), got \(r.records)", file: file, line: line)
        } catch let e as HTTPParseError {
            XCTAssertEqual(e, expected, "step \(step)", file: file, line: line)
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
        }
    }
}

func driveResponses(_ input: [UInt8], step: Int = 0, method: String = "GET", limits: HTTPParserLimits = .init(),
                    file: StaticString = #filePath, line: UInt = #line) throws -> DriveResult<HTTPResponseHead> {
    var p = HTTPResponseParser(limits: limits)
    p.expectResponse(toMethod: method)
    return try drive(input, step: step, file: file, line: line) { buf in
        let ev = try p.parse(buf)
        if case .end = ev { p.expectResponse(toMethod: method) }
        return ev
    }
}

func driveResponses(_ s: String, step: Int = 0, method: String = "GET", limits: HTTPParserLimits = .init(),
                    file: StaticString = #filePath, line: UInt = #line) throws -> DriveResult<HTTPResponseHead> {
    try driveResponses(bytes(s), step: step, method: method, limits: limits, file: file, line: line)
}

func assertResponseError(_ expected: HTTPParseError, _ input: String, method: String = "GET",
                         limits: HTTPParserLimits = .init(), file: StaticString = #filePath, line: UInt = #line) {
    for step in [0, 1, 5] {
        do {
            let r = try driveResponses(bytes(input), step: step, method: method, limits: limits, file: file, line: line)
            XCTFail("step \(step): expected \(expected), got \(r.records)", file: file, line: line)
        } catch let e as HTTPParseError {
            XCTAssertEqual(e, expected, "step \(step)", file: file, line: line)
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
        }
    }
}

extension Rec {
    var head: H? { if case .head(let h) = self { return h }; return nil }
}
