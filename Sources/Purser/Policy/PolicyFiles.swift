public import Cedar
import FoundationEssentials
import JSONCore

/// The contents of a `policies/` directory: every `*.cedar` file (in name order) and `entities.json`.
public struct PolicyFiles: Sendable {
    /// The parsed policies; positional ids run across the files in name order.
    public let policySet: PolicySet
    /// The entities from `entities.json` (empty when the file is absent).
    public let entities: Entities
    /// The files read, with their modification fingerprints (for reload-on-change).
    public let fingerprint: [String: String]
    /// How the policies describe a call (`policy.json` `"shape"`; Purser's own by default).
    public var shape: PolicyShape = .purser
    /// The `McpServer` id of the agents' shape (`policy.json` `"server"`; `purser` by default).
    public var server: String = "purser"

    /// The name of the optional settings file in the policies directory: `{"shape": "agents", "server": "…"}`.
    public static let settingsFileName = "policy.json"

    /// Reads and parses a directory.
    ///
    /// - Parameters:
    ///   - directory: the policies directory.
    ///   - entitiesFile: an entities file to use instead of `<directory>/entities.json`.
    /// - Throws: a `Diagnostic` (file, line, column, message) for the first problem; nothing is half-loaded.
    public static func load(directory: String, entitiesFile: String? = nil) throws(PolicyLoadError) -> PolicyFiles {
        let manager = FileManager.default
        var isDirectory = false
        guard manager.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory else {
            throw PolicyLoadError.at(
                file: directory, location: SourceLocation(line: 1, column: 1),
                message: "policies directory not found")
        }
        let listing: [String]
        do {
            listing = try manager.contentsOfDirectory(atPath: directory)
        } catch {
            // Not an empty set: a policy file that cannot be seen is a policy that is not enforced.
            throw PolicyLoadError.at(
                file: directory, location: SourceLocation(line: 1, column: 1),
                message: "cannot list the policies directory: \(ErrorText.describe(error))")
        }
        let names = listing.filter { $0.hasSuffix(".cedar") }.sorted()
        var sources: [(name: String, text: String)] = []
        var fingerprint: [String: String] = [:]
        for name in names {
            let path = PathText.join(directory, name)
            guard let data = manager.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                throw PolicyLoadError.at(
                    file: path, location: SourceLocation(line: 1, column: 1), message: "cannot read the file as UTF-8")
            }
            sources.append((path, text))
            fingerprint[path] = PolicyFiles.fingerprint(of: data)
        }
        let policySet: PolicySet
        do {
            policySet = try PolicySet(sources: sources)
        } catch {
            throw PolicyLoadError.at(
                file: error.file,
                location: SourceLocation(line: error.error.position.line, column: error.error.position.column),
                message: error.error.message)
        }
        if let feature = policySet.unsupportedFeature {
            let place = policySet.unsupportedLocation
            throw PolicyLoadError.at(
                file: place?.file ?? directory,
                location: SourceLocation(line: place?.position.line ?? 1, column: place?.position.column ?? 1),
                message: "`\(feature)` is not supported by Purser's Cedar engine yet (see docs/policies.md)")
        }
        let entitiesPath = entitiesFile ?? PathText.join(directory, "entities.json")
        var entities = Entities()
        if let data = manager.contents(atPath: entitiesPath) {
            fingerprint[entitiesPath] = PolicyFiles.fingerprint(of: data)
            let bytes = Array(data)
            let json = try? CedarJSON.parse(bytes: bytes)
            do {
                entities = try Entities(json: try CedarJSON.parse(bytes: bytes))
            } catch {
                throw PolicyLoadError.at(
                    file: entitiesPath,
                    location: PolicyFiles.entitiesProblemLocation(bytes: bytes, json: json, message: error.message),
                    message: error.message)
            }
        } else if entitiesFile != nil || manager.fileExists(atPath: entitiesPath) {
            // Present but unreadable is not "no entities": the memberships a `forbid` relies on would vanish.
            throw PolicyLoadError.at(
                file: entitiesPath, location: SourceLocation(line: 1, column: 1), message: "cannot read the file")
        }
        var files = PolicyFiles(policySet: policySet, entities: entities, fingerprint: fingerprint)
        let settingsPath = PathText.join(directory, settingsFileName)
        if let data = manager.contents(atPath: settingsPath) {
            fingerprint[settingsPath] = PolicyFiles.fingerprint(of: data)
            files = PolicyFiles(policySet: policySet, entities: entities, fingerprint: fingerprint)
            try files.readSettings(data, path: settingsPath)
        } else if manager.fileExists(atPath: settingsPath) {
            // Unreadable settings would silently mean Purser's shape: policies written for another shape.
            throw PolicyLoadError.at(
                file: settingsPath, location: SourceLocation(line: 1, column: 1), message: "cannot read the file")
        }
        return files
    }

    /// Reads `policy.json`; an unknown key or value refuses the whole directory (fail closed).
    private mutating func readSettings(_ data: Data, path: String) throws(PolicyLoadError) {
        let root: JSONValue
        let locations: JSONLocations
        do {
            (root, locations) = try JSONParser.parseWithLocations(Array(data))
        } catch {
            throw PolicyLoadError.at(file: path, location: error.location, message: error.message)
        }
        guard case .object(let object) = root else {
            throw PolicyLoadError.at(
                file: path, location: SourceLocation(line: 1, column: 1), message: "expected a JSON object")
        }
        for (key, value) in object {
            let at = locations.location(of: "/" + JSONLocations.escape(key))
            switch (key, value) {
            case ("shape", .string(let name)):
                guard let shape = PolicyShape(rawValue: name) else {
                    throw PolicyLoadError.at(
                        file: path, location: at,
                        message: "unknown shape `\(name)`; expected one of: "
                            + PolicyShape.allCases.map(\.rawValue).joined(separator: ", "))
                }
                self.shape = shape
            case ("server", .string(let name)) where !name.isEmpty:
                self.server = name
            case ("shape", _), ("server", _):
                throw PolicyLoadError.at(file: path, location: at, message: "`\(key)` must be a non-empty string")
            default:
                throw PolicyLoadError.at(
                    file: path, location: at, message: "unknown setting `\(key)`; expected `shape` or `server`")
            }
        }
    }

    /// The current fingerprints of the files a load would read, without parsing them.
    public static func currentFingerprint(directory: String, entitiesFile: String? = nil) -> [String: String] {
        let manager = FileManager.default
        var result: [String: String] = [:]
        let names = ((try? manager.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".cedar") }
        for name in names {
            let path = PathText.join(directory, name)
            if let data = manager.contents(atPath: path) { result[path] = fingerprint(of: data) }
        }
        let entitiesPath = entitiesFile ?? PathText.join(directory, "entities.json")
        if let data = manager.contents(atPath: entitiesPath) { result[entitiesPath] = fingerprint(of: data) }
        let settingsPath = PathText.join(directory, settingsFileName)
        if let data = manager.contents(atPath: settingsPath) { result[settingsPath] = fingerprint(of: data) }
        return result
    }

    /// A content fingerprint: length plus FNV-1a over the bytes (change detection, not security).
    static func fingerprint(of data: Data) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in data {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return "\(data.count):\(String(hash, radix: 16))"
    }

    /// Pulls `line:col` out of a JSON syntax message (`JSON 3:7: …`), else 1:1.
    static func location(in message: String) -> SourceLocation {
        guard message.hasPrefix("JSON ") else { return SourceLocation(line: 1, column: 1) }
        let rest = message.dropFirst(5).prefix { $0 != " " }.dropLast()
        let parts = rest.split(separator: ":")
        if parts.count == 2, let line = Int(parts[0]), let column = Int(parts[1]) {
            return SourceLocation(line: line, column: column)
        }
        return SourceLocation(line: 1, column: 1)
    }
}

/// Why a policies directory could not be loaded: one diagnostic with file, line and column.
public struct PolicyLoadError: Error, Sendable, CustomStringConvertible {
    /// The problem.
    public let diagnostic: Diagnostic

    static func at(file: String, location: SourceLocation, message: String) -> PolicyLoadError {
        PolicyLoadError(diagnostic: Diagnostic(file: file, location: location, message: message))
    }

    public var description: String { diagnostic.description }
}
