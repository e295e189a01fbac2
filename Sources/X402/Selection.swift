public import JSONCore

/// An asset the caller is willing to pay with: a token contract on a network.
public struct AllowedAsset: Sendable, Hashable {
    /// The network.
    public let network: EVMNetwork
    /// The token contract (compared by bytes, any case).
    public let address: EVMAddressText

    /// Creates an allowed asset; nil when `address` is not `0x` + 40 hex digits.
    public init?(chainId: UInt64, address: String) {
        guard let parsed = EVMAddressText(address) else { return nil }
        self.network = EVMNetwork(chainId: chainId)
        self.address = parsed
    }
}

/// What the caller can and will pay, for `PaymentSelector`.
public struct SelectionPolicy: Sendable {
    /// Tokens the caller pays with; everything else is refused.
    public var allowedAssets: Set<AllowedAsset>
    /// The largest amount, in atomic units, any single offer may ask for.
    public var maximumAmount: AtomicAmount
    /// The longest `maxTimeoutSeconds` accepted; longer offers are refused as insane.
    public var maximumTimeoutSeconds: Int64
    /// The shortest `maxTimeoutSeconds` accepted (the facilitator wants `validBefore ≥ now + 6`).
    public var minimumTimeoutSeconds: Int64

    /// Creates a policy.
    public init(
        allowedAssets: Set<AllowedAsset>, maximumAmount: AtomicAmount, maximumTimeoutSeconds: Int64 = 86_400,
        minimumTimeoutSeconds: Int64 = 6
    ) {
        self.allowedAssets = allowedAssets
        self.maximumAmount = maximumAmount
        self.maximumTimeoutSeconds = maximumTimeoutSeconds
        self.minimumTimeoutSeconds = minimumTimeoutSeconds
    }
}

/// An offer that passed every check: something this client can pay with EIP-3009 `exact`.
///
/// Only `PaymentSelector` creates offers, and each is bound to the challenge it came from.
public struct PaymentOffer: Sendable {
    /// The protocol version of the challenge.
    public let version: X402Version
    /// Position in `accepts`.
    public let index: Int
    /// The offer exactly as received; echoed verbatim as `accepted` in v2.
    public let raw: JSONObject
    /// The network string as received (`eip155:84532` or `base-sepolia`).
    public let networkName: String
    /// The network.
    public let network: EVMNetwork
    /// The amount to pay, atomic units (`amount` in v2, `maxAmountRequired` in v1).
    public let amount: AtomicAmount
    /// The token contract.
    public let asset: EVMAddressText
    /// The payee.
    public let payTo: EVMAddressText
    /// The server's validity bound for the authorization, in seconds.
    public let maxTimeoutSeconds: Int64
    /// EIP-712 domain name from `extra.name`.
    public let domainName: String
    /// EIP-712 domain version from `extra.version`.
    public let domainVersion: String
    /// v1 per-offer `resource` URL, if any.
    public let resourceURL: String?
    let challengeID: UInt64
}

/// Why one offer was refused.
public struct OfferRejection: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable reason category.
    public struct Reason: Sendable, Hashable, CustomStringConvertible {
        /// The reason's stable name.
        public let name: String
        private init(_ name: String) { self.name = name }

        /// `scheme` is missing or not `exact`.
        public static let unsupportedScheme = Reason("unsupportedScheme")
        /// `extra.assetTransferMethod` is present and not `eip3009`.
        public static let unsupportedTransferMethod = Reason("unsupportedTransferMethod")
        /// `network` is missing, not EVM, or unknown.
        public static let unknownNetwork = Reason("unknownNetwork")
        /// `asset` is not a valid address.
        public static let invalidAsset = Reason("invalidAsset")
        /// The asset is not in the caller's allow-list for that network.
        public static let assetNotAllowed = Reason("assetNotAllowed")
        /// `extra`, `extra.name` or `extra.version` is missing or not a non-empty string.
        public static let missingDomain = Reason("missingDomain")
        /// The amount is missing or not a canonical decimal integer string.
        public static let invalidAmount = Reason("invalidAmount")
        /// The amount is zero.
        public static let zeroAmount = Reason("zeroAmount")
        /// The amount exceeds the caller's maximum.
        public static let amountAboveMaximum = Reason("amountAboveMaximum")
        /// `payTo` is missing or not a valid address.
        public static let invalidPayTo = Reason("invalidPayTo")
        /// `maxTimeoutSeconds` is missing, not an integer, or outside the sane range.
        public static let invalidTimeout = Reason("invalidTimeout")

        public var description: String { name }
    }

    /// Position of the offer in `accepts`.
    public let index: Int
    /// Why it was refused.
    public let reason: Reason
    /// The specifics, in words (values quoted from the offer, never secrets).
    public let message: String

    public var description: String { "accepts[\(index)]: \(reason): \(message)" }
}

