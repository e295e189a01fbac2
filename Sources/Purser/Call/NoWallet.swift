import X402

/// Stands in for a wallet when none is configured: refuses to sign (the pipeline refuses before that).
struct NoWallet: Signer {
    var address: EVMAddressText { EVMAddressText("0x0000000000000000000000000000000000000000")! }
    func sign(_ typedData: TransferTypedData) async throws -> [UInt8] {
        throw X402Error(.signerFailed, "no wallet is configured")
    }
}
