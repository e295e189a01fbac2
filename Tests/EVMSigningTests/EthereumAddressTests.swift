import EVMSigning
import Testing

@Suite("EIP-55 addresses")
struct EthereumAddressTests {
    // The checksummed examples from the EIP-55 specification.
    @Test(
        "EIP-55 specification examples",
        arguments: [
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
            "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
        ])
    func specExamples(text: String) throws {
        let address = try #require(EthereumAddress(hex: text))
        #expect(address.checksummed == text)
        #expect(EthereumAddress(hex: text.lowercased()) == address)
        #expect(EthereumAddress(hex: "0x" + text.dropFirst(2).uppercased()) == address)
    }

    @Test("a mixed-case address with a wrong checksum is refused")
    func badChecksum() {
        #expect(EthereumAddress(hex: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD") == nil)
        #expect(EthereumAddress(hex: "0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed") == nil)
    }

    @Test(
        "malformed addresses are refused",
        arguments: [
            "", "0x", "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beae",
            "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed00", "0X5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
            "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaeg", " 0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
        ])
    func malformed(text: String) {
        #expect(EthereumAddress(hex: text) == nil)
    }
}
