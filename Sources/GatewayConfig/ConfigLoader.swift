// YAML -> GatewayConfig with every problem reported at once (DESIGN.md §2 lesson 5, §4).

import Foundation
import Yams

public enum ConfigLoader {
    /// Reads and parses the route file at `path`. `config` is nil iff any diagnostic is an error.
    /// Relative file paths inside the file (secrets, keys, JWKS, certificates) are resolved against the
    /// directory of `path`.
    public static func load(path: String) -> (config: GatewayConfig?, diagnostics: [Diagnostic]) {
        let (config, diagnostics) = loadBestEffort(path: path)
        return (diagnostics.contains { $0.severity == .error } ? nil : config, diagnostics)
    }

    /// Like `load`, but also returns what could be built when there are errors (entries with errors left
    /// out), so later stages can add their own diagnostics (e.g. loading the key sets that did parse) and
    /// `check` reports every problem at once. Never use a config returned with errors to serve traffic.
    public static func loadBestEffort(path: String) -> (config: GatewayConfig?, diagnostics: [Diagnostic]) {
        let fd = open(path, O_RDONLY)
        if fd < 0 {
            let reason = String(cString: strerror(errno))
            return (nil, [Diagnostic(file: path, line: 1, column: 1, path: "", message: "cannot read the file: \(reason)")])
        }
        close(fd)
        guard let data = FileManager.default.contents(atPath: path) else {
            return (nil, [Diagnostic(file: path, line: 1, column: 1, path: "", message: "cannot read the file")])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            return (nil, [Diagnostic(file: path, line: 1, column: 1, path: "", message: "the file is not valid UTF-8")])
        }
        return parseBestEffort(yaml: text, file: path)
    }

    /// Parses route-file text; `file` names it in diagnostics (and its directory anchors relative paths).
    public static func parse(yaml: String, file: String) -> (config: GatewayConfig?, diagnostics: [Diagnostic]) {
        let (config, diagnostics) = parseBestEffort(yaml: yaml, file: file)
        return (diagnostics.contains { $0.severity == .error } ? nil : config, diagnostics)
    }

    /// See `loadBestEffort`.
    public static func parseBestEffort(yaml: String, file: String) -> (config: GatewayConfig?, diagnostics: [Diagnostic]) {
        let loader = Loader(file: file)
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            return (nil, [loader.yamlDiagnostic(error, text: yaml)])
        }
        guard let root, !(root.scalar.map { $0.tagName == .null } ?? false) else {
            return (nil, [Diagnostic(file: file, line: 1, column: 1, path: "", message: "the file is empty")])
        }
        let config = loader.document(root)
        return (config, loader.diagnostics)
    }
}

// MARK: - Loader state and node helpers

/// One load: collects diagnostics while walking the node tree. Never stops at the first problem.
final class Loader {
    let file: String
    let directory: String
    var diagnostics: [Diagnostic] = []
    /// Names declared under `keys` / `upstreams`, valid or not (so a broken entry does not also make every
    /// reference to it an "unknown" error).
    var declaredKeySets: [String] = []
    var declaredUpstreams: [String] = []

    init(file: String) {
        self.file = file
        if let slash = file.lastIndex(of: "/") {
            directory = String(file[...slash])
        } else {
            directory = ""
        }
    }

    func location(_ node: Node?, _ path: String) -> SourceLocation {
        let mark = node?.mark
        return SourceLocation(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1, path: path)
    }

    func error(_ node: Node?, _ path: String, _ message: String) {
        diagnostics.append(Diagnostic(location: location(node, path), message: message, severity: .error))
    }

    func warning(_ node: Node?, _ path: String, _ message: String) {
        diagnostics.append(Diagnostic(location: location(node, path), message: message, severity: .warning))
    }

    /// Relative paths are taken from the config file's directory.
    func resolve(_ path: String) -> String {
        if path.hasPrefix("/") || directory.isEmpty { return path }
        return directory + path
    }

