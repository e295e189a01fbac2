public import FoundationEssentials
import JSONCore

/// Signs through a JSON-RPC endpoint that holds the account: `eth_signTypedData_v4` over HTTP POST
/// (nodes with unlocked accounts, Clef, Frame, Web3Signer-style services).
///
/// The request is `{"jsonrpc":"2.0","id":1,"method":"eth_signTypedData_v4","params":[address, typedDataJSON]}`
/// with the typed data as a JSON string, as MetaMask and geth expect; the result is the signature hex.
public struct RemoteSigner: Signer {
    /// The account to sign with; signatures must recover to it.
    public let address: EVMAddressText
    /// The JSON-RPC endpoint.
    public let url: URL
    private let transport: any HTTPTransport

    /// Creates a remote signer that talks to `url` through `transport`.
    public init(url: URL, address: EVMAddressText, transport: any HTTPTransport) {
        self.url = url
        self.address = address
        self.transport = transport
    }

    public func sign(_ typedData: TransferTypedData) async throws -> [UInt8] {
        let result = try await call(
            method: "eth_signTypedData_v4",
            params: [.string(address.text), .string(typedData.eip712JSON.serialized())])
        guard case .string(let text) = result, text.hasPrefix("0x"), text.utf8.count == 132,
            let bytes = HexBytes.decodePrefixed(text)
        else {
            throw X402Error(.signerFailed, "the remote signer's result is not 0x followed by 130 hex digits")
        }
        return bytes
    }

    /// Asks the endpoint for its accounts (`eth_accounts`), e.g. to configure the address.
    public static func accounts(url: URL, transport: any HTTPTransport) async throws -> [EVMAddressText] {
        let signer = RemoteSigner(
            url: url, address: EVMAddressText("0x" + String(repeating: "0", count: 40))!,
            transport: transport)
        let result = try await signer.call(method: "eth_accounts", params: [])
        guard case .array(let items) = result else {
            throw X402Error(.signerFailed, "eth_accounts did not return an array")
        }
        var accounts: [EVMAddressText] = []
        for item in items {
            guard case .string(let text) = item, let address = EVMAddressText(text) else {
                throw X402Error(.signerFailed, "eth_accounts returned something that is not an address")
            }
            accounts.append(address)
        }
        return accounts
    }

    private func call(method: String, params: [JSONValue]) async throws -> JSONValue {
        let body: JSONValue = ["jsonrpc": "2.0", "id": 1, "method": .string(method), "params": .array(params)]
        let request = HTTPRequest(
            method: "POST", url: url, headers: ["Content-Type": "application/json", "Accept": "application/json"],
            body: body.serializedBytes())
        let response: HTTPResponse
        do {
            response = try await transport.send(request)
        } catch let error as HTTPTransportError {
            throw X402Error(.signerFailed, "the remote signer is unreachable (\(error.code))")
        }
        guard (200..<300).contains(response.status) else {
            throw X402Error(.signerFailed, "the remote signer answered HTTP \(response.status)")
        }
        let reply: JSONValue
        do {
            reply = try JSONParser.parse(response.body)
        } catch {
            throw X402Error(.signerFailed, "the remote signer's reply is not JSON")
        }
        if let error = reply["error"], !error.isNull {
            let code = error["code"]?.numberValue?.lexeme ?? "?"
            let message = CommandSigner.redactHex(String((error["message"]?.stringValue ?? "").prefix(200)))
            throw X402Error(.signerFailed, "the remote signer refused (\(code): \(message))")
        }
        guard let result = reply["result"] else {
            throw X402Error(.signerFailed, "the remote signer's reply has no result")
        }
        return result
    }
}
