import EVMSigning
import Testing

@Suite("EIP-712 hashing")
struct EIP712Tests {
    // The EIP-712 specification's "Mail" example. Mail is not a type this module hashes, so the test builds
    // hashStruct(Mail) from the specification's rules with Keccak256 and checks it against the published value.
    @Test("the specification's Mail example: domain separator, struct hash, digest and signature")
    func mailExample() throws {
        let contract = try #require(EthereumAddress(hex: "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"))
        let domain = EIP712Domain(name: "Ether Mail", version: "1", chainID: UInt256(1), verifyingContract: contract)
        let separator = EIP712.domainSeparator(domain)
        #expect(hexString(separator) == "f2cee375fa42b42143804025fc449deafd50cc031ca257e0b194a650a912090f")

        func word(_ address: String) -> [UInt8] { [UInt8](repeating: 0, count: 12) + hexBytes(address) }
        let personType = Keccak256.hash(Array("Person(string name,address wallet)".utf8))
        let mailType = Keccak256.hash(
            Array("Mail(Person from,Person to,string contents)Person(string name,address wallet)".utf8))
        let cow = Keccak256.hash(
            personType + Keccak256.hash(Array("Cow".utf8)) + word("CD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"))
        let bob = Keccak256.hash(
            personType + Keccak256.hash(Array("Bob".utf8)) + word("bBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"))
        let mail = Keccak256.hash(mailType + cow + bob + Keccak256.hash(Array("Hello, Bob!".utf8)))
        #expect(hexString(mail) == "c52c0ee5d84264471806290a3f2c4cecfc5490626bf912d01f240d7a274b371e")

        let digest = EIP712.digest(domainSeparator: separator, structHash: mail)
        #expect(hexString(digest) == "be609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2")

        let key = try PrivateKey(bytes: Keccak256.hash(Array("cow".utf8)))
        #expect(hexString(key.address.bytes) == "cd2a3d9f938e13cd947ec05abc7fe734df8dd826")
        let signature = try key.sign(digest: digest)
        #expect(
            signature.hex
                == "0x4355c47d63924e8a72e509b65029052eb6c299d53a04e167c5775fd466751c9d"
                + "07299936d304c153f6443dfa05f40ff007d72911b6f72307f996231605b915621c")
    }

    @Test("x402.md §5: the EIP-3009 TransferWithAuthorization vector, byte for byte")
    func x402Vector() throws {
        let key = try PrivateKey(hex: "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
        let from = try #require(EthereumAddress(hex: "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"))
        #expect(key.address == from)
        #expect(key.address.checksummed == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266")
        let domain = EIP712Domain(
            name: "USDC", version: "2", chainID: try #require(UInt256(decimal: "84532")),
            verifyingContract: try #require(EthereumAddress(hex: "0x036CbD53842c5426634e7929541eC2318f3dCF7e")))
        #expect(
            hexString(EIP712.domainSeparator(domain))
                == "71f17a3b2ff373b803d70a5a07c046c1a2bc8e89c09ef722fcb047abe94c9818")
        let message = try TransferWithAuthorization(
            from: from, to: try #require(EthereumAddress(hex: "0x209693Bc6afc0C5328bA36FaF03C514EF312287C")),
            value: try #require(UInt256(decimal: "10000")), validAfter: .zero,
            validBefore: try #require(UInt256(decimal: "1900000000")),
            nonce: [UInt8](repeating: 0x11, count: 32))
        let digest = EIP712.digest(domain: domain, message: message)
        #expect(hexString(digest) == "925f00ea9e1189df2371e0c8f218cbdd5776140d9da472a8c7cc6a57f9191a36")
        let signature = try key.sign(digest: digest)
        #expect(
            signature.hex
                == "0xce2966c3fccb19b78025ec464a806a65d3bf9755f72c2451a1b06b30ca074ddd"
                + "36e247ce7c15ad88c8da6ccbde485de425459cbe54d1941d614b03b5bfefcf941b")
        #expect(recoverAddress(digest: digest, signature: signature) == from)
    }

    @Test("the Base mainnet USDC domain separator from x402.md §3.1")
    func baseMainnetDomain() throws {
        let domain = EIP712Domain(
            name: "USD Coin", version: "2", chainID: UInt256(8453),
            verifyingContract: try #require(EthereumAddress(hex: "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913")))
        #expect(
            hexString(EIP712.domainSeparator(domain))
                == "02fa7265e7c5d81118673727957699e4d68f74cd74b7db77da710fe8a2c7834f")
    }

    @Test("a nonce that is not 32 bytes is refused", arguments: [0, 31, 33])
    func badNonce(length: Int) throws {
        let address = try #require(EthereumAddress(hex: "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"))
        #expect(throws: SigningError.self) {
            try TransferWithAuthorization(
                from: address, to: address, value: .zero, validAfter: .zero, validBefore: .zero,
                nonce: [UInt8](repeating: 0, count: length))
        }
    }
}
