// Request-target helpers for route matching. The raw target is forwarded untouched; these only compute the key
// that routes are matched against.

/// RFC 3986 unreserved: ALPHA / DIGIT / "-" / "." / "_" / "~".
@inline(__always) func isUnreserved(_ b: UInt8) -> Bool {
    if b < 64 { return (0x03ff_6000_0000_0000 as UInt64) &>> UInt64(b) & 1 != 0 }
    if b < 128 { return (0x47ff_fffe_87ff_fffe as UInt64) &>> UInt64(b &- 64) & 1 != 0 }
    return false
}

/// Splits a request target at the first `?`: `("/a/b", "x=1")` for `/a/b?x=1`; query is nil without `?`.
public func splitTarget(_ target: String) -> (path: Substring, query: Substring?) {
    let u = target.utf8
    if let q = u.firstIndex(of: 0x3F) {
        return (target[..<q], target[u.index(after: q)...])
    }
    return (target[...], nil)
}

/// The path of `target` normalized for route matching, or nil if the target is not usable for routing.
///
/// - origin-form `/p?q` → path part; absolute-form `scheme://authority/p?q` → `/p` (empty path → `/`); `*` → `*`.
///   Anything else (authority-form, relative paths, empty) → nil.
/// - Bytes outside visible ASCII (0x21–0x7E), a `#` in the path, or a malformed `%` escape → nil.
/// - `%XX` encoding an unreserved character (ALPHA / DIGIT / `-._~`) is decoded; other escapes are kept with
///   uppercase hex (so `%2F` never becomes a separator).
/// - Runs of `/` collapse to one; `.` and `..` segments are removed (RFC 3986 §5.2.4, after decoding, so `%2e%2e`
///   counts as `..`); `..` above the root stays at the root. A trailing `/` (or trailing dot segment) is kept.
/// - No other rewriting: case, `;` parameters and `\` are left as they are.
public func normalizedPath(ofTarget target: String) -> String? {
    var t = target
    return t.withUTF8 { normalizePath(UnsafeRawBufferPointer($0)) }
}

private func normalizePath(_ p: UnsafeRawBufferPointer) -> String? {
    let n = p.count
    guard n > 0 else { return nil }
    for i in 0..<n {
        let b = p.at(i)
        if b < 0x21 || b > 0x7E { return nil }
    }
    if n == 1 && p.at(0) == 0x2A { return "*" }
    var ps = 0
    if p.at(0) != 0x2F {
        // absolute-form: scheme "://" authority path-abempty
        var i = 0
        let c0 = p.at(0) | 0x20
        guard c0 >= 0x61 && c0 <= 0x7A else { return nil }
        i = 1
        while i < n {
            let b = p.at(i)
            let l = b | 0x20
            if (l >= 0x61 && l <= 0x7A) || (b >= 0x30 && b <= 0x39) || b == 0x2B || b == 0x2D || b == 0x2E {
                i += 1
            } else { break }
        }
        guard i + 3 <= n, p.at(i) == 0x3A, p.at(i + 1) == 0x2F, p.at(i + 2) == 0x2F else { return nil }
        i += 3
        while i < n, p.at(i) != 0x2F, p.at(i) != 0x3F, p.at(i) != 0x23 { i += 1 }
        if i == n || p.at(i) == 0x3F { return "/" }
        if p.at(i) == 0x23 { return nil }
        ps = i
    }
    var pe = ps
    while pe < n, p.at(pe) != 0x3F {
        if p.at(pe) == 0x23 { return nil }
        pe += 1
    }

    var out: [UInt8] = []
    out.reserveCapacity(pe - ps)
    var segStarts: [Int] = []
    var trailingSlash = false
    var i = ps
    while i < pe {
        // p[i] == "/": skip the run.
        while i < pe && p.at(i) == 0x2F { i += 1 }
        if i == pe { trailingSlash = true; break }
        let segStart = out.count
        out.append(0x2F)
        while i < pe {
            let b = p.at(i)
            if b == 0x2F { break }
            if b == 0x25 {
                guard i + 2 < pe, let h = hexValue(p.at(i + 1)), let l = hexValue(p.at(i + 2)) else { return nil }
                let v = h << 4 | l
                if isUnreserved(v) {
                    out.append(v)
                } else {
                    out.append(0x25)
                    out.append(h < 10 ? h + 0x30 : h + 0x37)
                    out.append(l < 10 ? l + 0x30 : l + 0x37)
                }
                i += 3
            } else {
                out.append(b)
                i += 1
            }
        }
        let len = out.count - segStart   // includes the leading "/"
        if len == 2 && out[segStart + 1] == 0x2E {
            out.removeSubrange(segStart...)
            trailingSlash = true
        } else if len == 3 && out[segStart + 1] == 0x2E && out[segStart + 2] == 0x2E {
            out.removeSubrange(segStart...)
            if let prev = segStarts.popLast() { out.removeSubrange(prev...) }
            trailingSlash = true
        } else {
            segStarts.append(segStart)
            trailingSlash = false
        }
    }
    if out.isEmpty || trailingSlash { out.append(0x2F) }
    return String(decoding: out, as: UTF8.self)
}
