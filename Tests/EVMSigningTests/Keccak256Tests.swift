import EVMSigning
import Testing

@Suite("Keccak-256")
struct Keccak256Tests {
    @Test(
        "known answers, including the 135/136-byte padding edge (expected values from eth-hash)",
        arguments: [
            ([UInt8](), "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"),
            (Array("abc".utf8), "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"),
            ([UInt8](repeating: 0x61, count: 135), "34367dc248bbd832f4e3e69dfaac2f92638bd0bbd18f2912ba4ef454919cf446"),
            ([UInt8](repeating: 0x61, count: 136), "a6c4d403279fe3e0af03729caada8374b5ca54d8065329a3ebcaeb4b60aa386e"),
            ([UInt8](repeating: 0x61, count: 137), "d869f639c7046b4929fc92a4d988a8b22c55fbadb802c0c66ebcd484f1915f39"),
            ([UInt8](repeating: 0x61, count: 272), "cf7fcd4f705ee749930d19ca84561a9bf62516bd90a471545fa2f49fdc7e63c8"),
        ])
    func knownAnswers(input: [UInt8], expected: String) {
        #expect(hexString(Keccak256.hash(input)) == expected)
    }

    @Test("the EIP-712 type hashes match x402.md §3.1")
    func typeHashes() {
        #expect(
            hexString(EIP712.domainTypeHash) == "8b73c3c69bb8fe3d512ecc4cf759cc79239f7b179b0ffacaa9a75d522b39400f")
        #expect(
            hexString(EIP712.transferWithAuthorizationTypeHash)
                == "7c7c6cdb67a18743f49ec6fa9b35f50d52ed05cbed4cc592e13b44501c1a2267")
    }
}
