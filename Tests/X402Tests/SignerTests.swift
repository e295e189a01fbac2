import EVMSigning
import Foundation
import Glibc
import HTTPClient
import JSONCore
import Purser
import PurserTesting
import Testing

@testable import X402

@Suite("Signers: key file, external command, JSON-RPC remote", .serialized)
struct SignerTests {
    init() { signal(SIGPIPE, SIG_IGN) }

    let typedData = TransferTypedData(
        domain: EIP712Domain(
            name: "USDC", version: "2", chainID: UInt256(84532),
            verifyingContract: EthereumAddress(hex: Vector.asset)!),
        message: TransferAuthorization(
            from: Vector.from, to: Vector.payTo, value: AtomicAmount("10000")!, validAfter: 0,
            validBefore: 1_900_000_000, nonce: Vector.nonce))

    func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("x402-signer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    func write(_ text: String, to url: URL, mode: mode_t) throws {
        try Data(text.utf8).write(to: url)
        chmod(url.path, mode)
    }

    @Test(
        "a key file is accepted only when owner-only",
        arguments: [(0o600, true), (0o400, true), (0o644, false), (0o640, false), (0o604, false)])
    func permissions(mode: Int, accepted: Bool) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("wallet.key")
        try write("0x" + Vector.privateKeyHex + "\n", to: path, mode: mode_t(mode))
        do {
            let signer = try KeyFileSigner(path: path.path)
            #expect(accepted)
            #expect(signer.address.text == Vector.from)
        } catch {
            #expect(!accepted)
            #expect(error.code == .keyFile)
            #expect(error.message.contains("owner-only"))
            #expect(!error.message.contains(Vector.privateKeyHex))
        }
    }

    @Test("symlinks, malformed keys and missing files are refused without quoting the content")
    func badKeyFiles() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let real = directory.appendingPathComponent("real.key")
        try write(Vector.privateKeyHex, to: real, mode: 0o600)
        let link = directory.appendingPathComponent("link.key")
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: real)
        let typo = directory.appendingPathComponent("typo.key")
        try write(Vector.privateKeyHex + "zz", to: typo, mode: 0o600)
        let zero = directory.appendingPathComponent("zero.key")
        try write(String(repeating: "0", count: 64), to: zero, mode: 0o600)
        for path in [link.path, typo.path, zero.path, directory.appendingPathComponent("missing").path] {
            do {
                _ = try KeyFileSigner(path: path)
                Issue.record("\(path) should be refused")
            } catch {
                #expect(error.code == .keyFile)
                #expect(!error.message.contains(Vector.privateKeyHex))
            }
        }
        #expect(try KeyFileSigner(path: real.path).address.text == Vector.from)
    }

    @Test("a FIFO where the key file should be is refused at once, not waited on (open would block without a writer)")
    func fifoKeyFile() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("wallet.key").path
        #expect(mkfifo(path, 0o600) == 0)
        do {
            _ = try KeyFileSigner(path: path)
            Issue.record("a FIFO was read as a key file")
        } catch {
            #expect(error.code == .keyFile)
            #expect(error.message.contains("not a regular file"))
        }
    }

    @Test("the key never shows in description, debugDescription, or a dump")
    func redaction() throws {
        let signer = try KeyFileSigner(privateKey: Vector.privateKey)
        var dumped = ""
        dump(signer, to: &dumped)
        for text in [
            signer.description, signer.debugDescription, String(describing: signer), String(reflecting: signer), dumped,
        ] {
            #expect(!text.lowercased().contains(Vector.privateKeyHex))
            #expect(!text.contains("ac0974be"))
        }
        #expect(signer.description.contains(Vector.from))
    }

    @Test("wallet creation writes a 0600 key file and never overwrites")
    func create() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("wallet.key").path
        let address = try KeyFile.create(at: path)
        var info = stat()
        #expect(stat(path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        #expect(try KeyFileSigner(path: path).address == address)
        do {
            _ = try KeyFile.create(at: path)
            Issue.record("overwrote a key file")
        } catch {
            #expect(error.message.contains("already exists"))
        }
        #expect(try KeyFileSigner(path: path).address == address)
    }

    func script(_ body: String, in directory: URL) throws -> String {
        let url = directory.appendingPathComponent("signer.sh")
        try write("#!/bin/sh\n" + body + "\n", to: url, mode: 0o700)
        return url.path
    }

    @Test("the command signer writes the typed data on stdin and reads the signature from stdout")
    func command() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let captured = directory.appendingPathComponent("stdin.json").path
        let path = try script("cat > '\(captured)'\necho '\(Vector.signature)'", in: directory)
        let signer = CommandSigner(command: [path], address: EVMAddressText(Vector.from)!, timeout: .seconds(10))
        let signature = try await SignatureCheck.verified(typedData, by: signer)
        #expect(HexBytes.prefixed(signature) == Vector.signature)
        let input = try JSONParser.parse(Array(try Data(contentsOf: URL(fileURLWithPath: captured))))
        #expect(input == typedData.eip712JSON)
    }

    @Test("a command signature by another key is a mismatch")
    func commandMismatch() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = try script("cat > /dev/null\necho '\(Vector.signature)'", in: directory)
        let signer = CommandSigner(command: [path], address: EVMAddressText(Vector.payTo)!, timeout: .seconds(10))
        do {
            _ = try await SignatureCheck.verified(typedData, by: signer)
            Issue.record("expected a mismatch")
        } catch {
            #expect(error.code == .signatureMismatch)
        }
    }

    @Test("a slow command is killed at its deadline")
    func commandTimeout() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = try script("exec sleep 120", in: directory)
        let signer = CommandSigner(command: [path], address: EVMAddressText(Vector.from)!, timeout: .milliseconds(300))
        let started = ContinuousClock.now
        do {
            _ = try await SignatureCheck.verified(typedData, by: signer)
            Issue.record("expected a timeout")
        } catch {
            #expect(error.code == .signerFailed)
            #expect(error.message.contains("did not answer"))
        }
        // Far below the script's own 120 s, far above a loaded machine's spawn and kill (5 s was once missed).
        #expect(ContinuousClock.now - started < .seconds(60))
    }

    @Test("at the deadline the command's own children are killed too, so none holds the call open")
    func commandTimeoutKillsChildren() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let pidFile = directory.appendingPathComponent("child.pid").path
        // The background sleep keeps the output pipes open after the script itself is killed.
        let path = try script("sleep 30 &\necho $! > '\(pidFile)'\nexec sleep 30", in: directory)
        let signer = CommandSigner(command: [path], address: EVMAddressText(Vector.from)!, timeout: .milliseconds(500))
        let started = ContinuousClock.now
        do {
            _ = try await SignatureCheck.verified(typedData, by: signer)
            Issue.record("expected a timeout")
        } catch {
            #expect(error.code == .signerFailed)
            #expect(error.message.contains("did not answer"))
        }
        #expect(ContinuousClock.now - started < .seconds(15))
        let text = try String(contentsOfFile: pidFile, encoding: .utf8)
        let child = try #require(Int32(text.filter(\.isNumber)))
        // Killed: gone, or a zombie waiting for init to reap it.
        var state = "?"
        for _ in 0..<200 {
            guard let stat = try? String(contentsOfFile: "/proc/\(child)/stat", encoding: .utf8) else {
                state = "gone"
                break
            }
            state = String(stat.split(separator: ")").last?.dropFirst().prefix(1) ?? "?")
            if state == "Z" { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(state == "gone" || state == "Z")
    }

    @Test("the command runs with purser's environment and none of its other descriptors")
    func commandEnvironmentAndDescriptors() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let secretPath = directory.appendingPathComponent("ledger-like").path
        // Opened without O_CLOEXEC, as a careless descriptor of ours would be.
        let descriptor = open(secretPath, O_CREAT | O_RDWR, 0o600)
        #expect(descriptor > 2)
        defer { close(descriptor) }
        setenv("PURSER_SIGNER_TEST_MARK", "marked-\(descriptor)", 1)
        defer { unsetenv("PURSER_SIGNER_TEST_MARK") }
        let report = directory.appendingPathComponent("report").path
        let path = try script(
            """
            cat > /dev/null
            echo "mark=$PURSER_SIGNER_TEST_MARK" > '\(report)'
            echo "fd=$(readlink /proc/$$/fd/\(descriptor))" >> '\(report)'
            echo '\(Vector.signature)'
            """, in: directory)
        let signer = CommandSigner(command: [path], address: EVMAddressText(Vector.from)!, timeout: .seconds(10))
        _ = try await SignatureCheck.verified(typedData, by: signer)
        let lines = try String(contentsOfFile: report, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.first == "mark=marked-\(descriptor)")
        #expect(lines.dropFirst().first.map { !$0.contains(secretPath) } == true)
    }

    @Test("a command that exits without reading its input, or says too much, ends cleanly")
    func childProcessEdges() async throws {
        let unread = ChildProcess(
            executable: "/bin/true", arguments: [], input: [UInt8](repeating: 0x41, count: 1 << 20),
            timeout: .seconds(10), outputCap: 16)
        #expect(await unread.run() == .finished(status: 0, stdout: [], stderr: []))
        let chatty = ChildProcess(
            executable: "/bin/sh", arguments: ["-c", "head -c 100000 /dev/zero; head -c 5 /dev/zero >&2; exit 7"],
            input: [], timeout: .seconds(10), outputCap: 16)
        // 100,000 bytes said, the cap (16) plus one kept.
        let expected = ChildProcess.Ending.finished(
            status: 7, stdout: [UInt8](repeating: 0, count: 17), stderr: [UInt8](repeating: 0, count: 5))
        #expect(await chatty.run() == expected)
        let missing = ChildProcess(
            executable: "/nonexistent/signer", arguments: [], input: [], timeout: .seconds(10), outputCap: 16)
        guard case .notStarted = await missing.run() else {
            Issue.record("a missing executable should not start")
            return
        }
    }

    @Test("a failing command's stderr is excerpted with hex runs redacted")
    func commandFailure() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = try script("cat > /dev/null\necho 'bad key \(Vector.privateKeyHex)' >&2\nexit 3", in: directory)
        let signer = CommandSigner(command: [path], address: EVMAddressText(Vector.from)!, timeout: .seconds(10))
        do {
            _ = try await SignatureCheck.verified(typedData, by: signer)
            Issue.record("expected a failure")
        } catch {
            #expect(error.code == .signerFailed)
            #expect(error.message.contains("status 3"))
            #expect(error.message.contains("[redacted]"))
            #expect(!error.message.contains(Vector.privateKeyHex))
        }
        let garbage = try script("cat > /dev/null\necho 'not a signature'", in: directory)
        await #expect(throws: X402Error.self) {
            _ = try await SignatureCheck.verified(
                typedData, by: CommandSigner(command: [garbage], address: EVMAddressText(Vector.from)!))
        }
    }

    @Test("the remote signer speaks eth_signTypedData_v4 over HTTP POST")
    func remote() async throws {
        let server = try LoopbackServer { request in
            let json = (try? JSONParser.parse(request.body)) ?? .null
            guard json["method"] == "eth_signTypedData_v4" else {
                return .init(
                    status: 200, body: Array(#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"nope"}}"#.utf8)
                )
            }
            return .init(status: 200, body: Array(#"{"jsonrpc":"2.0","id":1,"result":"\#(Vector.signature)"}"#.utf8))
        }
        defer { server.stop() }
        let signer = RemoteSigner(
            url: server.baseURL, address: EVMAddressText(Vector.from)!, transport: HTTPClient())
        let signature = try await SignatureCheck.verified(typedData, by: signer)
        #expect(HexBytes.prefixed(signature) == Vector.signature)
        let request = try #require(server.requests.first)
        #expect(request.method == "POST")
        let body = try JSONParser.parse(request.body)
        #expect(body["jsonrpc"] == "2.0")
        let params = try #require(body["params"]?.arrayValue)
        #expect(params.first == .string(Vector.from))
        #expect(try JSONParser.parse(try #require(params.last?.stringValue)) == typedData.eip712JSON)
    }

    @Test("remote errors, HTTP failures and wrong keys are refused")
    func remoteFailures() async throws {
        let server = try LoopbackServer { request in
            if request.path == "/error" {
                return .init(
                    status: 200,
                    body: Array(#"{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"locked"}}"#.utf8))
            }
            if request.path == "/down" { return .init(status: 503) }
            return .init(status: 200, body: Array(#"{"jsonrpc":"2.0","id":1,"result":"\#(Vector.signature)"}"#.utf8))
        }
        defer { server.stop() }
        let transport = HTTPClient()
        for (path, address, code) in [
            ("/error", Vector.from, X402Error.Code.signerFailed), ("/down", Vector.from, .signerFailed),
            ("/ok", Vector.payTo, .signatureMismatch),
        ] {
            let signer = RemoteSigner(
                url: server.baseURL.appendingPathComponent(path), address: EVMAddressText(address)!,
                transport: transport)
            do {
                _ = try await SignatureCheck.verified(typedData, by: signer)
                Issue.record("\(path) should fail")
            } catch {
                #expect(error.code == code, "\(path)")
            }
        }
    }
}

@Suite("Signer configuration")
struct SignerConfigurationTests {
    @Test("parses and round-trips each kind")
    func roundTrip() throws {
        let configurations: [SignerConfiguration] = [
            .keyFile(path: "wallet.key"),
            .command(["/bin/sign", "--a"], address: EVMAddressText(Vector.from)!, timeoutSeconds: 12),
            .remote(URL(string: "http://127.0.0.1:8550")!, address: EVMAddressText(Vector.from)!),
        ]
        for configuration in configurations {
            #expect(try SignerConfiguration.parse(configuration.json.serializedBytes()) == configuration)
        }
    }

    @Test(
        "refuses unknown fields, kinds and bad values",
        arguments: [
            #"{"kind":"keyfile","keyFile":"k","key":"0xabc"}"#, #"{"kind":"vault"}"#,
            #"{"kind":"command","command":[],"address":"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"}"#,
            #"{"kind":"command","command":["/x"],"address":"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92267"}"#,
            #"{"kind":"remote","url":"file:///x","address":"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"}"#,
            #"{"kind":"command","command":["/x"],"address":"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266","timeoutSeconds":0}"#,
        ])
    func refuses(json: String) {
        #expect(throws: X402Error.self) { _ = try SignerConfiguration.parse(Array(json.utf8)) }
    }

    @Test("without signer.json the home's wallet.key is used")
    func defaultKeyFile() throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("x402-home-\(UUID().uuidString)")
        let configuration = try SignerConfiguration.load(home: home)
        #expect(configuration == .keyFile(path: "wallet.key"))
        #expect(configuration.keyFilePath(home: home) == home.appendingPathComponent("wallet.key").path)
    }
}
