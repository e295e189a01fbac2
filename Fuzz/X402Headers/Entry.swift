import JSONCore
import X402

private let policy = SelectionPolicy(
    allowedAssets: [AllowedAsset(chainId: 84532, address: "0x036CbD53842c5426634e7929541eC2318f3dCF7e")!],
    maximumAmount: AtomicAmount(1_000_000))

/// libFuzzer entry: the input as a v2 `PAYMENT-REQUIRED` header (then offer selection) and as a
/// `PAYMENT-RESPONSE` settlement header, and base64-encoded into both, so the JSON inside is reached too.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    for value in [String(decoding: bytes, as: UTF8.self), Base64.encode(bytes)] {
        let challenge = HTTPResponse(status: 402, headers: ["PAYMENT-REQUIRED": value])
        if let required = try? PaymentRequired.decode(from: challenge) {
            let selection = PaymentSelector.select(required, policy: policy)
            for offer in selection.candidates where offer.amount.decimal == "0" { fatalError("a zero amount passed") }
        }
        let settled = HTTPResponse(status: 200, headers: ["PAYMENT-RESPONSE": value])
        _ = try? Settlement.decode(from: settled, version: .v2)
    }
    return 0
}
