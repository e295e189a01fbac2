import JSONCore
import X402

/// The x402.md §5 vector (Anvil account #0 is a public test key).
enum Vector {
    static let privateKeyHex = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
    static let privateKey = HexBytes.decode(Array(privateKeyHex.utf8))!
    static let from = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    static let payTo = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"
    static let asset = "0x036CbD53842c5426634e7929541eC2318f3dCF7e"
    static let nonce = [UInt8](repeating: 0x11, count: 32)
    static let domainSeparator = "0x71f17a3b2ff373b803d70a5a07c046c1a2bc8e89c09ef722fcb047abe94c9818"
    static let digest = "0x925f00ea9e1189df2371e0c8f218cbdd5776140d9da472a8c7cc6a57f9191a36"
    static let signature =
        "0xce2966c3fccb19b78025ec464a806a65d3bf9755f72c2451a1b06b30ca074ddd36e247ce7c15ad88c8da6ccbde485de425459cbe54d1941d614b03b5bfefcf941b"
    static let paymentJSON =
        #"{"x402Version":2,"payload":{"authorization":{"from":"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266","to":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","value":"10000","validAfter":"0","validBefore":"1900000000","nonce":"0x1111111111111111111111111111111111111111111111111111111111111111"},"signature":"0xce2966c3fccb19b78025ec464a806a65d3bf9755f72c2451a1b06b30ca074ddd36e247ce7c15ad88c8da6ccbde485de425459cbe54d1941d614b03b5bfefcf941b"},"accepted":{"scheme":"exact","network":"eip155:84532","amount":"10000","asset":"0x036CbD53842c5426634e7929541eC2318f3dCF7e","payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","maxTimeoutSeconds":60,"extra":{"name":"USDC","version":"2"}},"resource":{"url":"http://127.0.0.1:4021/weather","description":"Weather report","mimeType":"application/json"}}"#
    static let paymentHeader =
        "eyJ4NDAyVmVyc2lvbiI6MiwicGF5bG9hZCI6eyJhdXRob3JpemF0aW9uIjp7ImZyb20iOiIweGYzOUZkNmU1MWFhZDg4RjZGNGNlNmFCODgyNzI3OWNmZkZiOTIyNjYiLCJ0byI6IjB4MjA5NjkzQmM2YWZjMEM1MzI4YkEzNkZhRjAzQzUxNEVGMzEyMjg3QyIsInZhbHVlIjoiMTAwMDAiLCJ2YWxpZEFmdGVyIjoiMCIsInZhbGlkQmVmb3JlIjoiMTkwMDAwMDAwMCIsIm5vbmNlIjoiMHgxMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExIn0sInNpZ25hdHVyZSI6IjB4Y2UyOTY2YzNmY2NiMTliNzgwMjVlYzQ2NGE4MDZhNjVkM2JmOTc1NWY3MmMyNDUxYTFiMDZiMzBjYTA3NGRkZDM2ZTI0N2NlN2MxNWFkODhjOGRhNmNjYmRlNDg1ZGU0MjU0NTljYmU1NGQxOTQxZDYxNGIwM2I1YmZlZmNmOTQxYiJ9LCJhY2NlcHRlZCI6eyJzY2hlbWUiOiJleGFjdCIsIm5ldHdvcmsiOiJlaXAxNTU6ODQ1MzIiLCJhbW91bnQiOiIxMDAwMCIsImFzc2V0IjoiMHgwMzZDYkQ1Mzg0MmM1NDI2NjM0ZTc5Mjk1NDFlQzIzMThmM2RDRjdlIiwicGF5VG8iOiIweDIwOTY5M0JjNmFmYzBDNTMyOGJBMzZGYUYwM0M1MTRFRjMxMjI4N0MiLCJtYXhUaW1lb3V0U2Vjb25kcyI6NjAsImV4dHJhIjp7Im5hbWUiOiJVU0RDIiwidmVyc2lvbiI6IjIifX0sInJlc291cmNlIjp7InVybCI6Imh0dHA6Ly8xMjcuMC4wLjE6NDAyMS93ZWF0aGVyIiwiZGVzY3JpcHRpb24iOiJXZWF0aGVyIHJlcG9ydCIsIm1pbWVUeXBlIjoiYXBwbGljYXRpb24vanNvbiJ9fQ=="

