public import JSONCore

/// The JSON Schema subset tools really use, checked strictly.
///
/// Supported keywords: `type`, `properties`, `required`, `enum`, `const`, `minimum`, `maximum`,
/// `exclusiveMinimum`, `exclusiveMaximum`, `minLength`, `maxLength`, `pattern`, `items`, `minItems`,
/// `maxItems`, `additionalProperties`; annotations (`title`, `description`, `default`, `examples`,
/// `$schema`, `$id`, `format`, `deprecated`, `readOnly`, `writeOnly`) are accepted and ignored. Any other
/// keyword is refused when the schema is loaded: a constraint Purser cannot enforce must not look enforced.
public struct JSONSchema: Sendable {
    private static let annotationKeywords: Set<String> = [
        "title", "description", "default", "examples", "$schema", "$id", "$comment", "format", "deprecated",
        "readOnly", "writeOnly",
    ]
    private static let assertionKeywords: Set<String> = [
        "type", "properties", "required", "enum", "const", "minimum", "maximum", "exclusiveMinimum",
        "exclusiveMaximum", "minLength", "maxLength", "pattern", "items", "minItems", "maxItems",
        "additionalProperties",
    ]
    private static let typeNames: Set<String> = ["null", "boolean", "object", "array", "number", "integer", "string"]

    /// The schema document.
    public let document: JSONValue
    private let patterns: [String: SchemaPattern]

    /// Compiles a schema; returns problems keyed by JSON Pointer (relative to the schema) when it is not usable.
    public static func compile(_ document: JSONValue) -> Result<JSONSchema, SchemaProblems> {
        var problems: [(String, String)] = []
        var patterns: [String: SchemaPattern] = [:]
        check(document, pointer: "", problems: &problems, patterns: &patterns)
        if problems.isEmpty { return .success(JSONSchema(document: document, patterns: patterns)) }
        return .failure(SchemaProblems(items: problems.map { (pointer: $0.0, message: $0.1) }))
    }

    private static func check(
        _ schema: JSONValue, pointer: String, problems: inout [(String, String)],
        patterns: inout [String: SchemaPattern]
    ) {
        if case .bool = schema { return }
        guard let object = schema.objectValue else {
            problems.append((pointer, "a schema must be an object or a boolean"))
            return
        }
        for (key, value) in object {
            let here = pointer + "/" + JSONLocations.escape(key)
            if annotationKeywords.contains(key) { continue }
            guard assertionKeywords.contains(key) else {
                problems.append(
                    (
                        here,
                        "unsupported JSON Schema keyword \"\(key)\" (Purser enforces only \(assertionKeywords.sorted().joined(separator: ", ")))"
                    ))
                continue
            }
            switch key {
            case "type":
                let names = value.arrayValue ?? [value]
                if names.isEmpty || !names.allSatisfy({ $0.stringValue.map(typeNames.contains) ?? false }) {
                    problems.append(
                        (here, "\"type\" must be one of \(typeNames.sorted()) or a non-empty array of them"))
                }
            case "properties":
                guard let properties = value.objectValue else {
                    problems.append((here, "\"properties\" must be an object"))
                    continue
                }
                for (name, subschema) in properties {
                    check(
                        subschema, pointer: here + "/" + JSONLocations.escape(name), problems: &problems,
                        patterns: &patterns)
                }
            case "required":
                guard let names = value.arrayValue, names.allSatisfy({ $0.stringValue != nil }) else {
                    problems.append((here, "\"required\" must be an array of strings"))
                    continue
                }
            case "enum":
                if value.arrayValue?.isEmpty ?? true { problems.append((here, "\"enum\" must be a non-empty array")) }
            case "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum":
                if value.numberValue == nil { problems.append((here, "\"\(key)\" must be a number")) }
            case "minLength", "maxLength", "minItems", "maxItems":
                guard let number = value.numberValue, number.decimal.isInteger, !(number.decimal.negative) else {
                    problems.append((here, "\"\(key)\" must be a non-negative integer"))
                    continue
                }
            case "pattern":
                guard let text = value.stringValue else {
                    problems.append((here, "\"pattern\" must be a string"))
                    continue
                }
                do {
                    patterns[text] = try SchemaPattern(text)
                } catch {
                    problems.append(
                        (here, "\"pattern\" is not a usable regular expression (ECMA-262 subset): \(error.message)"))
                }
            case "items", "additionalProperties":
                check(value, pointer: here, problems: &problems, patterns: &patterns)
            default:
                break
            }
        }
    }

