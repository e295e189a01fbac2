import Foundation
import Testing
import X402

#if canImport(Glibc)
    import Glibc
#endif

/// A home directory with a signer.json of the given mode, removed at the end.
private struct Home {
    let url: URL

    init(mode: mode_t = 0o700, signerMode: mode_t? = 0o600) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("x402-perm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        chmod(url.path, mode)
        if let signerMode {
            let json =
                #"{"kind":"command","command":["/bin/true"],"address":"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"}"#
            try json.write(to: signerFile, atomically: false, encoding: .utf8)
            chmod(signerFile.path, signerMode)
        }
    }

    var signerFile: URL { url.appendingPathComponent("signer.json") }

    func remove() { try? FileManager.default.removeItem(at: url) }
}

private func configurationError(_ home: Home) -> String? {
    do {
        _ = try SignerConfiguration.load(home: home.url)
        return nil
    } catch {
        return error.code == .configuration ? error.message : "wrong code \(error.code)"
    }
}

@Suite("Signer configuration trust (issue 16)")
struct SignerConfigurationPermissionTests {
    @Test("an owner-only signer.json in an owner-only home loads")
    func ownerOnlyLoads() throws {
        let home = try Home()
        defer { home.remove() }
        guard case .command(let command, _, _) = try SignerConfiguration.load(home: home.url) else {
            Issue.record("expected the command signer")
            return
        }
        #expect(command == ["/bin/true"])
    }

    @Test("a signer.json readable or writable by group or others is refused", arguments: [0o644, 0o620, 0o606, 0o640])
    func openModesRefused(mode: Int) throws {
        let home = try Home(signerMode: mode_t(mode))
        defer { home.remove() }
        let message = try #require(configurationError(home))
        #expect(message.contains("signer.json"))
        #expect(message.contains("owner-only"))
    }

    @Test(
        "a home writable by group or others is refused, with or without signer.json", arguments: [0o770, 0o707, 0o777])
    func writableHomeRefused(mode: Int) throws {
        for signerMode: mode_t? in [0o600, nil] {
            let home = try Home(mode: mode_t(mode), signerMode: signerMode)
            defer { home.remove() }
            let message = try #require(configurationError(home))
            #expect(message.contains("can write to it"))
        }
    }

    @Test("a readable but not writable home (0755) is accepted")
    func readableHomeAccepted() throws {
        let home = try Home(mode: 0o755)
        defer { home.remove() }
        #expect(configurationError(home) == nil)
    }

    @Test("a signer.json that is a symbolic link is refused")
    func symlinkRefused() throws {
        let home = try Home(signerMode: nil)
        defer { home.remove() }
        let target = home.url.appendingPathComponent("elsewhere.json")
        try #"{"kind":"keyfile","keyFile":"wallet.key"}"#.write(to: target, atomically: false, encoding: .utf8)
        chmod(target.path, 0o600)
        try FileManager.default.createSymbolicLink(at: home.signerFile, withDestinationURL: target)
        #expect(configurationError(home)?.contains("symbolic link") == true)
    }

    @Test("a signer.json owned by another user is refused", .enabled(if: geteuid() == 0, "needs root to chown"))
    func otherOwnerRefused() throws {
        let home = try Home()
        defer { home.remove() }
        #expect(chown(home.signerFile.path, 65534, 65534) == 0)
        #expect(configurationError(home)?.contains("owned by another user") == true)
    }

    @Test("a home owned by another user is refused", .enabled(if: geteuid() == 0, "needs root to chown"))
    func otherOwnerHomeRefused() throws {
        let home = try Home()
        defer { home.remove() }
        #expect(chown(home.url.path, 65534, 65534) == 0)
        #expect(configurationError(home)?.contains("owned by another user") == true)
    }

    @Test("an approval key file is read only when owner-only")
    func ownerOnlyReader() throws {
        let home = try Home(signerMode: nil)
        defer { home.remove() }
        let path = home.url.appendingPathComponent("approval.key").path
        #expect(try OwnerOnlyFile.read(path, what: "the approval key") == nil)
        try Data(repeating: 7, count: 32).write(to: URL(fileURLWithPath: path))
        chmod(path, 0o644)
        #expect(throws: X402Error.self) { _ = try OwnerOnlyFile.read(path, what: "the approval key") }
        chmod(path, 0o600)
        #expect(try OwnerOnlyFile.read(path, what: "the approval key") == Array(repeating: 7, count: 32))
    }
}
