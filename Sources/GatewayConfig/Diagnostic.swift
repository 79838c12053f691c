// Diagnostics of the route file: every problem found at load, with where it is (DESIGN.md §2 lesson 5).

/// Where a node of the route file came from: the file, the 1-based line and column of the YAML node, and the
/// key path (`routes[3].auth.keys`). Every model node that a later stage may complain about carries one, so
/// the Policy compiler can report e.g. an unreadable key file at the key set's position.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    public let file: String
    public let line: Int
    public let column: Int
    /// Key path from the document root, e.g. `routes[3].auth.keys`; empty for the root.
    public let path: String

    public init(file: String, line: Int, column: Int, path: String) {
        self.file = file
        self.line = line
        self.column = column
        self.path = path
    }

    /// `FILE:LINE:COL`
    public var description: String { "\(file):\(line):\(column)" }

    /// A diagnostic at this location (convenience for later stages, e.g. the Policy compiler).
    public func error(_ message: String) -> Diagnostic {
        Diagnostic(location: self, message: message, severity: .error)
    }

    public func warning(_ message: String) -> Diagnostic {
        Diagnostic(location: self, message: message, severity: .warning)
    }
}

/// One problem in the route file.
///
/// `description` is `FILE:LINE:COL: key.path: message`, or `FILE:LINE:COL: warning: key.path: message` for
/// warnings; when the path is empty (the document root, a YAML syntax error) the `key.path: ` part is left out.
public struct Diagnostic: Error, CustomStringConvertible, Sendable, Hashable {
    public enum Severity: String, Sendable, Hashable {
        case error
        case warning
    }

    public let file: String
    public let line: Int
    public let column: Int
    public let path: String
    public let message: String
    public let severity: Severity

    public init(file: String, line: Int, column: Int, path: String, message: String, severity: Severity = .error) {
        self.file = file
        self.line = line
        self.column = column
        self.path = path
        self.message = message
        self.severity = severity
    }

    public init(location: SourceLocation, message: String, severity: Severity = .error) {
        self.init(file: location.file, line: location.line, column: location.column, path: location.path,
                  message: message, severity: severity)
    }

    public var isError: Bool { severity == .error }

    public var location: SourceLocation {
        SourceLocation(file: file, line: line, column: column, path: path)
    }

    public var description: String {
        var s = "\(file):\(line):\(column): "
        if severity == .warning { s += "warning: " }
        if !path.isEmpty { s += path + ": " }
        return s + message
    }
}
