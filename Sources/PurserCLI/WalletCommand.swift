import FoundationEssentials
import Glibc
import HTTPClient
import Purser
import X402

/// `purser wallet new | address | signer keyfile|command|remote`: the payer wallet and how to reach it.
///
/// Only addresses are ever printed; keys stay in their owner-only file.
struct WalletCommand: Subcommand {
    static let name = "wallet"
    static let summary = "create or show the payer address, configure the signer (never prints a key)"
    static let usage = """
        purser wallet new [--home DIR]
               purser wallet address [--home DIR]
               purser wallet signer keyfile [--key-file PATH] [--home DIR]
               purser wallet signer command CMD [ARG…] --address 0x… [--timeout SECONDS] [--home DIR]
               purser wallet signer remote URL [--address 0x…] [--home DIR]
        """

    static func run(_ arguments: inout Arguments) async throws -> Int32 {
        let resolved = try RuntimeConfiguration.resolve(
            agent: nil, tools: nil, policies: nil, home: try arguments.option("home"))
        let home = URL(fileURLWithPath: resolved.homeDirectory)
        let action = try arguments.positional("an action (new, address, signer)")
        switch action {
        case "new":
            try arguments.finish()
            try ensureHome(home)
            let path = home.appendingPathComponent(SignerConfiguration.defaultKeyFile).path
            let address = try KeyFile.create(at: path)
            printOut(address.text)
            return 0
        case "address":
            try arguments.finish()
            let signer: any Signer
            do {
                let configuration = try SignerConfiguration.load(home: home)
                signer = try configuration.makeSigner(home: home, transport: HTTPClient())
            } catch {
                // Name the fix: the wallet is made by `wallet new` or `init`, in the home resolved as everywhere.
                printError(
                    "purser wallet: \(error) — create one with `purser wallet new` (or `purser init`). \(resolved.hint(for: .home))."
                )
                return 1
            }
            printOut(EIP3009Crypto.checksummed(signer.address.bytes))
            return 0
        case "signer":
            return try await configureSigner(&arguments, home: home)
        default:
            throw UsageError(description: "unknown action '\(action)'")
        }
    }

    private static func configureSigner(_ arguments: inout Arguments, home: URL) async throws -> Int32 {
        let kind = try arguments.positional("a signer kind (keyfile, command, remote)")
        let configuration: SignerConfiguration
        switch kind {
        case "keyfile":
            let path = try arguments.option("key-file") ?? SignerConfiguration.defaultKeyFile
            try arguments.finish()
            configuration = .keyFile(path: path)
        case "command":
            let addressText = try arguments.option("address")
            let timeoutText = try arguments.option("timeout")
            var command = [try arguments.positional("the signer command")]
            while !arguments.positionals.isEmpty { command.append(try arguments.positional("an argument")) }
            try arguments.finish()
            guard let addressText else {
                throw UsageError(description: "--address is required: a command signer cannot be asked for its address")
            }
            let timeout = try timeoutText.map { text -> Int in
                guard let seconds = Int(text), (1...600).contains(seconds) else {
                    throw UsageError(description: "--timeout must be whole seconds in 1...600")
                }
                return seconds
            }
            configuration = .command(command, address: try parseAddress(addressText), timeoutSeconds: timeout ?? 30)
        case "remote":
            let addressText = try arguments.option("address")
            let urlText = try arguments.positional("the signer URL")
            try arguments.finish()
            guard let url = URL(string: urlText), let scheme = url.scheme?.lowercased(),
                scheme == "http" || scheme == "https", url.host != nil
            else { throw UsageError(description: "the signer URL must be http or https") }
            let address: EVMAddressText
            if let addressText {
                address = try parseAddress(addressText)
            } else {
                let accounts = try await RemoteSigner.accounts(url: url, transport: HTTPClient())
                guard accounts.count == 1 else {
                    throw UsageError(
                        description: "the endpoint has \(accounts.count) accounts; choose one with --address")
                }
                address = accounts[0]
            }
            configuration = .remote(url, address: address)
        default:
            throw UsageError(description: "unknown signer kind '\(kind)' (keyfile, command, remote)")
        }
        try ensureHome(home)
        // Loading the signer proves the configuration usable (a key file must exist and be owner-only).
        let signer = try configuration.makeSigner(home: home, transport: HTTPClient())
        try writeConfiguration(configuration, home: home)
        printOut(EIP3009Crypto.checksummed(signer.address.bytes))
        return 0
    }

    private static func parseAddress(_ text: String) throws -> EVMAddressText {
        guard let address = EVMAddressText(text), EIP3009Crypto.hasValidChecksum(address) else {
            throw UsageError(description: "--address must be 0x + 40 hex digits (valid EIP-55 if mixed case)")
        }
        return address
    }

    private static func ensureHome(_ home: URL) throws {
        var isDirectory = false
        if FileManager.default.fileExists(atPath: home.path, isDirectory: &isDirectory) {
            guard isDirectory else { throw UsageError(description: "\(home.path) is not a directory") }
            return
        }
        try FileManager.default.createDirectory(
            at: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    private static func writeConfiguration(_ configuration: SignerConfiguration, home: URL) throws {
        let target = home.appendingPathComponent(SignerConfiguration.fileName).path
        let temporary = target + ".tmp-\(getpid())"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw X402Error(.configuration, "\(temporary) cannot be created") }
        let bytes = configuration.fileContent
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard written == bytes.count, synced, rename(temporary, target) == 0 else {
            unlink(temporary)
            throw X402Error(.configuration, "\(target) could not be written")
        }
        let directory = open(home.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directory >= 0 {
            fsync(directory)
            close(directory)
        }
    }
}