/// The result of selection: what can be paid (cheapest first) and why the rest cannot.
public struct Selection: Sendable {
    /// Payable offers, cheapest first; ties keep the server's order.
    public let candidates: [PaymentOffer]
    /// One entry per refused offer, in the server's order.
    public let rejections: [OfferRejection]

    /// The cheapest payable offer, if any.
    public var cheapest: PaymentOffer? { candidates.first }
}

/// Validates offers and picks the cheapest one the caller can serve.
public enum PaymentSelector {
    /// Checks every offer of `required` against `policy`.
    ///
    /// An offer is payable when: scheme `exact`; no `extra.assetTransferMethod` other than `eip3009`;
    /// a known EVM network; an asset address in the allow-list for that network; non-empty
    /// `extra.name` and `extra.version`; a canonical decimal amount `> 0` and `≤ maximumAmount`; a valid
    /// `payTo`; an integer `maxTimeoutSeconds` in the policy's range.
    public static func select(
        _ required: PaymentRequired, policy: SelectionPolicy, challengeID: UInt64 = 0,
        addressCheck: (EVMAddressText) -> Bool = { _ in true }
    ) -> Selection {
        var candidates: [PaymentOffer] = []
        var rejections: [OfferRejection] = []
        for (index, raw) in required.accepts.enumerated() {
            switch check(
                raw, index: index, version: required.version, policy: policy, challengeID: challengeID,
                addressCheck: addressCheck)
            {
            case .success(let offer): candidates.append(offer)
            case .failure(let rejection): rejections.append(rejection)
            }
        }
        // A stable sort by amount: the cheapest wins, the server's order breaks ties.
        let ordered = candidates.enumerated().sorted { lhs, rhs in
            lhs.element.amount != rhs.element.amount ? lhs.element.amount < rhs.element.amount : lhs.offset < rhs.offset
        }.map { $0.element }
        return Selection(candidates: ordered, rejections: rejections)
    }

