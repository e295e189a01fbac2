public import Cedar
public import JSONCore

/// A tool argument or payment amount that Cedar cannot represent exactly; the step is refused.
public struct PolicyContextError: Error, Sendable, Hashable {
    /// What cannot be represented (names the argument path, never its value).
    public let message: String
}

/// The JSON → Cedar mapping for `context` (reference/cedar.md §5.1).
public enum PolicyContext {
    /// Maps tool arguments: integers → Long (must fit 64 bits), other numbers → decimal (at most 4 fractional
    /// digits), `null` dropped, arrays → sets (order and duplicates are lost), objects → records.
    ///
    /// A number that fits neither is refused rather than rounded or passed as a string: a string would make a
    /// numeric policy error, and an erroring forbid is skipped.
    ///
    /// With the tool's `schema` (its `inputSchema`), a property declared `"type": "number"` is always a decimal,
    /// however it is written (`5` becomes `decimal("5.0")`), so it has the type the generated Cedar schema
    /// gives it; `"integer"` properties are Longs (the input check has already refused non-integers).
    ///
    /// With `enumType` (the agents' shape: `PolicySchema.enumNamespace(tool:)`), a string whose property is a
    /// string `enum` becomes the entity `<type>::"<value>"` of the enumerated entity type the generated schema
    /// declares for it (`PolicySchema.inputType(_:enumType:enums:)`), named the same way.
    public static func value(
        _ json: JSONValue, schema: JSONValue? = nil, path: String = "params", enumType: String? = nil
    ) -> Result<CedarValue, PolicyContextError> {
        if case .number(let number) = json, number.isIntegerLexeme, declaredType(schema) == "number" {
            guard let decimal = decimal(number.decimal) else {
                return .failure(PolicyContextError(message: "`\(path)` is too large for a Cedar decimal"))
            }
            return .success(.decimal(decimal))
        }
        switch json {
        case .null:
            return .success(.record([:]))
        case .bool(let value):
            return .success(.bool(value))
        case .string(let value):
            if let enumType, PolicySchema.stringEnum(schema) != nil {
                return .success(.entity(EntityUID(type: enumType, id: value)))
            }
            return .success(.string(CedarString(value)))
        case .number(let number):
            if number.isIntegerLexeme {
                guard let value = number.int64 else {
                    return .failure(PolicyContextError(message: "`\(path)` is an integer outside the 64-bit range"))
                }
                return .success(.long(value))
            }
            guard let decimal = decimal(number.decimal) else {
                return .failure(
                    PolicyContextError(
                        message: "`\(path)` has more than 4 fractional digits or is too large for a Cedar decimal"))
            }
            return .success(.decimal(decimal))
        case .array(let elements):
            var result = Set<CedarValue>()
            let items = member(schema, "items")
            for (offset, element) in elements.enumerated() where !element.isNull {
                switch value(element, schema: items, path: "\(path)[\(offset)]", enumType: enumType) {
                case .success(let mapped): result.insert(mapped)
                case .failure(let error): return .failure(error)
                }
            }
            return .success(.set(result))
        case .object(let object):
            var result: [CedarString: CedarValue] = [:]
            let properties = member(schema, "properties")
            for (key, element) in object where !element.isNull {
                let child = PolicySchema.enumName(enumType, key)
                switch value(element, schema: member(properties, key), path: "\(path).\(key)", enumType: child) {
                case .success(let mapped): result[CedarString(key)] = mapped
                case .failure(let error): return .failure(error)
                }
            }
            return .success(.record(result))
        }
    }

    private static func member(_ schema: JSONValue?, _ key: String) -> JSONValue? {
        guard case .object(let object)? = schema else { return nil }
        return object[key]
    }

    private static func declaredType(_ schema: JSONValue?) -> String? {
        guard case .string(let name)? = member(schema, "type") else { return nil }
        return name
    }

    /// An exact decimal value as a Cedar decimal, if it has at most 4 fractional digits and fits.
    static func decimal(_ value: JSONDecimal) -> CedarDecimal? {
        guard value.exponent >= -4 else { return nil }
        var scaled: Int64 = 0
        for digit in value.digits {
            let (times, o1) = scaled.multipliedReportingOverflow(by: 10)
            let (next, o2) = times.addingReportingOverflow(Int64(digit))
            if o1 || o2 { return nil }
            scaled = next
        }
        for _ in 0..<(value.exponent + 4) {
            let (times, overflow) = scaled.multipliedReportingOverflow(by: 10)
            if overflow { return nil }
            scaled = times
        }
        return CedarDecimal(scaled: value.negative ? -scaled : scaled)
    }

    /// `"0.01"` stays; `"1"` becomes `"1.0"`, so a whole-number price hint is still a decimal.
    static func decimalText(_ text: String) -> String {
        text.contains(".") ? text : text + ".0"
    }

    /// The payment amount in whole units as a decimal rounded **up** to 4 places, and the atomic amount as a
    /// Long (or a String when it does not fit 64 bits).
    public static func amounts(_ payment: PaymentFacts) -> Result<
        (amount: CedarValue, atomic: CedarValue), PolicyContextError
    > {
        let digits = Array(payment.amountAtomic.utf8)
        guard !digits.isEmpty, digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            (0...77).contains(payment.decimals)
        else {
            return .failure(PolicyContextError(message: "the payment amount is not a non-negative integer"))
        }
        let atomic: CedarValue =
            Int64(payment.amountAtomic).map { .long($0) } ?? .string(CedarString(payment.amountAtomic))
        // amount * 10^4 / 10^decimals, rounded up, computed on the decimal digits exactly.
        var significant = digits.drop { $0 == UInt8(ascii: "0") }.map { Int($0 - UInt8(ascii: "0")) }
        if significant.isEmpty { significant = [0] }
        let shift = payment.decimals - 4
        var wholePart: [Int]
        var roundUp = false
        if shift <= 0 {
            wholePart = significant + Array(repeating: 0, count: -shift)
        } else if shift >= significant.count {
            wholePart = [0]
            roundUp = significant.contains { $0 != 0 }
        } else {
            wholePart = Array(significant[..<(significant.count - shift)])
            roundUp = significant[(significant.count - shift)...].contains { $0 != 0 }
        }
        var scaled: Int64 = 0
        for digit in wholePart {
            let (times, o1) = scaled.multipliedReportingOverflow(by: 10)
            let (next, o2) = times.addingReportingOverflow(Int64(digit))
            if o1 || o2 { return .failure(PolicyContextError(message: "the payment amount is too large for policy")) }
            scaled = next
        }
        if roundUp {
            let (next, overflow) = scaled.addingReportingOverflow(1)
            if overflow { return .failure(PolicyContextError(message: "the payment amount is too large for policy")) }
            scaled = next
        }
        return .success((.decimal(CedarDecimal(scaled: scaled)), atomic))
    }

    static func client(_ client: ClientFacts) -> CedarValue {
        var fields: [CedarString: CedarValue] = [:]
        if let name = client.name { fields["name"] = .string(CedarString(name)) }
        if let version = client.version { fields["version"] = .string(CedarString(version)) }
        return .record(fields)
    }
}