    /// Validates `instance`; returns every violation as `(JSON Pointer into the instance, message)`.
    public func validate(_ instance: JSONValue) -> [(pointer: String, message: String)] {
        var problems: [(String, String)] = []
        validate(instance, against: document, pointer: "", problems: &problems)
        return problems.map { (pointer: $0.0, message: $0.1) }
    }

    private func validate(
        _ instance: JSONValue, against schema: JSONValue, pointer: String, problems: inout [(String, String)]
    ) {
        if case .bool(let allowed) = schema {
            if !allowed { problems.append((pointer, "is not allowed here")) }
            return
        }
        guard let schema = schema.objectValue else { return }
        let name = pointer.isEmpty ? "the arguments" : "\"\(pointer.dropFirst())\""
        if let type = schema["type"] {
            let allowed = (type.arrayValue ?? [type]).compactMap(\.stringValue)
            let actual = instance.schemaTypeName
            let matches = allowed.contains(actual) || (actual == "integer" && allowed.contains("number"))
            if !matches {
                problems.append(
                    (pointer, "\(name) must be of type \(allowed.joined(separator: " or ")), not \(actual)"))
                return
            }
        }
        if let options = schema["enum"]?.arrayValue, !options.contains(instance) {
            problems.append((pointer, "\(name) must be one of \(JSONValue.array(options).serialized())"))
        }
        if let constant = schema["const"], constant != instance {
            problems.append((pointer, "\(name) must be \(constant.serialized())"))
        }
        switch instance {
        case .number(let number):
            let value = number.decimal
            if let bound = schema["minimum"]?.numberValue?.decimal, value < bound {
                problems.append((pointer, "\(name) must be at least \(schema["minimum"]!.serialized())"))
            }
            if let bound = schema["maximum"]?.numberValue?.decimal, bound < value {
                problems.append((pointer, "\(name) must be at most \(schema["maximum"]!.serialized())"))
            }
            if let bound = schema["exclusiveMinimum"]?.numberValue?.decimal, !(bound < value) {
                problems.append((pointer, "\(name) must be greater than \(schema["exclusiveMinimum"]!.serialized())"))
            }
            if let bound = schema["exclusiveMaximum"]?.numberValue?.decimal, !(value < bound) {
                problems.append((pointer, "\(name) must be less than \(schema["exclusiveMaximum"]!.serialized())"))
            }
        case .string(let text):
            // JSON Schema counts code points.
            let length = text.unicodeScalars.count
            if let minimum = schema["minLength"]?.int64Value, length < minimum {
                problems.append((pointer, "\(name) must be at least \(minimum) character(s) long"))
            }
            if let maximum = schema["maxLength"]?.int64Value, length > maximum {
                problems.append((pointer, "\(name) must be at most \(maximum) character(s) long"))
            }
            if let pattern = schema["pattern"]?.stringValue, let compiled = patterns[pattern] {
                switch compiled.matches(text) {
                case true?: break
                case false?: problems.append((pointer, "\(name) must match the pattern \(pattern)"))
                case nil:
                    // Fail closed: a value that cannot be checked in bounded time is not accepted.
                    problems.append((pointer, "\(name) is too long to check against the pattern \(pattern)"))
                }
            }
        case .array(let elements):
            if let minimum = schema["minItems"]?.int64Value, elements.count < minimum {
                problems.append((pointer, "\(name) must have at least \(minimum) items"))
            }
            if let maximum = schema["maxItems"]?.int64Value, elements.count > maximum {
                problems.append((pointer, "\(name) must have at most \(maximum) items"))
            }
            if let items = schema["items"] {
                for (index, element) in elements.enumerated() {
                    validate(element, against: items, pointer: pointer + "/\(index)", problems: &problems)
                }
            }
        case .object(let object):
            let properties = schema["properties"]?.objectValue ?? JSONObject()
            for required in schema["required"]?.arrayValue ?? [] {
                if let key = required.stringValue, object[key] == nil {
                    problems.append((pointer + "/" + JSONLocations.escape(key), "\"\(key)\" is required"))
                }
            }
            for (key, value) in object {
                let here = pointer + "/" + JSONLocations.escape(key)
                if let propertySchema = properties[key] {
                    validate(value, against: propertySchema, pointer: here, problems: &problems)
                } else if let additional = schema["additionalProperties"] {
                    if case .bool(false) = additional {
                        problems.append((here, "\"\(key)\" is not a known argument"))
                    } else {
                        validate(value, against: additional, pointer: here, problems: &problems)
                    }
                }
            }
        default:
            break
        }
    }
}

/// Why a schema cannot be used: each problem with its JSON Pointer inside the schema.
public struct SchemaProblems: Error, Sendable {
    /// The problems, in document order.
    public var items: [(pointer: String, message: String)]
}
