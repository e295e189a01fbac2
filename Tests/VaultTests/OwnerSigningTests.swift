import EVMSigning
import JSONCore
import OwnerSigning
import Testing

@Suite struct PBKDF2Tests {
    // RFC 7914 §11 / widely published PBKDF2-HMAC-SHA256 vectors (not produced by this implementation).
    @Test func matchesPublishedVectors() {
        let one = PBKDF2.sha256(password: Array("password".utf8), salt: Array("salt".utf8), iterations: 1, length: 32)
        #expect(OwnerHex.encode(one) == "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b")
        let many = PBKDF2.sha256(
            password: Array("password".utf8), salt: Array("salt".utf8), iterations: 4096, length: 32)
        #expect(OwnerHex.encode(many) == "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a")
        let long = PBKDF2.sha256(
            password: Array("passwordPASSWORDpassword".utf8), salt: Array("saltSALTsaltSALTsaltSALTsaltSALTsalt".utf8),
            iterations: 4096, length: 40)
        #expect(
            OwnerHex.encode(long)
                == "348c89dbcbd32b2f32d814b8116e84cf2b17347ebc1800181c4e2a1fb8dd53e1c635518c7dac47e9")
    }
}

@Suite struct OwnerRequestTests {
    static let passphrase = "correct horse battery staple"
    // The minimum work factor keeps the suite fast; the default is covered by the interop suite.
    static let made = try! OwnerKeyRecord.create(passphrase: passphrase, iterations: OwnerKeyRecord.minimumIterations)

    @Test func theRecordRoundTripsAndTheSamePassphraseDerivesTheSameKey() throws {
        let (record, key) = Self.made
        let parsed = try OwnerKeyRecord.parse(try JSONParser.parse(record.json.serialized()))
        #expect(parsed == record)
        #expect(try parsed.key(passphrase: Self.passphrase).address == key.address)
    }

    /// A record with a cheap work factor, for the signature tests only (parsing would refuse it).
    static let cheap: (OwnerKeyRecord, [UInt8]) = {
        let salt = Array(repeating: UInt8(7), count: 16)
        let key = try! OwnerKeyRecord(
            address: EthereumAddress(hex: "0x" + String(repeating: "0", count: 40))!,
            iterations: 1000, salt: salt
        ).key(passphrase: passphrase)
        return (OwnerKeyRecord(address: key.address, iterations: 1000, salt: salt), salt)
    }()

    @Test func anotherPassphraseDerivesAnotherKey() throws {
        let record = Self.cheap.0
        #expect(try record.key(passphrase: Self.passphrase).address == record.address)
        #expect(try record.key(passphrase: Self.passphrase + "x").address != record.address)
    }

    @Test func weakOrUnknownRecordsAreRefused() throws {
        var object = Self.made.0.json.objectValue!
        var kdf = object["kdf"]!.objectValue!
        kdf["iterations"] = 1000
        object["kdf"] = .object(kdf)
        #expect(throws: OwnerAuthorityError.self) { try OwnerKeyRecord.parse(.object(object)) }
        var extra = Self.made.0.json.objectValue!
        extra["note"] = "x"
        #expect(throws: OwnerAuthorityError.self) { try OwnerKeyRecord.parse(.object(extra)) }
        #expect(throws: OwnerAuthorityError.self) {
            try OwnerKeyRecord.create(passphrase: "short", iterations: 100_000)
        }
    }

    @Test func aSignedRequestVerifiesAndAnyAlterationIsRefused() throws {
        let record = Self.cheap.0
        let key = try record.key(passphrase: Self.passphrase)
        let verifier = OwnerRequestVerifier(record: record)
        let request = try OwnerRequest.fresh(
            action: "session.grant", parameters: ["agent": "alice", "budget": "1.00"], now: 1_000_000
        ).signed(with: key)
        let wire = request.json
        try verifier.verify(try OwnerRequest.parse(wire), now: 1_000_000)

        var raised = wire.objectValue!
        raised["params"] = ["agent": "alice", "budget": "1000.00"]
        let altered = try OwnerRequest.parse(.object(raised))
        do {
            try verifier.verify(altered, now: 1_000_000)
            Issue.record("an altered request verified")
        } catch {
            #expect(error.code == .badSignature)
        }
        let wrong = try record.key(passphrase: "not the owner's passphrase")
        let forged = try OwnerRequest.fresh(action: "approve", parameters: ["id": "apr_1"], now: 1_000_000).signed(
            with: wrong)
        do {
            try verifier.verify(forged, now: 1_000_000)
            Issue.record("a request signed with another passphrase verified")
        } catch {
            #expect(error.code == .badSignature)
        }
        do {
            try verifier.verify(request, now: 1_000_000 + OwnerRequestVerifier.window + 1)
            Issue.record("a stale request verified")
        } catch {
            #expect(error.code == .stale)
        }
    }

    @Test func malformedRequestsAreRefused() {
        for bad: JSONValue in [
            "text", ["v": 2],
            ["v": 1, "action": "approve", "params": [:], "nonce": "zz", "timestamp": 1, "signature": "0x"],
        ] {
            #expect(throws: OwnerAuthorityError.self) { try OwnerRequest.parse(bad) }
        }
    }
}
