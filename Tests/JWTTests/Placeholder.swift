import XCTest
final class JWTTestsPlaceholder: XCTestCase { func testNothing() {} }
