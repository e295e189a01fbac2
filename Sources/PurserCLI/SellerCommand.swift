import FoundationEssentials
import Ledger
import PurserDemo

/// `purser seller`: the demo's local x402 seller as a long-running loopback process, so the tools that
/// `purser init` writes have something to pay (no accounts, no network, no money moves).
struct SellerCommand: Subcommand {
    static let name = "seller"
    static let summary = "run the local x402 demo seller on 127.0.0.1 (what `init`'s sample tools call)"
    static let usage = "purser seller [--port N]   (default 8402; 0 picks a free port)"

    static func run(_ arguments: inout Arguments) async throws -> Int32 {
        var port = DemoSeller.defaultPort
        if let text = try arguments.option("port") {
            guard let value = UInt16(text) else { throw UsageError(description: "--port must be 0...65535") }
            port = value
        }
        try arguments.finish()
        let seller: DemoSeller
        do {
            seller = try DemoSeller.start(port: port)
        } catch let error as DemoServerError {
            printError(
                "purser seller: \(error.message). Is another seller already running? Stop it, or pick another port with --port N and point the tools at it (purser init --seller http://127.0.0.1:N)."
            )
            return 1
        }
        printOut("purser seller: listening on \(seller.baseURL)")
        printOut("  GET  /papers?q=…          free")
        printOut("  GET  /weather/{city}      0.01 USDC")
        printOut("  POST /reports {company}   0.50 USDC")
        printOut(
            "  pays to \(DemoSeller.payTo) on \(DemoSeller.network) (Base Sepolia USDC); signatures are verified, nothing is settled on a chain"
        )
        printOut("  Ctrl-C stops it.")
        var reported = 0
        // Runs until the process is stopped; each accepted payment is logged once.
        while true {
            try await Task.sleep(for: .milliseconds(200))
            let settled = seller.settled
            while reported < settled.count {
                let payment = settled[reported]
                reported += 1
                printOut(
                    "settled \(AssetAmount.format(Int64(payment.amountAtomic), decimals: 6)) USDC from \(payment.payer) for \(payment.route) (tx \(payment.transaction))"
                )
            }
        }
    }
}
