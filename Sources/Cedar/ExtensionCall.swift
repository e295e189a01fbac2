/// Applies Cedar's extension functions to evaluated arguments, with Cedar's errors: wrong arity, a type error
/// for a wrong argument type, an extension failure for an unparsable constructor argument or an overflow.
/// Used by the evaluator and for `__extn` values in entity and context JSON.
enum ExtensionCall {
    static func apply(_ function: ExtensionFunction, _ arguments: [CedarValue]) throws(EvaluationError)
        -> CedarValue
    {
        guard arguments.count == function.arity else {
            throw EvaluationError(
                code: .wrongNumberOfArguments,
                message: "wrong number of arguments provided to extension function \(function.rawValue): "
                    + "expected \(function.arity), got \(arguments.count)")
        }
        switch function {
        case .decimal:
            let text = try string(arguments[0])
            guard let value = CedarDecimal(parsing: text) else {
                throw failure(
                    "decimal", "the argument is not a decimal (-?digits.digits, at most 4 fractional digits)")
            }
            return .decimal(value)
        case .lessThan, .lessThanOrEqual, .greaterThan, .greaterThanOrEqual:
            guard case .decimal(let a) = arguments[0] else { throw .type(expected: "decimal", got: arguments[0]) }
            guard case .decimal(let b) = arguments[1] else { throw .type(expected: "decimal", got: arguments[1]) }
            switch function {
            case .lessThan: return .bool(a < b)
            case .lessThanOrEqual: return .bool(a <= b)
            case .greaterThan: return .bool(a > b)
            default: return .bool(a >= b)
            }
        case .ip:
            let text = try string(arguments[0])
            guard let value = CedarIPAddress(parsing: text) else {
                throw failure("ip", "the argument is not an IPv4 or IPv6 address or range")
            }
            return .ipaddr(value)
        case .isIpv4: return .bool(try ip(arguments[0]).isIPv4)
        case .isIpv6: return .bool(!(try ip(arguments[0]).isIPv4))
        case .isLoopback: return .bool(try ip(arguments[0]).isLoopback)
        case .isMulticast: return .bool(try ip(arguments[0]).isMulticast)
        case .isInRange: return .bool(try ip(arguments[0]).isInRange(try ip(arguments[1])))
        case .datetime:
            let text = try string(arguments[0])
            guard let value = CedarDatetime(parsing: text) else {
                throw failure("datetime", "the argument is not a valid datetime")
            }
            return .datetime(value)
        case .duration:
            let text = try string(arguments[0])
            switch CedarDuration.parse(text) {
            case .success(let value): return .duration(value)
            case .failure(.pattern): throw failure("duration", "invalid duration pattern")
            case .failure(.overflow): throw failure("duration", "duration overflows internal representation")
            }
        case .offset:
            let start = try datetime(arguments[0])
            let shift = try duration(arguments[1])
            let (sum, overflow) = start.milliseconds.addingReportingOverflow(shift.milliseconds)
            if overflow { throw failure("offset", "overflows when adding an offset") }
            return .datetime(CedarDatetime(milliseconds: sum))
        case .durationSince:
            let end = try datetime(arguments[0])
            let start = try datetime(arguments[1])
            let (difference, overflow) = end.milliseconds.subtractingReportingOverflow(start.milliseconds)
            if overflow { throw failure("durationSince", "overflows when computing the duration") }
            return .duration(CedarDuration(milliseconds: difference))
        case .toDate:
            let value = try datetime(arguments[0]).milliseconds
            // Floor to the day; the subtraction can only overflow near Int64.min.
            let remainder = value.remainderReportingOverflow(dividingBy: CedarDatetime.millisecondsPerDay).partialValue
            let euclidean = remainder < 0 ? remainder + CedarDatetime.millisecondsPerDay : remainder
            let (day, overflow) = value.subtractingReportingOverflow(euclidean)
            if overflow { throw failure("toDate", "overflows when computing the date") }
            return .datetime(CedarDatetime(milliseconds: day))
        case .toTime:
            let value = try datetime(arguments[0]).milliseconds
            let remainder = value % CedarDatetime.millisecondsPerDay
            return .duration(
                CedarDuration(milliseconds: remainder < 0 ? remainder + CedarDatetime.millisecondsPerDay : remainder))
        case .toMilliseconds: return .long(try duration(arguments[0]).milliseconds)
        case .toSeconds: return .long(try duration(arguments[0]).milliseconds / 1000)
        case .toMinutes: return .long(try duration(arguments[0]).milliseconds / 1000 / 60)
        case .toHours: return .long(try duration(arguments[0]).milliseconds / 1000 / 60 / 60)
        case .toDays: return .long(try duration(arguments[0]).milliseconds / 1000 / 60 / 60 / 24)
        }
    }

    private static func failure(_ function: String, _ detail: String) -> EvaluationError {
        EvaluationError(
            code: .extensionFailure, message: "error while evaluating `\(function)` extension function: \(detail)")
    }

    private static func string(_ value: CedarValue) throws(EvaluationError) -> String {
        guard case .string(let text) = value else { throw .type(expected: "string", got: value) }
        return text.value
    }

    private static func ip(_ value: CedarValue) throws(EvaluationError) -> CedarIPAddress {
        guard case .ipaddr(let address) = value else { throw .type(expected: "ipaddr", got: value) }
        return address
    }

    private static func datetime(_ value: CedarValue) throws(EvaluationError) -> CedarDatetime {
        guard case .datetime(let instant) = value else { throw .type(expected: "datetime", got: value) }
        return instant
    }

    private static func duration(_ value: CedarValue) throws(EvaluationError) -> CedarDuration {
        guard case .duration(let span) = value else { throw .type(expected: "duration", got: value) }
        return span
    }
}
