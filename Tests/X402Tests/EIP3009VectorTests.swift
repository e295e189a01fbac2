import EVMSigning
import JSONCore
import Testing

@testable import X402

@Suite("x402.md §5 vector: digest, signature, payload JSON and header")
struct EIP3009VectorTests {
    let typedData = TransferTypedData(
        domain: EIP712Domain(
            name: "USDC", version: "2", chainID: UInt256(84532),
            verifyingContract: EthereumAddress(hex: Vector.asset)!),
        message: TransferAuthorization(
            from: Vector.from, to: Vector.payTo, value: AtomicAmount("10000")!, validAfter: 0,
            validBefore: 1_900_000_000, nonce: Vector.nonce))

    @Test("the EIP-712 digest matches byte for byte")
    func digest() throws {
        #expect(try HexBytes.prefixed(EIP3009Crypto.digest(typedData)) == Vector.digest)
    }

    @Test("a message that cannot be hashed is refused, never signed over a placeholder digest")
    func unhashableMessageRefused() async throws {
        let bad = TransferTypedData(
            domain: typedData.domain,
            message: TransferAuthorization(
                from: Vector.from, to: Vector.payTo, value: AtomicAmount("10000")!, validAfter: 0,
                validBefore: 1_900_000_000, nonce: Array(Vector.nonce.prefix(31))))
        #expect(throws: X402Error.self) { try EIP3009Crypto.digest(bad) }
        let signer = try KeyFileSigner(privateKey: HexBytes.decodePrefixed(Vector.privateKeyHex)!)
        await #expect(throws: (any Error).self) { try await signer.sign(bad) }
    }

    @Test("the key-file signer reproduces the RFC 6979 low-s signature and its address")
    func signature() async throws {
        let signer = try KeyFileSigner(privateKey: Vector.privateKey)
        #expect(signer.address.text == Vector.from)
        let signature = try await SignatureCheck.verified(typedData, by: signer)
        #expect(HexBytes.prefixed(signature) == Vector.signature)
    }

    @Test("the payment payload is exactly the compact JSON and standard base64 of the vector")
    func payload() throws {
        let required = try PaymentRequired.parse(
            Vector.required([Vector.offer()]).objectValue!, expected: .v2)
        let offer = try #require(PaymentSelector.select(required, policy: Vector.policy).cheapest)
        let json = PaymentPayload.json(
            offer: offer, accepted: offer.raw, required: required, authorization: typedData.message,
            signature: HexBytes.decodePrefixed(Vector.signature)!)
        #expect(json.serialized() == Vector.paymentJSON)
        #expect(Base64.encode(json.serializedBytes()) == Vector.paymentHeader)
    }

    @Test("v = 0/1 signatures are normalised to 27/28 and still recover")
    func normalisesV() throws {
        var raw = HexBytes.decodePrefixed(Vector.signature)!
        raw[64] -= 27
        let checked = try SignatureCheck.check(raw, typedData: typedData, expected: EVMAddressText(Vector.from)!)
        #expect(HexBytes.prefixed(checked) == Vector.signature)
    }

    @Test("a signature over other data, or by another key, is refused as a mismatch")
    func mismatch() throws {
        let other = TransferTypedData(
            domain: EIP712Domain(
                name: "USD Coin", version: "2", chainID: UInt256(84532),
                verifyingContract: EthereumAddress(hex: Vector.asset)!),
            message: typedData.message)
        #expect(throws: X402Error.self) {
            _ = try SignatureCheck.check(
                HexBytes.decodePrefixed(Vector.signature)!, typedData: other, expected: EVMAddressText(Vector.from)!)
        }
        do {
            _ = try SignatureCheck.check(
                HexBytes.decodePrefixed(Vector.signature)!, typedData: typedData,
                expected: EVMAddressText(Vector.payTo)!)
            Issue.record("expected a mismatch")
        } catch {
            #expect(error.code == .signatureMismatch)
        }
        var badV = HexBytes.decodePrefixed(Vector.signature)!
        badV[64] = 29
        #expect(throws: X402Error.self) {
            _ = try SignatureCheck.check(badV, typedData: typedData, expected: EVMAddressText(Vector.from)!)
        }
    }

    @Test("the typed data JSON has the eth_signTypedData_v4 shape")
    func typedDataJSON() throws {
        let json = typedData.eip712JSON
        #expect(json["primaryType"] == "TransferWithAuthorization")
        #expect(json["domain"]?["chainId"]?.numberValue?.lexeme == "84532")
        #expect(json["domain"]?["verifyingContract"] == .string(Vector.asset))
        #expect(json["message"]?["value"] == "10000")
        #expect(json["message"]?["nonce"] == .string("0x" + String(repeating: "11", count: 32)))
        let fields = try #require(json["types"]?["TransferWithAuthorization"]?.arrayValue)
        #expect(
            fields.compactMap { $0["name"]?.stringValue } == [
                "from", "to", "value", "validAfter", "validBefore", "nonce",
            ])
        let domainFields = try #require(json["types"]?["EIP712Domain"]?.arrayValue)
        #expect(domainFields.compactMap { $0["type"]?.stringValue } == ["string", "string", "uint256", "address"])
    }

    @Test("an offer's lower-case asset signs the same digest and reaches external signers in EIP-55 form")
    func lowerCaseAsset() throws {
        let lower = TransferTypedData(
            domain: EIP712Domain(
                name: "USDC", version: "2", chainID: UInt256(84532),
                verifyingContract: try #require(EthereumAddress(hex: Vector.asset.lowercased()))),
            message: typedData.message)
        #expect(try HexBytes.prefixed(EIP3009Crypto.digest(lower)) == Vector.digest)
        #expect(lower.eip712JSON["domain"]?["verifyingContract"] == .string(Vector.asset))
    }
}
