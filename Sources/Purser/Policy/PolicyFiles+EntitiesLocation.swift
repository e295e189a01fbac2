import Cedar
import JSONCore

extension PolicyFiles {
    /// Where in `entities.json` the problem Cedar reported lies, so it is not reported at 1:1.
    ///
    /// Cedar's entity errors carry no position, so the file is read again with locations and the error
    /// is reproduced piece by piece: the first entity whose prefix of the list fails (for a duplicate
    /// or a cycle, the entity that completes it), then within it the `uid`, the parent or the attribute
    /// or tag whose value fails. A syntax error keeps the position in its message.
    static func entitiesProblemLocation(bytes: [UInt8], json: CedarJSON?, message: String) -> SourceLocation {
        if message.hasPrefix("JSON ") { return location(in: message) }
        guard let json, case .array(let items) = json,
            let (_, locations) = try? JSONParser.parseWithLocations(bytes)
        else { return SourceLocation(line: 1, column: 1) }
        func fails(_ count: Int) -> Bool {
            do {
                _ = try Entities(json: .array(Array(items.prefix(count))))
                return false
            } catch {
                return true
            }
        }
        // Failure is monotone in the prefix length: binary search for the shortest failing prefix.
        var low = 1
        var high = items.count
        guard high >= 1, fails(high) else { return SourceLocation(line: 1, column: 1) }
        while low < high {
            let middle = (low + high) / 2
            if fails(middle) { high = middle } else { low = middle + 1 }
        }
        let index = low - 1
        return locations.location(of: "/\(index)" + innerPointer(items[index]))
    }

    /// The member of one entity that fails on its own, as a JSON pointer suffix ("" for the entity).
    private static func innerPointer(_ item: CedarJSON) -> String {
        guard case .object = item else { return "" }
        if let uid = item["uid"], (try? CedarData.entityUID(uid)) == nil { return "/uid" }
        if case .array(let parents)? = item["parents"] {
            for (index, parent) in parents.enumerated() where (try? CedarData.entityUID(parent)) == nil {
                return "/parents/\(index)"
            }
        }
        for member in ["attrs", "tags"] {
            guard case .object(let fields)? = item[member] else { continue }
            for (key, value) in fields where (try? CedarData.value(value)) == nil {
                return "/\(member)/" + JSONLocations.escape(key)
            }
        }
        return ""
    }
}

extension PolicyFiles {
    /// Where in `entities.json` a tool joining its manifest's groups closes a cycle: the `parents` entry that
    /// names `tool` on one of `groups` or on one of their ancestors (1:1 when it cannot be found).
    static func toolCycleLocation(bytes: [UInt8], tool: EntityUID, groups: [EntityUID], entities: Entities)
        -> SourceLocation
    {
        guard let json = try? CedarJSON.parse(bytes: bytes), case .array(let items) = json,
            let (_, locations) = try? JSONParser.parseWithLocations(bytes)
        else { return SourceLocation(line: 1, column: 1) }
        var above = Set(groups)
        for group in groups { above.formUnion(entities[group]?.ancestors ?? []) }
        for (index, item) in items.enumerated() {
            guard let uidJSON = item["uid"], let uid = try? CedarData.entityUID(uidJSON), above.contains(uid),
                case .array(let parents)? = item["parents"]
            else { continue }
            for (position, parent) in parents.enumerated() where (try? CedarData.entityUID(parent)) == tool {
                return locations.location(of: "/\(index)/parents/\(position)")
            }
        }
        return SourceLocation(line: 1, column: 1)
    }
}
