import JSONCore
import X402

private let policy = SelectionPolicy(
    allowedAssets: [AllowedAsset(chainId: 84532, address: "0x036CbD53842c5426634e7929541eC2318f3dCF7e")!],
    maximumAmount: AtomicAmount(1_000_000))

/// libFuzzer entry: the input as an x402 v1 402 body (then offer selection), and as a v1
/// `X-PAYMENT-RESPONSE` settlement header (raw and base64-encoded).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let challenge = HTTPResponse(status: 402, headers: ["Content-Type": "application/json"], body: bytes)
    if let required = try? PaymentRequired.decode(from: challenge) {
        _ = PaymentSelector.select(required, policy: policy)
    }
    for value in [String(decoding: bytes, as: UTF8.self), Base64.encode(bytes)] {
        _ = try? Settlement.decode(
            from: HTTPResponse(status: 200, headers: ["X-PAYMENT-RESPONSE": value]), version: .v1)
    }
    return 0
}