    func yamlDiagnostic(_ error: Error, text: String) -> Diagnostic {
        func diag(_ line: Int, _ column: Int, _ message: String) -> Diagnostic {
            Diagnostic(file: file, line: line, column: column, path: "", message: message)
        }
        func withContext(_ problem: String, _ context: YamlError.Context?) -> String {
            guard let context else { return "YAML syntax error: \(problem)" }
            return "YAML syntax error: \(problem) (\(context.text) at \(context.mark.line):\(context.mark.column))"
        }
        guard let yamlError = error as? YamlError else { return diag(1, 1, "YAML syntax error: \(error)") }
        switch yamlError {
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            return diag(mark.line, mark.column, withContext(problem, context))
        case .reader(let problem, let offset, _, _):
            var line = 1, column = 1
            if let offset {
                for ch in text.prefix(offset) {
                    if ch == "\n" { line += 1; column = 1 } else { column += 1 }
                }
            }
            return diag(line, column, "cannot read YAML: \(problem)")
        default:
            // Yams 6 refuses duplicate keys itself (a case Yams 5 lacks, hence the reflection); Yams 5 lets them
            // through and `fields` reports every one with both lines.
            if let (keys, mark) = Loader.duplicatedKeys(in: yamlError) {
                let list = keys.map { "\"\($0)\"" }.joined(separator: ", ")
                return diag(mark.line, mark.column, "duplicate key \(list)")
            }
            return diag(1, 1, "YAML syntax error: \(yamlError)")
        }
    }

    static func duplicatedKeys(in error: YamlError) -> ([String], Mark)? {
        guard let child = Mirror(reflecting: error).children.first, child.label == "duplicatedKeysInMapping" else {
            return nil
        }
        var keys: [String] = []
        var mark: Mark?
        for field in Mirror(reflecting: child.value).children {
            if let k = field.value as? [String] { keys = k }
            if let context = field.value as? YamlError.Context { mark = context.mark }
        }
        guard let mark else { return nil }
        return (keys, mark)
    }