    /// The §4 worked 402 header (SDK server output).
    static let paymentRequiredHeader =
        "eyJ4NDAyVmVyc2lvbiI6MiwiZXJyb3IiOiJQYXltZW50IHJlcXVpcmVkIiwicmVzb3VyY2UiOnsidXJsIjoiaHR0cDovLzEyNy4wLjAuMTo0MDIxL3dlYXRoZXIiLCJkZXNjcmlwdGlvbiI6IldlYXRoZXIgcmVwb3J0IiwibWltZVR5cGUiOiJhcHBsaWNhdGlvbi9qc29uIn0sImFjY2VwdHMiOlt7InNjaGVtZSI6ImV4YWN0IiwibmV0d29yayI6ImVpcDE1NTo4NDUzMiIsImFzc2V0IjoiMHgwMzZDYkQ1Mzg0MmM1NDI2NjM0ZTc5Mjk1NDFlQzIzMThmM2RDRjdlIiwiYW1vdW50IjoiMTAwMDAiLCJwYXlUbyI6IjB4MjA5NjkzQmM2YWZjMEM1MzI4YkEzNkZhRjAzQzUxNEVGMzEyMjg3QyIsIm1heFRpbWVvdXRTZWNvbmRzIjozMDAsImV4dHJhIjp7Im5hbWUiOiJVU0RDIiwidmVyc2lvbiI6IjIifX1dfQ=="

    /// The §4 worked settlement header.
    static let settlementHeader =
        "eyJzdWNjZXNzIjogdHJ1ZSwgInBheWVyIjogIjB4RDU5N2ExZTk3NTE2MjhFRWI1RkJBMTI0NzNCYzE4NzM1RkE5QTg1OSIsICJ0cmFuc2FjdGlvbiI6ICIweGU2YWU0ZjYxN2ZmODJlMDRmYmY0YmY4MWI3OWY0NDU0ZGRkZGEzNTVkNTFmMTNjYTg0NDRhODQwOTNkMjg2NWQiLCAibmV0d29yayI6ICJlaXAxNTU6ODQ1MzIifQ=="

    static var policy: SelectionPolicy {
        SelectionPolicy(
            allowedAssets: [AllowedAsset(chainId: 84532, address: asset)!], maximumAmount: AtomicAmount("1000000")!)
    }

    /// A v2 402 whose accepts are the given JSON objects.
    static func required(_ accepts: [JSONValue], version: Int = 2) -> JSONValue {
        var object: JSONObject = ["x402Version": .number(JSONNumber(version)), "error": "Payment required"]
        if version == 2 {
            object["resource"] = [
                "url": "http://127.0.0.1:4021/weather", "description": "Weather report", "mimeType": "application/json",
            ]
        }
        object["accepts"] = .array(accepts)
        return .object(object)
    }

    /// A well-formed v2 offer, with overrides (nil removes a key).
    static func offer(_ overrides: [(String, JSONValue?)] = []) -> JSONValue {
        var object: JSONObject = [
            "scheme": "exact", "network": "eip155:84532", "amount": "10000", "asset": .string(asset),
            "payTo": .string(payTo), "maxTimeoutSeconds": 60, "extra": ["name": "USDC", "version": "2"],
        ]
        for (key, value) in overrides { object[key] = value }
        return .object(object)
    }

    static func response402(_ required: JSONValue, headerName: String = "PAYMENT-REQUIRED") -> HTTPResponse {
        HTTPResponse(
            status: 402, headers: HTTPHeaders([(headerName, Base64.encode(required.serializedBytes()))]),
            body: Array("{}".utf8))
    }
}
