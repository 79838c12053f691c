// Broken route files: each asserts the exact diagnostics (`file:line:col: path: message`), all at once.

import XCTest
@testable import GatewayConfig

/// Parses `yaml` as `gw.conf` and asserts the diagnostics' text; the config must be nil iff there is an error.
func assertDiagnostics(_ yaml: String, _ expected: [String], file: StaticString = #filePath, line: UInt = #line) {
    let r = ConfigLoader.parse(yaml: yaml, file: "gw.conf")
    XCTAssertEqual(r.diagnostics.map(\.description), expected, file: file, line: line)
    let hasError = r.diagnostics.contains { $0.severity == .error }
    XCTAssertEqual(r.config == nil, hasError, "config must be nil iff there is an error", file: file, line: line)
}

final class DiagnosticTests: XCTestCase {
    func testMinimalFileIsValid() {
        assertDiagnostics("""
            listen: [{ address: ":8080" }]
            upstreams:
              app: { servers: ["http://127.0.0.1:9000"] }
            routes:
              - name: r
                upstream: app
                auth: off
            """, [])
    }

    func testUnknownKeyWithSuggestion() {
        assertDiagnostics("""
            listen: [{ address: ":8080" }]
            limits: { idle_timout: 10s }
            upstreams:
              app: { servers: ["http://127.0.0.1:9000"] }
            routes:
              - name: r
                upstream: app
                auth: off
            """, [#"gw.conf:2:11: limits: unknown key "idle_timout" (did you mean "idle_timeout"?)"#])
    }

    func testMisspeltRequiredKeyIsReportedOnce() {
        assertDiagnostics("""
            listen: [{ address: ":8080" }]
            keys:
              k: { algorithms: [HS256], secert: { env: S } }
            upstreams:
              app: { servers: ["http://127.0.0.1:9000"] }
            routes:
              - name: r
                uptream: app
                atuh: { keys: [k], tokens: [{ query: t }] }
            """, [
                #"gw.conf:3:29: keys.k: unknown key "secert" (did you mean "secret"?)"#,
                #"gw.conf:8:5: routes[0]: unknown key "uptream" (did you mean "upstream"?)"#,
                #"gw.conf:9:5: routes[0]: unknown key "atuh" (did you mean "auth"?)"#,
            ])
    }

    func testUnknownKeyListsValidKeys() {
        assertDiagnostics("""
            listen: [{ address: ":8080" }]
            upstreams:
              app: { servers: ["http://127.0.0.1:9000"] }
            routes:
              - name: r
                upstream: app
                auth: off
            frobnicate: 3
            """, [#"gw.conf:8:1: unknown key "frobnicate" (valid keys: listen, admin, trusted_proxies, workers, limits, log, keys, upstreams, routes)"#])
    }

    func testUnknownKeySet() {
        assertDiagnostics("""
            listen: [{ address: ":8080" }]
            keys:
              onlyoffice: { algorithms: [HS256], secret: { env: OO_SECRET } }
              chat: { algorithms: [RS256], jwks: { file: /etc/jwks.json } }
            upstreams:
              docs: { servers: ["http://127.0.0.1:80"] }
            routes:
              - name: r
                upstream: docs
                auth:
                  keys: [onlyofice, chat]
                  tokens: [{ header: Authorization, prefix: "Bearer " }]
            """, [#"gw.conf:11:14: routes[0].auth.keys: unknown key set "onlyofice" (known: onlyoffice, chat)"#])
    }

    func testUnknownUpstream() {
        assertDiagnostics("""
            listen: [{ address: ":8080" }]
            upstreams:
              docs: { servers: ["http://127.0.0.1:80"] }
              chat: { servers: ["http://10.0.0.5:5000"] }
            routes:
              - name: a
                upstream: chat
                auth: off
              - name: b
                upstream: dcos
                auth: off
            """, [#"gw.conf:10:15: routes[1].upstream: unknown upstream "dcos" (known: docs, chat)"#])
    }

    func testAlgNone() {
        assertDiagnostics("""
            listen: [{ address: ":8080" }]
            keys:
              k: { algorithms: [HS256, none], secret: { env: S } }
            upstreams:
              app: { servers: ["http://127.0.0.1:9000"] }
            routes:
              - { name: r, upstream: app, auth: { keys: [k], tokens: [{ query: t }] } }
            """, ["gw.conf:3:28: keys.k.algorithms: alg none cannot be configured"])
    }

    func testHMACOnPublicKeyAndRSAOnSecret() {
        assertDiagnostics("""
            listen: [{ address: ":8080" }]
            keys:
              rtc:
                algorithms: [RS256, HS256]
                public_key: { file: /etc/portcullis/keys/rtc.pem }
              oo:
                algorithms: [HS512, RS256]
                secret: { value: "0123456789abcdef0123456789abcdef" }
            upstreams:
              app: { servers: ["http://127.0.0.1:9000"] }
            routes:
              - { name: r, upstream: app, auth: { keys: [rtc, oo], tokens: [{ query: t }] } }
            """, [
                "gw.conf:4:25: keys.rtc.algorithms: HS256 cannot be used with a public key (HS* needs a secret)",
                "gw.conf:7:25: keys.oo.algorithms: RS256 cannot be used with a secret (a secret verifies only HS256, HS384, HS512)",
            ])
    }

    func testOnePublicKeyCannotServeTwoKeyTypes() {
        assertDiagnostics("""
            listen: [{ address: ":8080" }]
            keys:
              rtc: { algorithms: [RS256, PS256, ES256], certificate: { file: rtc.crt } }
            upstreams:
              app: { servers: ["http://127.0.0.1:9000"] }
            routes:
              - { name: r, upstream: app, auth: { keys: [rtc], tokens: [{ query: t }] } }
            """, ["gw.conf:3:37: keys.rtc.algorithms: RS256 and ES256 need different key types; a certificate has one"])
    }

    func testDuplicateRouteNames() {
        assertDiagnostics("""
            listen: [{ address: ":8080" }]
            upstreams:
              app: { servers: ["http://127.0.0.1:9000"] }
            routes:
              - name: api
                match: { path_prefix: /v1/ }
                upstream: app
                auth: off
              - name: api
                match: { path_prefix: /v2/ }
                upstream: app
                auth: off
            """, [#"gw.conf:9:11: routes[1].name: duplicate route name "api" (first at line 5)"#])
    }

    func testDuplicateKeySetAndUpstreamNames() {
        // Yams 5 (pinned) keeps duplicate keys and the loader reports each; Yams 6 refuses the first itself.
        let yams6 = ConfigLoader.parse(yaml: "a: 1\na: 2\n", file: "gw.conf").diagnostics.map(\.description)
        if yams6 == [#"gw.conf:1:1: duplicate key "a""#] {
            assertDiagnostics("listen: []\nkeys:\n  chat: {}\n  chat: {}\n", [#"gw.conf:3:3: duplicate key "chat""#])
            return
        }
        assertDiagnostics("""
            listen: [{ address: ":8080" }]
            keys:
              chat: { algorithms: [HS256], secret: { env: A } }
              chat: { algorithms: [HS256], secret: { env: B } }
            upstreams:
              app: { servers: ["http://127.0.0.1:9000"] }
              app: { servers: ["http://127.0.0.1:9001"] }
            routes:
              - { name: r, upstream: app, auth: { keys: [chat], tokens: [{ query: t }] } }
            """, [
                #"gw.conf:4:3: keys: duplicate key "chat" (first at line 3)"#,
                #"gw.conf:7:3: upstreams: duplicate key "app" (first at line 6)"#,
            ])
    }

    func testBadDurationAndDurationWithoutUnit() {
        assertDiagnostics("""
            listen: [{ address: ":8080" }]
            limits:
              header_timeout: 10
              idle_timeout: 2 minutes
              drain_timeout: "30"
            upstreams:
              app: { servers: ["http://127.0.0.1:9000"] }
            routes:
              - { name: r, upstream: app, upstream_timeout: 1x, auth: off }
            """, [
                "gw.conf:3:19: limits.header_timeout: duration needs a unit (e.g. 30s)",
                #"gw.conf:4:17: limits.idle_timeout: invalid duration "2 minutes" (write e.g. 500ms, 30s, 10m, 24h or 1h30m)"#,
                "gw.conf:5:18: limits.drain_timeout: duration needs a unit (e.g. 30s)",
                #"gw.conf:9:49: routes[0].upstream_timeout: invalid duration "1x" (write e.g. 500ms, 30s, 10m, 24h or 1h30m)"#,
            ])
    }

    func testRouteWithoutAuthFailsClosed() {
        assertDiagnostics("""
            listen: [{ address: ":8080" }]
            upstreams:
              app: { servers: ["http://127.0.0.1:9000"] }
            routes:
              - name: a
                match: { path: /a }
                upstream: app
                auth: off
              - name: b
                match: { path: /b }
                upstream: app
            """, ["gw.conf:9:5: routes[1].auth: missing; write `auth: off` to make the route public"])
    }

    func testAuthOnIsRefused() {
        assertDiagnostics("""
            listen: [{ address: ":8080" }]
            upstreams:
              app: { servers: ["http://127.0.0.1:9000"] }
            routes:
              - { name: a, upstream: app, auth: on }
              - { name: b, upstream: app, auth: public }
            """, [
                "gw.conf:5:37: routes[0].auth: auth needs keys and tokens",
                #"gw.conf:6:37: routes[1].auth: expected `off` or a mapping with keys and tokens, found a string ("public")"#,
            ])
    }

    func testBadRegexAndBadPaths() {
        assertDiagnostics("""
            listen: [{ address: ":8080" }]
            upstreams:
              app: { servers: ["http://127.0.0.1:9000"] }
            routes:
              - name: r
                match:
                  path_regex: '^/(docs|api'
                  path: [/ok, relative, /a//b]
                  path_prefix: /x/../y/
                upstream: app
                auth: off
            """, [
                #"gw.conf:8:19: routes[0].match.path: path "relative" must start with "/""#,
                #"gw.conf:8:29: routes[0].match.path: path "/a//b" contains "//"; request paths are matched after merging slashes, so it would never match"#,
                #"gw.conf:9:20: routes[0].match.path_prefix: path "/x/../y/" contains a dot segment; request paths are matched after removing them, so it would never match"#,
                #"gw.conf:7:19: routes[0].match.path_regex: invalid regular expression "^/(docs|api""#,
            ])
    }

    func testBadHeaderNamesInClaimsToHeaders() {
        assertDiagnostics("""
            listen: [{ address: ":8080" }]
            keys:
              k: { algorithms: [HS256], secret: { env: S } }
            upstreams:
              app: { servers: ["http://127.0.0.1:9000"] }
            routes:
              - name: r
                upstream: app
                auth:
                  keys: [k]
                  tokens: [{ header: "X Token" }]
                  forward:
                    claims_to_headers: { sub: "X User", email: Host, name: X-Name, nick: x-name }
            """, [
                #"gw.conf:11:26: routes[0].auth.tokens[0].header: invalid header name "X Token""#,
                #"gw.conf:13:35: routes[0].auth.forward.claims_to_headers.sub: invalid header name "X User""#,
                "gw.conf:13:52: routes[0].auth.forward.claims_to_headers.email: cannot set Host: it is a framing, hop-by-hop or routing header",
                #"gw.conf:13:78: routes[0].auth.forward.claims_to_headers.nick: header x-name is already set from claim "name""#,
            ])
    }

    func testBadListenAddresses() {
        assertDiagnostics("""
            listen:
              - address: "0.0.0.0"
              - address: "0.0.0.0:99999"
              - address: "::1:80"
              - address: "[::1]:8080"
              - address: ":8080"
              - address: "[::]:8080"
              - address: ":8080"
            admin: { address: "300.1.1.1:9901" }
            upstreams:
              app: { servers: ["http://127.0.0.1:9000"] }
            routes:
              - { name: r, upstream: app, auth: off }
            """, [
                #"gw.conf:2:14: listen[0].address: invalid address "0.0.0.0" (expected HOST:PORT, e.g. 0.0.0.0:80, [::]:80, :8080)"#,
                #"gw.conf:3:14: listen[1].address: invalid port "99999" in "0.0.0.0:99999" (1-65535)"#,
                #"gw.conf:4:14: listen[2].address: invalid address "::1:80" (expected HOST:PORT, e.g. 0.0.0.0:80, [::]:80, :8080)"#,
                "gw.conf:8:14: listen[6].address: :8080 is listed twice (first at listen[4])",
                #"gw.conf:9:19: admin.address: invalid host "300.1.1.1" in "300.1.1.1:9901""#,
            ])
    }

    func testBadCIDRs() {
        assertDiagnostics("""
            listen: [{ address: ":8080" }]
            trusted_proxies: [10.0.0.0/8, 10.0.0.0/33, 10.0.0, "fd00::/129", 192.168.1.7, "2001:db8::/32", banana]
            upstreams:
              app: { servers: ["http://127.0.0.1:9000"] }
            routes:
              - { name: r, upstream: app, auth: off }
            """, [
                #"gw.conf:2:31: trusted_proxies: invalid CIDR "10.0.0.0/33" (prefix length must be 0-32)"#,
                #"gw.conf:2:44: trusted_proxies: invalid IP address or CIDR "10.0.0" (e.g. 10.0.0.0/8, 192.0.2.7, fd00::/8)"#,
                #"gw.conf:2:52: trusted_proxies: invalid CIDR "fd00::/129" (prefix length must be 0-128)"#,
                #"gw.conf:2:96: trusted_proxies: invalid IP address or CIDR "banana" (e.g. 10.0.0.0/8, 192.0.2.7, fd00::/8)"#,
            ])
    }

    func testYAMLSyntaxError() {
        assertDiagnostics("""
            listen: [{ address: ":8080" }]
            routes:
              - name: r
                upstream: app
               auth: off
            """, ["gw.conf:5:4: YAML syntax error: did not find expected '-' indicator (while parsing a block collection at 3:3)"])
    }

    func testUnclosedFlowIsASyntaxError() {
        assertDiagnostics("""
            listen: [{ address: ":8080" }
            routes: []
            """, ["gw.conf:2:1: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence at 1:9)"])
    }

    func testTypeErrors() {
        assertDiagnostics("""
            listen: { address: ":8080" }
            workers: many
            keys:
              k: { algorithms: HS256, secret: { env: S } }
            upstreams:
              app: { servers: ["http://127.0.0.1:9000"] }
            routes:
              - name: r
                upstream: [app]
                websocket: maybe
                auth:
                  keys: [k]
                  tokens: { query: t }
            """, [
                "gw.conf:1:9: listen: expected a list of { address: HOST:PORT }, found a mapping",
                #"gw.conf:2:10: workers: expected an integer, found a string ("many")"#,
                #"gw.conf:4:20: keys.k.algorithms: expected a list, found a string ("HS256")"#,
                "gw.conf:9:15: routes[0].upstream: expected a string, found a list",
                #"gw.conf:10:16: routes[0].websocket: expected true or false, found a string ("maybe")"#,
                #"gw.conf:13:15: routes[0].auth.tokens: expected a list of token sources (e.g. - { header: Authorization, prefix: "Bearer " }), found a mapping"#,
            ])
    }

    func testSeveralErrorsReportedTogether() {
        assertDiagnostics("""
            listen: [{ address: ":8080" }]
            keys:
              oo: { algorithms: [HS256], secret: { env: S } }
            upstreams:
              docs: { servers: ["http://127.0.0.1:80"] }
            routes:
              - name: inbox
                upstream: docs
                auth: { keys: [onlyoffice], tokens: [{ body: token }], leeway: 60 }
              - name: other
                upstream: dcos
                auth: off
            """, [
                #"gw.conf:9:20: routes[0].auth.keys: unknown key set "onlyoffice" (known: oo)"#,
                "gw.conf:9:68: routes[0].auth.leeway: duration needs a unit (e.g. 30s)",
                #"gw.conf:11:15: routes[1].upstream: unknown upstream "dcos" (known: docs)"#,
            ])
    }

    func testEmptyAlgorithmsAndUnknownAlgorithm() {
        assertDiagnostics("""
            listen: [{ address: ":8080" }]
            keys:
              a: { algorithms: [], secret: { env: A } }
              b: { algorithms: [hs256], secret: { env: B } }
              c: { algorithms: [XY999], secret: { env: C } }
            upstreams:
              app: { servers: ["http://127.0.0.1:9000"] }
            routes:
              - { name: r, upstream: app, auth: { keys: [a, b, c], tokens: [{ query: t }] } }
            """, [
                "gw.conf:3:20: keys.a.algorithms: must list at least one algorithm",
                #"gw.conf:4:21: keys.b.algorithms: unknown algorithm "hs256" (did you mean HS256?)"#,
                #"gw.conf:5:21: keys.c.algorithms: unknown algorithm "XY999" (known: HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA)"#,
            ])
    }

    func testKeyMaterialMustBeExactlyOne() {
        assertDiagnostics("""
            listen: [{ address: ":8080" }]
            keys:
              a:
                algorithms: [HS256]
                secret: { value: abc, env: A_SECRET }
              b:
                algorithms: [RS256]
                public_key: { file: b.pem }
                jwks: { url: "https://id.example.com/jwks" }
              c:
                algorithms: [RS256]
              d:
                algorithms: [HS256]
                secret: { }
            upstreams:
              app: { servers: ["http://127.0.0.1:9000"] }
            routes:
              - { name: r, upstream: app, auth: { keys: [a, b, c, d], tokens: [{ query: t }] } }
            """, [
                "gw.conf:5:27: keys.a.secret: give only one of value, env, file, credential (found value and env)",
                "gw.conf:9:5: keys.b: give only one of secret, public_key, certificate, jwks (found public_key and jwks)",
                "gw.conf:11:5: keys.c: missing key material; give one of secret, public_key, certificate, jwks",
                "gw.conf:14:13: keys.d.secret: give one of value, env, file, credential",
            ])
    }

    func testSecretDetails() {
        assertDiagnostics("""
            listen: [{ address: ":8080" }]
            keys:
              a: { algorithms: [HS256], secret: { value: "", encoding: raw } }
              b: { algorithms: [HS256], secret: { value: "!!notbase64", encoding: base64 } }
              c: { algorithms: [HS256], secret: { credential: /run/creds/x, encoding: hex } }
              d: { algorithms: [HS256], secret: { value: "c2VjcmV0LXNlY3JldC1zZWNyZXQ", encoding: base64url } }
            upstreams:
              app: { servers: ["http://127.0.0.1:9000"] }
            routes:
              - { name: r, upstream: app, auth: { keys: [a, b, c, d], tokens: [{ query: t }] } }
            """, [
                "gw.conf:3:46: keys.a.secret.value: must not be empty",
                "gw.conf:4:46: keys.b.secret.value: value is not valid base64",
                #"gw.conf:5:75: keys.c.secret.encoding: unknown encoding "hex" (known: raw, base64, base64url)"#,
                "gw.conf:5:51: keys.c.secret.credential: a credential is a name, not a path (use file: for paths)",
            ])
    }

    func testHTTPSUpstreamAndBadServers() {
        assertDiagnostics("""
            listen: [{ address: ":8080" }]
            upstreams:
              a: { servers: ["https://10.0.0.1:443"] }
              b: { servers: ["10.0.0.1:80", "http://10.0.0.1:80/base", "http://10.0.0.1:0"] }
              c: { servers: [] }
            routes:
              - { name: r, upstream: a, auth: off }
            """, [
                #"gw.conf:3:18: upstreams.a.servers: TLS to upstreams is not supported yet ("https://10.0.0.1:443")"#,
                #"gw.conf:4:18: upstreams.b.servers: invalid upstream server "10.0.0.1:80" (expected http://HOST:PORT)"#,
                #"gw.conf:4:33: upstreams.b.servers: upstream server "http://10.0.0.1:80/base" cannot have a path or query; routes forward the request target as received"#,
                #"gw.conf:4:60: upstreams.b.servers: invalid port "0" in "http://10.0.0.1:0" (1-65535)"#,
                "gw.conf:5:17: upstreams.c.servers: must not be an empty list",
            ])
    }

    func testTokenSourcesAndClaims() {
        assertDiagnostics("""
            listen: [{ address: ":8080" }]
            keys:
              k: { algorithms: [HS256], secret: { env: S } }
            upstreams:
              app: { servers: ["http://127.0.0.1:9000"] }
            routes:
              - name: r
                upstream: app
                auth:
                  keys: [k]
                  tokens:
                    - { query: t, prefix: "Bearer " }
                    - { hedaer: Authorization }
                    - { }
                  claims:
                    - { claim: role, equals: admin, one_of: [a, b] }
                    - { claim: a..b, exists: true }
                    - { claim: tenant, one_of: acme }
                    - { claim: x, equals: ~ }
                  forward: { token: drop }
            """, [
                "gw.conf:12:23: routes[0].auth.tokens[0]: prefix applies only to header",
                #"gw.conf:13:13: routes[0].auth.tokens[1]: unknown key "hedaer" (did you mean "header"?)"#,
                "gw.conf:14:11: routes[0].auth.tokens[2]: give one of header, query, cookie, body, subprotocol, socketio",
                "gw.conf:16:41: routes[0].auth.claims[0]: give only one of equals, one_of, contains, exists (found equals and one_of)",
                #"gw.conf:17:20: routes[0].auth.claims[1].claim: claim path "a..b" has an empty segment"#,
                #"gw.conf:18:36: routes[0].auth.claims[2].one_of: expected a list, found a string ("acme")"#,
                "gw.conf:19:31: routes[0].auth.claims[3].equals: expected a value, found nothing (null); use `exists: false` to forbid a claim",
                #"gw.conf:20:25: routes[0].auth.forward.token: expected strip or keep, found "drop""#,
            ])
    }

    func testUpstreamTimeoutGivenTwice() {
        assertDiagnostics("""
            listen: [{ address: ":8080" }]
            keys:
              k: { algorithms: [HS256], secret: { env: S } }
            upstreams:
              app: { servers: ["http://127.0.0.1:9000"] }
            routes:
              - name: r
                upstream: app
                upstream_timeout: 5m
                auth:
                  keys: [k]
                  tokens: [{ query: t }]
                  upstream_timeout: 10m
            """, ["gw.conf:13:25: routes[0].auth.upstream_timeout: upstream_timeout is set both on the route and under auth; keep one"])
    }

    func testMissingRequiredKeysAndEmptyFile() {
        assertDiagnostics("""
            routes:
              - match: { path: / }
            """, [
                "gw.conf:1:1: listen: required key is missing",
                "gw.conf:2:5: routes[0].name: required key is missing",
                "gw.conf:2:5: routes[0].upstream: required key is missing",
                "gw.conf:2:5: routes[0].auth: missing; write `auth: off` to make the route public",
            ])
        assertDiagnostics("", ["gw.conf:1:1: the file is empty"])
        assertDiagnostics("# only a comment\n", ["gw.conf:1:1: the file is empty"])
        assertDiagnostics("- a\n- b\n", ["gw.conf:1:1: expected a mapping, found a list"])
    }

    func testBadHostsMethodsAndNames() {
        assertDiagnostics("""
            listen: [{ address: ":8080" }]
            upstreams:
              app: { servers: ["http://127.0.0.1:9000"] }
            routes:
              - name: "my route"
                match: { host: [ok.example.com, "*.", "a*.example.com", "bad_host!"], methods: [get, "PO ST"] }
                upstream: app
                auth: off
              - { name: ported, match: { host: "api.example.com:8443" }, upstream: app, auth: off }
            """, [
                #"gw.conf:5:11: routes[0].name: route names may use letters, digits, '-', '_' and '.'"#,
                #"gw.conf:6:37: routes[0].match.host: invalid host "*." (expected a host name, an IP literal or *.example.com)"#,
                #"gw.conf:6:43: routes[0].match.host: invalid host "a*.example.com" (expected a host name, an IP literal or *.example.com)"#,
                #"gw.conf:6:61: routes[0].match.host: invalid host "bad_host!" (expected a host name, an IP literal or *.example.com)"#,
                #"gw.conf:6:90: routes[0].match.methods: invalid method "PO ST""#,
                #"gw.conf:9:36: routes[1].match.host: host "api.example.com:8443" must not include a port (the request's port is ignored when matching)"#,
            ])
    }

    func testDiagnosticDescriptionFormats() {
        let e = Diagnostic(file: "g.conf", line: 3, column: 7, path: "routes[3].auth.keys", message: "boom")
        XCTAssertEqual(e.description, "g.conf:3:7: routes[3].auth.keys: boom")
        let w = Diagnostic(file: "g.conf", line: 1, column: 2, path: "x", message: "hm", severity: .warning)
        XCTAssertEqual(w.description, "g.conf:1:2: warning: x: hm")
        let root = Diagnostic(file: "g.conf", line: 1, column: 1, path: "", message: "the file is empty")
        XCTAssertEqual(root.description, "g.conf:1:1: the file is empty")
        let loc = SourceLocation(file: "g.conf", line: 9, column: 5, path: "keys.rtc")
        XCTAssertEqual(loc.error("cannot read /x").description, "g.conf:9:5: keys.rtc: cannot read /x")
    }

    func testLoadFromMissingFile() {
        let r = ConfigLoader.load(path: "/nonexistent/portcullis/gw.conf")
        XCTAssertNil(r.config)
        XCTAssertEqual(r.diagnostics.map(\.description), ["/nonexistent/portcullis/gw.conf:1:1: cannot read the file: No such file or directory"])
    }
}
