import XCTest
final class HTTPCoreTestsPlaceholder: XCTestCase { func testNothing() {} }