    private static func check(
        _ raw: JSONObject, index: Int, version: X402Version, policy: SelectionPolicy, challengeID: UInt64,
        addressCheck: (EVMAddressText) -> Bool
    ) -> Result<PaymentOffer, OfferRejection> {
        func reject(_ reason: OfferRejection.Reason, _ message: String) -> Result<PaymentOffer, OfferRejection> {
            .failure(OfferRejection(index: index, reason: reason, message: message))
        }
        guard case .string(let scheme)? = raw["scheme"] else {
            return reject(.unsupportedScheme, "scheme is missing or not a string")
        }
        guard scheme == "exact" else { return reject(.unsupportedScheme, "scheme \(quote(scheme)) is not exact") }

        var extra: JSONObject?
        switch raw["extra"] {
        case nil, .null?: extra = nil
        case .object(let object)?: extra = object
        default: return reject(.missingDomain, "extra is not an object")
        }
        if let method = extra?["assetTransferMethod"] {
            guard case .string(let text) = method, text == "eip3009" else {
                return reject(.unsupportedTransferMethod, "assetTransferMethod \(describe(method)) is not eip3009")
            }
        }

        guard case .string(let networkName)? = raw["network"] else {
            return reject(.unknownNetwork, "network is missing or not a string")
        }
        let parsedNetwork =
            version == .v2 ? EVMNetwork.parseCAIP2(networkName) : EVMNetwork.parseV1Name(networkName)
        guard let network = parsedNetwork else {
            return reject(.unknownNetwork, "network \(quote(networkName)) is not a known EVM network for \(version)")
        }

        guard case .string(let assetText)? = raw["asset"], let asset = EVMAddressText(assetText),
            addressCheck(asset)
        else {
            return reject(.invalidAsset, "asset \(describe(raw["asset"])) is not a valid address")
        }
        guard policy.allowedAssets.contains(where: { $0.network == network && $0.address == asset }) else {
            return reject(.assetNotAllowed, "asset \(assetText) on \(network) is not in the allow-list")
        }

        guard let extra else { return reject(.missingDomain, "extra (EIP-712 name and version) is missing") }
        guard case .string(let domainName)? = extra["name"], !domainName.isEmpty else {
            return reject(.missingDomain, "extra.name is missing or not a non-empty string")
        }
        guard case .string(let domainVersion)? = extra["version"], !domainVersion.isEmpty else {
            return reject(.missingDomain, "extra.version is missing or not a non-empty string")
        }

        let amountKey = version == .v2 ? "amount" : "maxAmountRequired"
        guard let amountValue = raw[amountKey] else { return reject(.invalidAmount, "\(amountKey) is missing") }
        guard case .string(let amountText) = amountValue else {
            return reject(.invalidAmount, "\(amountKey) \(describe(amountValue)) is not a decimal string")
        }
        guard let amount = AtomicAmount(amountText) else {
            return reject(.invalidAmount, "\(amountKey) \(quote(amountText)) is not a canonical decimal integer")
        }
        guard !amount.isZero else { return reject(.zeroAmount, "\(amountKey) is zero") }
        guard amount <= policy.maximumAmount else {
            return reject(.amountAboveMaximum, "\(amountKey) \(amount) exceeds the maximum \(policy.maximumAmount)")
        }

        guard case .string(let payToText)? = raw["payTo"], let payTo = EVMAddressText(payToText), addressCheck(payTo)
        else {
            return reject(.invalidPayTo, "payTo \(describe(raw["payTo"])) is not a valid address")
        }
        guard payTo.bytes.contains(where: { $0 != 0 }) else {
            return reject(.invalidPayTo, "payTo is the zero address")
        }

        guard case .number(let timeoutNumber)? = raw["maxTimeoutSeconds"], timeoutNumber.isIntegerLexeme,
            let timeout = timeoutNumber.int64
        else {
            return reject(.invalidTimeout, "maxTimeoutSeconds \(describe(raw["maxTimeoutSeconds"])) is not an integer")
        }
        guard timeout >= policy.minimumTimeoutSeconds, timeout <= policy.maximumTimeoutSeconds else {
            return reject(
                .invalidTimeout,
                "maxTimeoutSeconds \(timeout) is outside \(policy.minimumTimeoutSeconds)...\(policy.maximumTimeoutSeconds)"
            )
        }

        var resourceURL: String?
        if version == .v1, case .string(let url)? = raw["resource"] { resourceURL = url }

        return .success(
            PaymentOffer(
                version: version, index: index, raw: raw, networkName: networkName, network: network, amount: amount,
                asset: asset, payTo: payTo, maxTimeoutSeconds: timeout, domainName: domainName,
                domainVersion: domainVersion, resourceURL: resourceURL, challengeID: challengeID))
    }

    /// A short, bounded rendering of an untrusted value for messages.
    static func describe(_ value: JSONValue?) -> String {
        guard let value else { return "(missing)" }
        if case .string(let text) = value { return quote(text) }
        return clip(value.serialized())
    }

    static func quote(_ text: String) -> String {
        "\"" + clip(text) + "\""
    }

    private static func clip(_ text: String) -> String {
        // Untrusted text goes into messages and traces: bound it and drop control characters.
        let cleaned = String(text.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }.prefix(80))
        return text.unicodeScalars.count > 80 ? cleaned + "…" : cleaned
    }
}
