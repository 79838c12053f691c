// IPAddress parsing and CIDR membership (trusted_proxies).

import XCTest
@testable import GatewayConfig

final class IPAddressTests: XCTestCase {
    func testParseIPv4() {
        XCTAssertEqual(IPAddress("192.0.2.1"), .v4(0xC000_0201))
        XCTAssertEqual(IPAddress("0.0.0.0"), .v4(0))
        XCTAssertEqual(IPAddress("255.255.255.255"), .v4(.max))
        XCTAssertEqual(IPAddress(v4Bytes: 10, 1, 2, 3), IPAddress("10.1.2.3"))
        for bad in ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1..2.3", "1.2.3.4 ", "a.b.c.d", "1.2.3.-4", "1234.1.1.1"] {
            XCTAssertNil(IPAddress(bad), bad)
        }
    }

    func testParseIPv6() {
        XCTAssertEqual(IPAddress("::"), .v6(hi: 0, lo: 0))
        XCTAssertEqual(IPAddress("::1"), .v6(hi: 0, lo: 1))
        XCTAssertEqual(IPAddress("2001:db8::1"), .v6(hi: 0x2001_0db8_0000_0000, lo: 1))
        XCTAssertEqual(IPAddress("2001:DB8:0:0:0:0:0:1"), IPAddress("2001:db8::1"))
        XCTAssertEqual(IPAddress("fe80::1%eth0"), IPAddress("fe80::1"))
        XCTAssertEqual(IPAddress("[::1]"), IPAddress("::1"))
        XCTAssertEqual(IPAddress("::ffff:192.0.2.1"), .v6(hi: 0, lo: 0xffff_c000_0201))
        XCTAssertEqual(IPAddress("1:2:3:4:5:6:7::"), .v6(hi: 0x0001_0002_0003_0004, lo: 0x0005_0006_0007_0000))
        XCTAssertEqual(IPAddress("::2:3:4:5:6:7:8"), .v6(hi: 0x0000_0002_0003_0004, lo: 0x0005_0006_0007_0008))
        for bad in [":", ":::", "1::2::3", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "12345::", "g::1", "::1.2.3", "1.2.3.4::",
                    "1:2:3:4:5:6:7::8", "fe80::1%", ":1::", "1::2:"] {
            XCTAssertNil(IPAddress(bad), bad)
        }
    }

    func testDescriptions() {
        XCTAssertEqual(IPAddress("2001:db8:0:0:1:0:0:1")?.description, "2001:db8::1:0:0:1")
        XCTAssertEqual(IPAddress("::")?.description, "::")
        XCTAssertEqual(IPAddress("::1")?.description, "::1")
        XCTAssertEqual(IPAddress("1::")?.description, "1::")
        XCTAssertEqual(IPAddress("1:2:3:4:5:6:7:8")?.description, "1:2:3:4:5:6:7:8")
        XCTAssertEqual(IPAddress("::ffff:10.0.0.1")?.description, "::ffff:10.0.0.1")
        XCTAssertEqual(IPAddress("10.0.0.1")?.bytes, [10, 0, 0, 1])
        XCTAssertEqual(IPAddress("::1")?.bytes, Array(repeating: 0, count: 15) + [1])
        XCTAssertEqual(IPAddress(v6Bytes: IPAddress("2001:db8::7")!.bytes), IPAddress("2001:db8::7"))
    }

    func testCIDRv4() throws {
        let net = try XCTUnwrap(CIDR("10.0.0.0/8"))
        XCTAssertTrue(net.contains(IPAddress("10.0.0.1")!))
        XCTAssertTrue(net.contains(IPAddress("10.255.255.255")!))
        XCTAssertFalse(net.contains(IPAddress("11.0.0.0")!))
        XCTAssertFalse(net.contains(IPAddress("9.255.255.255")!))
        XCTAssertFalse(net.contains(IPAddress("::1")!))
        XCTAssertFalse(net.contains(IPAddress("::a00:1")!), "IPv4-compatible (not mapped) addresses do not match")

        let host = try XCTUnwrap(CIDR("192.168.1.7"))
        XCTAssertEqual(host.prefixLength, 32)
        XCTAssertTrue(host.contains(IPAddress("192.168.1.7")!))
        XCTAssertFalse(host.contains(IPAddress("192.168.1.8")!))

        let all = try XCTUnwrap(CIDR("0.0.0.0/0"))
        XCTAssertTrue(all.contains(IPAddress("203.0.113.9")!))
        XCTAssertFalse(all.contains(IPAddress("2001:db8::1")!))

        XCTAssertEqual(CIDR("10.1.2.3/8")?.description, "10.0.0.0/8")
        for bad in ["10.0.0.0/33", "10.0.0.0/", "10.0.0.0/-1", "10.0.0/8", "/8", "10.0.0.0/8/8", "10.0.0.0/a"] {
            XCTAssertNil(CIDR(bad), bad)
        }
    }

    func testV4MappedV6MatchesV4CIDR() throws {
        let net = try XCTUnwrap(CIDR("10.0.0.0/8"))
        XCTAssertTrue(net.contains(IPAddress("::ffff:10.1.2.3")!))
        XCTAssertTrue(net.contains(IPAddress("::FFFF:10.1.2.3")!))
        XCTAssertFalse(net.contains(IPAddress("::ffff:11.1.2.3")!))
        XCTAssertTrue(CIDR("127.0.0.1")!.contains(IPAddress("::ffff:127.0.0.1")!))
        // And an IPv4 peer matches a v6 block written over the mapped range.
        XCTAssertTrue(CIDR("::ffff:0:0/96")!.contains(IPAddress("192.0.2.1")!))
    }

    func testCIDRv6() throws {
        let net = try XCTUnwrap(CIDR("2001:db8::/32"))
        XCTAssertTrue(net.contains(IPAddress("2001:db8::1")!))
        XCTAssertTrue(net.contains(IPAddress("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")!))
        XCTAssertFalse(net.contains(IPAddress("2001:db9::")!))
        XCTAssertFalse(net.contains(IPAddress("10.0.0.1")!))
        let odd = try XCTUnwrap(CIDR("fd00::/7"))
        XCTAssertTrue(odd.contains(IPAddress("fc00::1")!))
        XCTAssertTrue(odd.contains(IPAddress("fdff::1")!))
        XCTAssertFalse(odd.contains(IPAddress("fe00::1")!))
        let long = try XCTUnwrap(CIDR("2001:db8::80/121"))
        XCTAssertTrue(long.contains(IPAddress("2001:db8::ff")!))
        XCTAssertFalse(long.contains(IPAddress("2001:db8::7f")!))
        XCTAssertEqual(CIDR("::1")?.prefixLength, 128)
        XCTAssertTrue(CIDR("::/0")!.contains(IPAddress("10.0.0.1")!))
        XCTAssertNil(CIDR("::/129"))
        XCTAssertNil(CIDR("fe80::1%eth0/64"))
    }
}
