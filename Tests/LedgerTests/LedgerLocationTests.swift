import Ledger
import Testing

@Suite("Ledger location: a file path or a postgres:// URL without a password")
struct LedgerLocationTests {
    @Test("postgres:// and postgresql:// URLs are PostgreSQL; anything else is a file path")
    func kinds() throws {
        #expect(try LedgerLocation("/var/lib/purser/ledger.sqlite") == .sqlite(path: "/var/lib/purser/ledger.sqlite"))
        #expect(try LedgerLocation("ledger.sqlite") == .sqlite(path: "ledger.sqlite"))
        #expect(try LedgerLocation("postgres://db/purser") == .postgres(url: "postgres://db/purser"))
        #expect(
            try LedgerLocation("postgresql://purser@db:5432/purser?sslmode=verify-full")
                == .postgres(url: "postgresql://purser@db:5432/purser?sslmode=verify-full"))
        // A user name alone, or an '@' in the path or query, is not a password.
        #expect(try LedgerLocation("postgres://purser@db/l?application_name=a:b@c").isPostgres)
        #expect(try LedgerLocation("postgres://purser@db?application_name=a:b@c").isPostgres)
    }

    @Test(
        "a password in the user part or as a parameter is refused, and the error does not repeat it",
        arguments: [
            "postgres://purser:pw-XYZZY@db/purser", "postgresql://:pw-XYZZY@db/purser",
            "postgres://db/purser?password=pw-XYZZY", "postgres://db/purser?sslmode=disable&PASSWORD=pw-XYZZY",
            "POSTGRES://u:pw-XYZZY@db/l", "postgres://db/l?pass%77ord=pw-XYZZY",
            // libpq reads these on bytes (checked with PQconninfoParse, libpq 15): a combining mark after ":",
            // "=" or the scheme's "/" hides nothing from it, and its user part runs past a "?" up to the "@".
            "postgres://u:\u{301}pw-XYZZY@db/l", "postgres://db/l?password=\u{301}pw-XYZZY",
            "postgres://\u{301}u:pw-XYZZY@db/l", "postgres://u?:pw-XYZZY@db/l",
        ])
    func password(url: String) {
        #expect {
            _ = try LedgerLocation(url)
        } throws: { error in
            guard let error = error as? LedgerError else { return false }
            return error.code == .configuration && error.message.contains("PGPASSWORD")
                && !error.message.contains("XYZZY")
        }
    }

    @Test("an empty location or one with control characters is refused")
    func malformed() {
        #expect(throws: LedgerError.self) { try LedgerLocation("") }
        #expect(throws: LedgerError.self) { try LedgerLocation("postgres://db/l\nx") }
    }
}
