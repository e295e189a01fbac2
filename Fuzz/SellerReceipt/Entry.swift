import JSONCore
import X402

private let expected = SellerReceipt.Expectation(
    payTo: "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23", network: "eip155:84532",
    payer: "0x857b06519E91e3A54538791bDbb0E22373e36b66", validAfter: 1_900_000_000,
    transaction: "0x" + String(repeating: "ab", count: 32), resourceURLs: ["https://api.example.com/premium-data"],
    now: 1_900_000_110)

/// libFuzzer entry: the input as a seller's receipt object `{format, payload?, signature}` and as a whole
/// settlement object; a hostile seller writes these bytes (the corpus: receipts signed by eth-account and
/// `cryptography`, from Tests/Interop/x402/receipt_signing.py).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard case .object(let object)? = try? JSONParser.parse(bytes) else { return 0 }
    _ = SellerReceipt.verify(envelope: object, expecting: expected)
    _ = SellerReceipt.verify(settlement: object, expecting: expected)
    return 0
}