    // MARK: Paths

    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : path + "." + key }
    static func index(_ path: String, _ i: Int) -> String { path + "[\(i)]" }

    // MARK: Node kinds

    static func isNull(_ node: Node) -> Bool {
        if case .scalar(let s) = node, s.tagName == .null { return true }
        return false
    }

    static func describe(_ node: Node) -> String {
        // `if case` rather than `switch`: Yams 6 adds `Node.alias`, Yams 5 does not.
        if case .mapping = node { return "a mapping" }
        if case .sequence = node { return "a list" }
        if case .scalar(let s) = node {
            switch s.tagName {
            case .null: return "nothing (null)"
            case .int, .float: return "a number (\(s.string))"
            case .bool: return "a boolean (\(s.string))"
            default: return "a string (\"\(s.string)\")"
            }
        }
        return "an alias"
    }

    func typeError(_ node: Node, _ path: String, expected: String) {
        error(node, path, "expected \(expected), found \(Loader.describe(node))")
    }

    // MARK: Mappings

    struct Fields {
        let node: Node
        let path: String
        var entries: [(key: String, keyNode: Node, value: Node)] = []
        /// Keys suggested for misspelt ones; their absence is not reported again as "missing".
        var suggested: Set<String> = []

        func value(_ key: String) -> Node? { entries.first { $0.key == key }?.value }
        func keyNode(_ key: String) -> Node? { entries.first { $0.key == key }?.keyNode }
        func has(_ key: String) -> Bool { entries.contains { $0.key == key } }
        func path(_ key: String) -> String { Loader.join(path, key) }
    }

    /// Reads a mapping, reporting duplicate keys, non-string keys and (when `allowed` is given) unknown keys
    /// with a suggestion. `null` counts as an empty mapping when `nullIsEmpty`.
    func fields(_ node: Node, _ path: String, allowed: [String]?, nullIsEmpty: Bool = false) -> Fields? {
        guard case .mapping(let mapping) = node else {
            if nullIsEmpty, Loader.isNull(node) { return Fields(node: node, path: path) }
            typeError(node, path, expected: "a mapping")
            return nil
        }
        var f = Fields(node: node, path: path)
        var seen: [String: Node] = [:]
        for (k, v) in mapping {
            guard case .scalar(let ks) = k, ks.tagName != .null else {
                error(k, path, "keys must be strings, found \(Loader.describe(k))")
                continue
            }
            let key = ks.string
            if let first = seen[key] {
                error(k, path, "duplicate key \"\(key)\" (first at line \(first.mark?.line ?? 1))")
                continue
            }
            seen[key] = k
            if let allowed, !allowed.contains(key) {
                if let s = Syntax.suggestion(for: key, among: allowed) {
                    error(k, path, "unknown key \"\(key)\" (did you mean \"\(s)\"?)")
                    f.suggested.insert(s)
                } else {
                    error(k, path, "unknown key \"\(key)\" (valid keys: \(allowed.joined(separator: ", ")))")
                }
                continue
            }
            f.entries.append((key, k, v))
        }
        return f
    }

    /// The value of a required key, or an error at the mapping.
    func required(_ f: Fields, _ key: String) -> Node? {
        if let v = f.value(key) { return v }
        if !f.suggested.contains(key) { error(f.node, f.path(key), "required key is missing") }
        return nil
    }

    // MARK: Scalars

    func string(_ node: Node, _ path: String, allowEmpty: Bool = false) -> String? {
        guard case .scalar(let s) = node, s.tagName != .null else {
            typeError(node, path, expected: "a string")
            return nil
        }
        if !allowEmpty, s.string.isEmpty {
            error(node, path, "must not be empty")
            return nil
        }
        return s.string
    }

    func bool(_ node: Node, _ path: String) -> Bool? {
        if case .scalar(let s) = node, s.tagName == .bool {
            switch s.string.lowercased() {
            case "true", "yes", "on": return true
            default: return false
            }
        }
        typeError(node, path, expected: "true or false")
        return nil
    }

    func int(_ node: Node, _ path: String, min: Int = 1, max: Int = Int.max) -> Int? {
        guard case .scalar(let s) = node, s.tagName == .int, let v = node.int else {
            typeError(node, path, expected: "an integer")
            return nil
        }
        guard v >= min, v <= max else {
            error(node, path, max == Int.max ? "must be at least \(min), found \(v)" : "must be between \(min) and \(max), found \(v)")
            return nil
        }
        return v
    }

    func duration(_ node: Node, _ path: String, allowZero: Bool = false) -> Double? {
        guard case .scalar(let s) = node, s.tagName != .null else {
            typeError(node, path, expected: "a duration (e.g. 30s)")
            return nil
        }
        switch DurationSyntax.parse(s.string) {
        case .success(let v):
            if v == 0, !allowZero {
                error(node, path, "duration must be greater than zero")
                return nil
            }
            return v
        case .failure(.missingUnit):
            error(node, path, "duration needs a unit (e.g. 30s)")
        case .failure(.invalid):
            error(node, path, "invalid duration \"\(s.string)\" (write e.g. 500ms, 30s, 10m, 24h or 1h30m)")
        }
        return nil
    }

    /// A string or a list of strings; each element comes with its node. Empty lists are an error unless allowed.
    func stringList(_ node: Node, _ path: String, allowSingle: Bool = true, allowEmptyList: Bool = false) -> [(String, Node)]? {
        switch node {
        case .scalar(let s) where allowSingle && s.tagName != .null:
            guard let v = string(node, path) else { return nil }
            return [(v, node)]
        case .sequence(let seq):
            if seq.isEmpty, !allowEmptyList {
                error(node, path, "must not be an empty list")
                return nil
            }
            var out: [(String, Node)] = []
            for element in seq {
                if let v = string(element, path) { out.append((v, element)) }
            }
            return out
        default:
            typeError(node, path, expected: allowSingle ? "a string or a list of strings" : "a list")
            return nil
        }
    }

    /// A claim value: scalar or list.
    func configValue(_ node: Node, _ path: String) -> ConfigValue? {
        switch node {
        case .scalar(let s):
            switch s.tagName {
            case .null:
                error(node, path, "expected a value, found nothing (null); use `exists: false` to forbid a claim")
                return nil
            case .int:
                if let i = node.int { return .int(i) }
                return .string(s.string)
            case .float:
                if let d = node.float { return .double(d) }
                return .string(s.string)
            case .bool:
                switch s.string.lowercased() {
                case "true": return .bool(true)
                case "false": return .bool(false)
                default: return .string(s.string) // yes/no/on/off stay words
                }
            default:
                return .string(s.string)
            }
        case .sequence(let seq):
            var out: [ConfigValue] = []
            var ok = true
            for element in seq {
                if let v = configValue(element, path) { out.append(v) } else { ok = false }
            }
            return ok ? .list(out) : nil
        default:
            typeError(node, path, expected: "a value or a list of values")
            return nil
        }
    }
}

extension Node.Scalar {
    /// The resolved tag (`Tag.name` is internal in Yams 5; `Node.tag` resolves implicit tags).
    var tagName: Tag.Name { Tag.Name(rawValue: Node.scalar(self).tag.description) }
}
